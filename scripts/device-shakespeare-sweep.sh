#!/usr/bin/env bash
# Three candidate Shakespeare models trained side by side on one GPU (the run that produced the shipped one).
# Runs on the lent GPU machine from the repository root, with tiny-shakespeare at .device-data/input.txt; writes a
# tarball per candidate (best model, metrics.jsonl, loss.png, log) to $OUT.
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
bash -c "studio train text $common --out runs/A --layers 3 --hidden 512 --dropout 0.25 --weight-decay 0.1 --max-steps 2500" > runs-A.log 2>&1 &
bash -c "studio train text $common --out runs/B --layers 3 --hidden 512 --dropout 0.4 --weight-decay 0.01 --max-steps 3000" > runs-B.log 2>&1 &
bash -c "studio train text $common --out runs/C --layers 2 --hidden 720 --dropout 0.3 --weight-decay 0.1 --max-steps 2500" > runs-C.log 2>&1 &
sleep 75
for x in A B C; do echo "== $x after 75 s"; tail -3 runs-$x.log; done
wait
for x in A B C; do
  echo "== $x"; grep -E "validation|done|error|Error" runs-$x.log | tail -4
  cp runs-$x.log runs/$x/train.log
  tar -C runs -cf "$OUT/cand-$x.tar" "$x/best" "$x/metrics.jsonl" "$x/loss.png" "$x/train.log"
done
