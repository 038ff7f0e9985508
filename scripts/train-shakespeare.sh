#!/usr/bin/env bash
# Trains the shipped checkpoints/shakespeare model: a character-level 3x512 LSTM on tiny-shakespeare, first 90% for
# training, last 10% for validation. It was run on one NVIDIA H200 (about 6 minutes); on a CPU it takes hours.
# Usage: scripts/train-shakespeare.sh [CORPUS] [OUT]    (then copy OUT/best to checkpoints/shakespeare)
set -euo pipefail
corpus=${1:-../shared/corpora/tinyshakespeare/input.txt}
out=${2:-runs/shakespeare}
studio train text --corpus "$corpus" --out "$out" --tokenizer char \
  --cell lstm --layers 3 --hidden 512 --embedding 64 --dropout 0.25 \
  --batch-size 64 --seq-len 256 --lr 2e-3 --weight-decay 0.1 --grad-clip 1 --warmup 200 --schedule cosine \
  --max-steps 2500 --minutes 6 --eval-every 100 --seed 1337 --save-dtype float16
