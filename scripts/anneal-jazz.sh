#!/usr/bin/env bash
# The second stage of the shipped jazz soloist: adds the pitch heads (chord and interval, at zero) to a soloist
# trained by scripts/train-jazz.sh and trains the whole 600 more steps at a low learning rate (5e-4, cosine to 0).
# From scratch the heads overfit sooner (BENCHMARKS.md); added to a trained soloist they lower its validation loss.
# Usage: scripts/anneal-jazz.sh [BASE_RUN] [OUT] [more flags, e.g. --pitch-heads none for the same stage without]
# then python scripts/ship_music_model.py --run OUT --name jazz ...
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:-runs/jazz}
out=${2:-runs/jazz-heads}
shift $(( $# < 2 ? $# : 2 ))
corpus=${JAZZ_CORPUS:-../shared/corpora/jazz}
resume=()
[ -d "$out/last" ] && resume=(--resume)
OMP_NUM_THREADS=${THREADS:-1} exec .venv/bin/python -m studio train jazz --corpus "$corpus" --out "$out" \
    "${resume[@]}" --init-from "$base/best" --pitch-heads chord,interval \
    --batch-size 64 --seq-len 128 --lr 5e-4 --warmup 50 --weight-decay 0.01 --schedule cosine \
    --max-steps 600 --eval-every 150 --seed 7 --device cpu --save-dtype float16 "$@"
