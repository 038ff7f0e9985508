#!/usr/bin/env bash
# Issue 7's GPU work in one device call that ends inside 9.5 minutes (the device's limit per command is 10):
#   1. speed rows with the GPU to themselves: the Trainer against a raw cuDNN nn.LSTM loop (fp32 at two shapes, and
#      bf16 autocast on both sides), single-stream generation with and without CUDA graphs;
#   2. Zaremba et al.'s MEDIUM Penn Treebank LSTM, untied and tied, side by side (fp32, as published).
# (Tiny-shakespeare candidates are scripts/device-shakespeare-sweep.sh's job; BENCHMARKS.md gives their flags.)
#
# Prepare here, then run on the lent machine from the repository root:
#   mkdir -p .device-data/ptb && cp ../shared/corpora/ptb/ptb.*.txt .device-data/ptb/
#   device run, carry [".device-data"], timeout 600:  bash scripts/device-issue7.sh 6
# Results come back in $OUT: speed-train.json (one JSON line per shape), speed-generation.json, speed.err,
# ptb-medium.log, ptb-medium-tied.log (each ends with its JSON summary and table).
# The argument is PTB's training budget in minutes, cut to what the deadline leaves: if the 39 epochs do not fit,
# the log says how many did, and the figure is a budget figure, not the published recipe's.
# DEVICE=cpu runs the same steps on a CPU as a smoke test: DEVICE=cpu SMOKE=1 PTB_DATA=a-small-ptb bash scripts/device-issue7.sh 0.1
set -uo pipefail
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
deadline=${DEADLINE:-560}   # seconds from the start; everything below is sized to end before it
minutes=${1:-6}
device=${DEVICE:-cuda}
out=${OUT:-.device-out}
smoke=${SMOKE:-}            # shrinks every step to seconds (CPU smoke test)
mkdir -p "$out" ../shared/corpora/ptb
[ -d .device-data/ptb ] && cp .device-data/ptb/ptb.*.txt ../shared/corpora/ptb/
python=$(command -v python3)
[ -x .venv/bin/python ] && [ "$device" = cpu ] && python=.venv/bin/python
left() { echo $((deadline - SECONDS)); }
{
  [ "$device" = cuda ] && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  "$python" -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name() if torch.cuda.is_available() else 'cpu')"
} > "$out/speed.err" 2>&1

# 1. Speed, alone on the device (about a minute and a half).
small=""; [ -n "$smoke" ] && small="--reps 1 --steps 2"
for shape in "" "--hidden 720 --seq-len 256" "--hidden 720 --seq-len 256 --amp"; do
  echo "== train_overhead $shape" >> "$out/speed.err"
  timeout 60 "$python" benchmarks/train_overhead.py --device "$device" --json $shape $small \
    >> "$out/speed-train.json" 2>> "$out/speed.err"
done
echo "== generation_cuda_graphs" >> "$out/speed.err"
gsmall=""; [ -n "$smoke" ] && gsmall="--reps 1 --length 20"
timeout 60 "$python" benchmarks/generation_cuda_graphs.py --device "$device" --json $gsmall \
  > "$out/speed-generation.json" 2>> "$out/speed.err"
cat "$out"/speed-*.json; tail -n 5 "$out/speed.err"

# 2. PTB MEDIUM, untied and tied at once; each stops at its budget and then scores valid and test where it trained.
margin=60   # loading and scoring after the budget (seconds on a GPU)
[ "$device" = cpu ] && margin=900 deadline=$((deadline + 1500))
minutes=$(awk "BEGIN {m = $minutes; l = ($(left) - $margin) / 60; m = (m < l ? m : l); print (m > 0.1 ? m : 0.1)}")
limit=$(awk "BEGIN {print int($minutes * 60 + $margin)}")
echo "PTB: $minutes minutes of training each, killed after $limit s ($(left) s left)"
for tie in "" "--tie"; do
  name=ptb-medium${tie:+-tied}
  timeout "$limit" "$python" benchmarks/ptb.py --data "${PTB_DATA:-../shared/corpora/ptb}" --config medium $tie --device "$device" --minutes "$minutes" \
    --out "runs/$name" > "$out/$name.log" 2>&1 &
done
wait
tail -n 8 "$out"/ptb-medium*.log

echo "done with $(left) s to spare"
