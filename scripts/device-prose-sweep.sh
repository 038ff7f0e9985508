#!/usr/bin/env bash
# Candidate prose models (BPE LSTMs on WikiText-2 as prose) trained side by side on one GPU: the run that produced
# checkpoints/prose. Runs on the lent GPU machine from the repository root, with the output of
# corpora/prepare_wikitext_prose.py at .device-data/wikitext-2-prose; writes one tarball per candidate to $OUT.
# Usage: scripts/device-prose-sweep.sh 'A=--vocab-size 4096 --embedding 512 ...' 'B=...'
set -uo pipefail
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD
mkdir -p runs/data && cp -r .device-data/wikitext-2-prose runs/data/
studio() { python3 -m studio "$@"; }
export -f studio
nvidia-smi --query-gpu=name --format=csv,noheader
common="--corpus runs/data/wikitext-2-prose/train.txt --valid-corpus runs/data/wikitext-2-prose/valid.txt \
  --tokenizer bpe --cell lstm --layers 2 --tie --batch-size 64 --seq-len 128 --lr 2e-3 --weight-decay 0.1 \
  --grad-clip 1 --warmup 200 --schedule cosine --eval-every 200 --seed 1337 --save-dtype float16 \
  --minutes ${MINUTES:-2}"
names=()
for spec in "$@"; do
  name=${spec%%=*}; flags=${spec#*=}; names+=("$name")
  bash -c "studio train text $common --out runs/$name $flags" > "runs-$name.log" 2>&1 &
done
wait
for x in "${names[@]}"; do
  echo "== $x"; grep -E "validation|done|error|Error" "runs-$x.log" | tail -3
  cp "runs-$x.log" "runs/$x/train.log"
  tar -C runs -cf "$OUT/prose-$x.tar" "$x/best" "$x/metrics.jsonl" "$x/loss.png" "$x/train.log"
done
