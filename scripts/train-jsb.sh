#!/usr/bin/env bash
# Trains the shipped checkpoints/jsb model: a 1x300 LSTM piano-roll model on Boulanger-Lewandowski's JSB Chorales
# (standard splits; one frame per quarter note), each frame drawn from its top key down (--within-frame top_down:
# every key reads the keys above it in its frame through a masked linear map and 150 masked hidden units), selected on
# validation, tested on the test split (the card's metrics.test_nats_per_frame; BENCHMARKS.md "Polyphonic music").
# Early stopping ends it (~2 min CPU).
# Usage: scripts/train-jsb.sh [OUT]    then: cp OUT/best/* checkpoints/jsb/
set -euo pipefail
out=${1:-runs/jsb}
studio train rolls --data ../shared/corpora/polyphonic/json/jsb_chorales.json --frames-per-beat 1 --out "$out" \
  --cell lstm --layers 1 --hidden 300 --within-frame top_down --frame-hidden 150 --dropout 0.5 --lr 1e-2 \
  --weight-decay 1e-4 --batch-size 8 --minutes 0 --max-epochs 500 --patience 20 --seed 0 --threads 1 \
  --save-dtype float16
# The card names this script as its command, with the studio command it ran.
python - "$out/best/model.json" <<'PY'
import json, sys
card = json.load(open(sys.argv[1]))
card["command"] = f"scripts/train-jsb.sh  ({card['command']})"
json.dump(card, open(sys.argv[1], "w"), indent=2)
PY
