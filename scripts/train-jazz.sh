#!/usr/bin/env bash
# Trains the shipped jazz soloist (checkpoints/jazz) on the Weimar Jazz Database and the Omnibook, on the CPU.
# Usage: scripts/train-jazz.sh [OUT] [MINUTES] [more `studio train jazz` flags]; run again, it resumes an
# interrupted run from OUT/last. The shipped soloist then gets its pitch heads from scripts/anneal-jazz.sh.
# One thread (THREADS=1): on a shared 2-core machine two OpenMP threads per process thrash.
# Then: scripts/anneal-jazz.sh OUT OUT-heads, and scripts/ship_music_model.py --run OUT-heads --name jazz ...
# The shipped soloist (BENCHMARKS.md, "The tempo soloist"): scripts/train-jazz.sh runs/jazz-t 100 --patience 2, then
# scripts/anneal-jazz.sh runs/jazz-t runs/jazz-t-heads.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/jazz}
minutes=${2:-100}
shift $(( $# < 2 ? $# : 2 ))
corpus=${JAZZ_CORPUS:-../shared/corpora/jazz}
resume=()
[ -d "$out/last" ] && resume=(--resume)
OMP_NUM_THREADS=${THREADS:-1} exec .venv/bin/python -m studio train jazz --corpus "$corpus" --out "$out" "${resume[@]}" \
    --hidden 320 --layers 2 --embedding 64 --dropout 0.3 --dropout-embedding 0.1 \
    --batch-size 64 --seq-len 128 --lr 2e-3 --warmup 100 --weight-decay 0.01 --schedule cosine \
    --minutes "$minutes" --max-steps 100000 --eval-every 500 --seed 1337 --device cpu --save-dtype float16 "$@"
