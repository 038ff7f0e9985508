#!/usr/bin/env bash
# Candidate Shakespeare models trained side by side on one GPU (the runs that produced the shipped one).
# Runs on the lent GPU machine from the repository root, with tiny-shakespeare at .device-data/input.txt; writes a
# tarball per candidate (best model, metrics.jsonl, loss.png, log) to $OUT.
# Usage: scripts/device-shakespeare-sweep.sh 'A=--layers 3 --hidden 512 --dropout 0.25 ...' 'B=...'
set -uo pipefail
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD
mkdir -p ../shared/corpora/tinyshakespeare && cp .device-data/input.txt ../shared/corpora/tinyshakespeare/input.txt
studio() { python3 -m studio "$@"; }
export -f studio
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"
common="--corpus ../shared/corpora/tinyshakespeare/input.txt --tokenizer char --cell lstm --embedding 64 \
  --batch-size 64 --seq-len 256 --lr 2e-3 --grad-clip 1 --warmup 200 --schedule cosine --eval-every 100 \
  --seed 1337 --save-dtype float16 --minutes ${MINUTES:-6}"
names=()
for spec in "$@"; do
  name=${spec%%=*}; flags=${spec#*=}; names+=("$name")
  bash -c "studio train text $common --out runs/$name $flags" > "runs-$name.log" 2>&1 &
done
wait
for x in "${names[@]}"; do
  echo "== $x"; grep -E "validation|done|error|Error" "runs-$x.log" | tail -3
  cp "runs-$x.log" "runs/$x/train.log"
  tar -C runs -cf "$OUT/cand-$x.tar" "$x/best" "$x/metrics.jsonl" "$x/loss.png" "$x/train.log"
done
