"""Benchmark scripts whose real run needs a GPU, checked on the CPU so they work when a GPU session runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_cuda_graph_generation_loop_draws_what_the_eager_loop_draws() -> None:
    # On the CPU nothing is captured, but the static-buffer loop that a CUDA graph would replay runs the same
    # arithmetic: from the same noise it must write the same tokens as the step called from Python.
    out = subprocess.run([sys.executable, "benchmarks/generation_cuda_graphs.py", "--device", "cpu", "--length", "40",
                          "--reps", "1", "--json"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["identical_tokens"] is True and result["captured"] is False
    assert result["sample"].startswith("A") and len(result["sample"]) == 41  # one character per token
    assert all(result[f"{name}_tokens_per_s"] > 0 for name in ("generator", "eager", "graph"))
