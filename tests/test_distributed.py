"""Real multi-process training: torchrun with two CPU processes (gloo) against one process, same global batch."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from studio.checkpoint import read_bundle

REPO = Path(__file__).resolve().parent.parent
ARGS = ["train", "text", "--hidden", "32", "--layers", "2", "--embedding", "16", "--batch-size", "8", "--seq-len",
        "16", "--max-steps", "12", "--eval-every", "6", "--warmup", "2", "--device", "cpu"]


def _text() -> str:
    verse = ("When in the chronicle of wasted time\nI see descriptions of the fairest wights,\n"
             "And beauty making beautiful old rhyme\nIn praise of ladies dead and lovely knights,\n")
    return verse * 60


@pytest.mark.skipif(shutil.which("torchrun") is None and not (Path(sys.executable).parent / "torchrun").exists(),
                    reason="torchrun is not installed beside this Python")
def test_two_processes_match_one_process(tmp_path: Path) -> None:
    corpus = tmp_path / "sonnets.txt"
    corpus.write_text(_text(), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    torchrun = shutil.which("torchrun") or str(Path(sys.executable).parent / "torchrun")
    two = subprocess.run([torchrun, "--nproc_per_node=2", "--master_port=29517", "-m", "studio", *ARGS,
                          "--corpus", str(corpus), "--out", str(tmp_path / "two")],
                         env=env, capture_output=True, text=True, timeout=240)
    assert two.returncode == 0, two.stderr[-3000:]
    one = subprocess.run([sys.executable, "-m", "studio", *ARGS, "--corpus", str(corpus), "--out",
                          str(tmp_path / "one")], env=env, capture_output=True, text=True, timeout=240)
    assert one.returncode == 0, one.stderr[-3000:]
    a, b = read_bundle(tmp_path / "one" / "last").weights, read_bundle(tmp_path / "two" / "last").weights
    assert a.keys() == b.keys()
    for name in a:
        assert torch.allclose(a[name], b[name], atol=1e-5), name
    assert two.stdout.count("done (max_steps)") == 1  # only rank 0 reports
    # only rank 0 wrote: one metrics log with each step once
    steps = [line for line in (tmp_path / "two" / "metrics.jsonl").read_text().splitlines() if '"kind": "eval"' in line]
    assert len(steps) == 2


def test_batch_must_split_evenly() -> None:
    from studio.errors import StudioError
    from studio.training.distributed import DistInfo, check_batch

    assert check_batch(8, DistInfo(0, 2, 0)) == 4
    with pytest.raises(StudioError, match="multiple of the 3 processes"):
        check_batch(8, DistInfo(0, 3, 0))
