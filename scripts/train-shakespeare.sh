#!/usr/bin/env bash
# Trains the shipped checkpoints/shakespeare model: a character-level 2x720 LSTM on tiny-shakespeare, first 90% for
# training, last 10% for validation. The shipped model came from exactly these flags on one NVIDIA H200 (3000 steps
# in about 2 minutes; best validation at step 2600); on a 2-core CPU the same run takes several hours.
# Usage: scripts/train-shakespeare.sh [CORPUS] [OUT]    then: cp OUT/best/* checkpoints/shakespeare/
set -euo pipefail
corpus=${1:-../shared/corpora/tinyshakespeare/input.txt}
out=${2:-runs/shakespeare}
studio train text --corpus "$corpus" --out "$out" --tokenizer char \
  --cell lstm --layers 2 --hidden 720 --embedding 64 --dropout 0.45 \
  --batch-size 32 --seq-len 256 --lr 2e-3 --weight-decay 0.1 --grad-clip 1 --warmup 200 --schedule cosine \
  --max-steps 3000 --minutes 3.3 --eval-every 100 --seed 1337 --save-dtype float16
