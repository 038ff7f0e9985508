#!/usr/bin/env bash
# Trains the shipped checkpoints/jsb model: a 1x300 LSTM piano-roll model (88 sigmoids per quarter-note frame) on
# Boulanger-Lewandowski's JSB Chorales with the standard splits, selected on validation, tested on the test split
# (the card's metrics.test_nats_per_frame; BENCHMARKS.md "Polyphonic music"). Early stopping ends it (~1-3 min CPU).
# Usage: scripts/train-jsb.sh [OUT]    then: cp OUT/best/* checkpoints/jsb/
set -euo pipefail
out=${1:-runs/jsb}
studio train rolls --data ../shared/corpora/polyphonic/json/jsb_chorales.json --frames-per-beat 1 --out "$out" \
  --cell lstm --layers 1 --hidden 300 --dropout 0.3 --lr 1e-2 --weight-decay 1e-4 --batch-size 8 \
  --minutes 0 --max-epochs 500 --patience 20 --seed 0 --threads 1 --save-dtype float16
