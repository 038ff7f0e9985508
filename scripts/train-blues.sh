#!/usr/bin/env bash
# Trains the shipped checkpoints/blues improviser: a chord-conditioned 2x256 LSTM on 3,000 choruses of the
# procedural blues corpus (studio.music.leadsheet.procedural, seed 0) plus the Impro-Visor blues lead sheets in
# ../shared/corpora/blues (the ones that parse: 4/4 with a melody). 1,800 steps: about 8 minutes on a quiet 2-core CPU.
# Usage: scripts/train-blues.sh [OUT]    then: cp OUT/best/* checkpoints/blues/
set -euo pipefail
out=${1:-runs/blues}
blues=../shared/corpora/blues
corpus=(); [ -d "$blues" ] && corpus=(--corpus "$blues")
studio train leadsheet "${corpus[@]}" --procedural 3000 --procedural-seed 0 --out "$out" \
  --cell lstm --layers 2 --hidden 256 --embedding 32 --dropout 0.2 \
  --batch-size 32 --seq-len 192 --lr 3e-3 --weight-decay 0.05 --grad-clip 1 --warmup 100 --schedule cosine \
  --max-steps 1800 --eval-every 200 --seed 1337 --save-dtype float16 --device cpu
