"""Training callbacks that write the run's record: ``metrics.jsonl`` and the ``loss.png`` curve."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from studio.training.trainer import TrainEvent


class MetricsLog:
    """Appends ``step`` and ``eval`` events to a JSONL file and redraws the loss curve at each evaluation.

    On a resumed run, lines from beyond the resumed step (written after the last checkpoint, before the crash)
    are dropped first, so the log reads as one uninterrupted run.
    """

    def __init__(self, out_dir: str | Path, every: int = 10) -> None:
        self.out_dir = Path(out_dir)
        self.path = self.out_dir / "metrics.jsonl"
        self.png = self.out_dir / "loss.png"
        self.every = every  # log every n-th step (evaluations always)

    def __call__(self, event: TrainEvent) -> None:
        if event.kind == "start":
            self.out_dir.mkdir(parents=True, exist_ok=True)
            self._truncate_after(event.step)
        elif event.kind == "step" and (event.step % self.every == 0 or event.step == 1):
            self._append({"kind": "step", "step": event.step, **_numbers(event.data)})
        elif event.kind == "eval":
            self._append({"kind": "eval", "step": event.step, **_numbers(event.data)})
            plot_loss_curve(self.path, self.png)
        elif event.kind == "end":
            self._append({"kind": "end", "step": event.step, "reason": event.data.get("reason", "")})
            plot_loss_curve(self.path, self.png)

    def _append(self, record: dict[str, Any]) -> None:
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")

    def _truncate_after(self, step: int) -> None:
        if not self.path.exists():
            return
        kept = [line for line in read_jsonl(self.path) if line.get("step", 0) <= step and line.get("kind") != "end"]
        tmp = self.path.with_suffix(".jsonl.tmp")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in kept), encoding="utf-8")
        os.replace(tmp, self.path)


def _numbers(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if isinstance(v, (int, float, bool, str))}


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Records of a metrics log; a torn last line (a crash mid-write) is ignored."""
    records = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records


def plot_loss_curve(jsonl: str | Path, png: str | Path) -> None:
    """Draw training loss (per logged step) and validation loss (per evaluation) against steps."""
    import matplotlib

    matplotlib.use("Agg")  # no display: render straight to a file
    import matplotlib.pyplot as plt

    records = read_jsonl(jsonl)
    train = [(r["step"], r["loss"]) for r in records if r.get("kind") == "step" and "loss" in r]
    valid = [(r["step"], r["valid_nats_per_token"]) for r in records if r.get("kind") == "eval"]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    if train:
        ax.plot(*zip(*train, strict=True), label="train", color="#4c72b0", linewidth=1, alpha=0.8)
    if valid:
        ax.plot(*zip(*valid, strict=True), label="validation", color="#dd8452", marker="o", markersize=3)
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats/token)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    tmp = Path(png).with_suffix(".tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    os.replace(tmp, png)
