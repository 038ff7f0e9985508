#!/usr/bin/env bash
# Trains DRAW with read and write attention on binarized MNIST (Larochelle & Murray's fixed binarization, the data of
# Gregor et al. 2015): 16 glimpses, 5x5 read and write windows, encoder and decoder LSTMs of 256, z of 100, Adam 1e-3,
# batches of 100, an evaluation on all 10,000 validation images every 500 steps (one pass over the training images),
# the best by validation bound kept in OUT/best (fp16) and scored on the 10,000 test images when training stops (the
# card's metrics.test_nats_per_image; BENCHMARKS.md "DRAW"). One CPU thread. Run it again to continue: it resumes
# from OUT/last for a whole-run budget of MINUTES.
# Usage: scripts/train-draw.sh [OUT] [MINUTES]    then, to ship it: cp OUT/best/* checkpoints/draw/
set -euo pipefail
out=${1:-runs/draw}
minutes=${2:-360}
resume=()
if [ -f "$out/last/model.json" ]; then resume=(--resume); fi
OMP_NUM_THREADS=1 studio train draw --data ../shared/corpora/binarized-mnist/binarized_mnist.npz --out "$out" \
  --glimpses 16 --read-size 5 --write-size 5 --hidden 256 --latent 100 --batch-size 100 --lr 1e-3 \
  --grad-clip 100 --eval-every 500 --max-steps 1000000 --minutes "$minutes" --seed 0 --device cpu \
  --save-dtype float16 "${resume[@]}"
