#!/usr/bin/env bash
# Trains the shipped checkpoints/folk model: a 1x300 LSTM piano-roll model on the Nottingham folk-tune set
# (Boulanger-Lewandowski's standard splits; one frame per eighth note), each frame drawn from its top key down like
# jsb's (--within-frame top_down, 150 masked hidden units), length-bucketed batches, selected on validation and tested
# on the test split (the card's metrics.test_nats_per_frame; BENCHMARKS.md "Polyphonic music: Nottingham").
# Early stopping ends it (~22 min on one CPU thread).
# Usage: scripts/train-folk.sh [OUT]    then: cp OUT/best/* checkpoints/folk/
set -euo pipefail
out=${1:-runs/folk}
studio train rolls --data ../shared/corpora/polyphonic/json/nottingham.json --frames-per-beat 2 --out "$out" \
  --cell lstm --layers 1 --hidden 300 --within-frame top_down --frame-hidden 150 --dropout 0.5 --lr 1e-2 \
  --weight-decay 1e-4 --batch-size 8 --bucket --minutes 0 --max-epochs 500 --patience 20 --seed 0 --threads 1 \
  --save-dtype float16
# The card names this script as its command, with the studio command it ran.
python - "$out/best/model.json" <<'PY'
import json, sys
card = json.load(open(sys.argv[1]))
card["command"] = f"scripts/train-folk.sh  ({card['command']})"
json.dump(card, open(sys.argv[1], "w"), indent=2)
PY
