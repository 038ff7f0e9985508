#!/usr/bin/env bash
# Issue 7's GPU work in one device call that ends inside 9.5 minutes (the device's limit per command is 10): the GPU speed rows (training against a raw cuDNN loop,
# single-stream generation with and without CUDA graphs) with the GPU to themselves, then Zaremba et al.'s MEDIUM
# Penn Treebank LSTM untied and tied side by side (two small models share one GPU well).
#
# Prepare here, then run on the lent machine from the repository root:
#   mkdir -p .device-data/ptb && cp ../shared/corpora/ptb/ptb.*.txt .device-data/ptb/
#   device run, carry [".device-data"], timeout 600:  bash scripts/device-issue7.sh 7
# Results come back in $OUT: speed-train.json, speed-generation.json, ptb-medium.log, ptb-medium-tied.log (each
# PTB log ends with its JSON summary and table). The argument is the PTB training budget in minutes (at most what
# is left of the 9.5 minutes after the speed runs, less 2.5 for scoring): if the 39 epochs do not fit, the log says
# how many did, and the figure is a budget figure, not the published recipe's.
# DEVICE=cpu runs the same steps on a CPU as a smoke test (with a budget like 0.2).
set -uo pipefail
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
deadline=570   # seconds from the start; everything below is sized to end before it
minutes=${1:-7}
device=${DEVICE:-cuda}
out=${OUT:-.device-out}
mkdir -p "$out" ../shared/corpora/ptb
[ -d .device-data/ptb ] && cp .device-data/ptb/ptb.*.txt ../shared/corpora/ptb/
python=$(command -v python3)
[ -x .venv/bin/python ] && [ "$device" = cpu ] && python=.venv/bin/python
if [ "$device" = cuda ]; then
  nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
  "$python" -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"
fi
# Speed first, alone on the device (a minute or two).
timeout 100 "$python" benchmarks/train_overhead.py --device "$device" --json > "$out/speed-train.json" \
  2> "$out/speed-train.err"
timeout 100 "$python" benchmarks/generation_cuda_graphs.py --device "$device" --json \
  > "$out/speed-generation.json" 2> "$out/speed-generation.err"
tail -n 3 "$out"/speed-*.json "$out"/speed-*.err
# PTB MEDIUM, untied and tied at once; each stops at its budget and then scores the test set.
margin=150   # scoring valid and test after the budget: seconds on a GPU
[ "$device" = cpu ] && margin=900 deadline=1500
left=$((deadline - SECONDS - margin))
minutes=$(awk "BEGIN {m = $minutes; l = $left / 60; m = (m < l ? m : l); print (m > 0.1 ? m : 0.1)}")
limit=$(awk "BEGIN {print int($minutes * 60 + $margin)}")
echo "PTB: $minutes minutes of training each, killed after $limit s"
for tie in "" "--tie"; do
  name=ptb-medium${tie:+-tied}
  timeout "$limit" "$python" benchmarks/ptb.py --config medium $tie --device "$device" --minutes "$minutes" \
    --out "runs/$name" > "$out/$name.log" 2>&1 &
done
wait
tail -n 6 "$out"/ptb-medium*.log
