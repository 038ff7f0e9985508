#!/usr/bin/env bash
# Trains the shipped checkpoints/chorale model: a 2x256 LSTM over MidiTok REMI tokens of music21's Bach chorales
# (python corpora/make_chorales.py writes them as MIDI). Runs on a 2-core CPU in about 6 minutes.
# Usage: scripts/train-chorale.sh [OUT]    then: cp OUT/best/* checkpoints/chorale/
set -euo pipefail
out=${1:-runs/chorale}
[ -d runs/data/chorales ] || python corpora/make_chorales.py --out runs/data/chorales
studio train midi --corpus runs/data/chorales --out "$out" \
  --cell lstm --layers 2 --hidden 256 --embedding 96 --dropout 0.25 \
  --batch-size 32 --seq-len 128 --lr 3e-3 --weight-decay 0.05 --grad-clip 1 --warmup 100 --schedule cosine \
  --max-steps 100000 --minutes 6 --eval-every 100 --seed 1337 --save-dtype float16 --device cpu
