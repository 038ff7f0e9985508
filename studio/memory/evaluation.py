"""How a trained machine does at the paper's test sizes, and the picture of its memory at work.

``evaluate_sizes`` scores fresh seeded sequences of each size (the copy task: 10, 20, 40, 80, 120 vectors, where
training saw 1-20) in bits of cross-entropy and bit errors per sequence, and the share copied perfectly.
``weightings_png`` draws what the paper's figure 6 shows: the inputs and outputs of one sequence, and the write and
read weightings over time (each a column per step, a row per memory location), so one sees the write head walk
down the memory while the input comes in and the read head walk down it again while the copy goes out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from studio.memory.tasks import Task, sequence_costs
from studio.memory.training import LN2, Machine
from studio.models.ntm import NTM

EVAL_SEED = 20_141_020  # the paper's arXiv date: the same test sequences for every machine
FOCUS = 0.1             # a location is drawn when a head puts this much weight on it at some step (not the haze)


@torch.inference_mode()
def evaluate_sizes(model: Machine, task: Task, sizes: tuple[int, ...] | None = None, sequences: int = 100,
                   batch_size: int = 50, seed: int = EVAL_SEED) -> dict[int, dict[str, float]]:
    """Scores at each size (default the task's test sizes): ``bits_per_sequence``, ``bit_errors_per_sequence``,
    ``perfect`` (share of sequences without a wrong bit), over ``sequences`` fresh sequences a size."""
    model.eval()
    results = {}
    for size in sizes or task.test_sizes:
        generator = torch.Generator().manual_seed(seed + size)
        bits = errors = perfect = 0.0
        done = 0
        while done < sequences:
            count = min(batch_size, sequences - done)
            inputs, targets, mask = task.batch(count, size, generator)
            costs = sequence_costs(model(inputs), targets, mask)
            bits += float(costs["nats"].sum()) / LN2
            errors += float(costs["bit_errors"].sum())
            perfect += float((costs["bit_errors"] == 0).sum())
            done += count
        results[size] = {"bits_per_sequence": bits / done, "bit_errors_per_sequence": errors / done,
                         "perfect": perfect / done, "sequences": done}
    return results


@torch.inference_mode()
def weightings_png(model: NTM, task: Task, size: int, path: str | Path, seed: int = EVAL_SEED,
                   title: str = "") -> dict[str, Any]:
    """Draw one sequence's inputs, outputs and the write and read weightings over time to ``path`` (PNG).

    Only the memory locations the heads focus on (weight above ``FOCUS`` at some step, and two on either side)
    are drawn, as the paper crops its figure. Returns the sequence's bit errors and the locations shown.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    model.eval()
    inputs, targets, mask = task.batch(1, size, torch.Generator().manual_seed(seed + size))
    logits, weights = model(inputs, return_weightings=True)
    errors = float(sequence_costs(logits, targets, mask)["bit_errors"][0])
    write, read = weights["write"][0].T, weights["read"][0].T                    # (rows, time)
    used = ((write > FOCUS) | (read > FOCUS)).any(dim=1).nonzero().flatten()
    rows = write.shape[0]
    low, high = (max(int(used.min()) - 2, 0), min(int(used.max()) + 3, rows)) if used.numel() else (0, rows)
    outputs = torch.sigmoid(logits[0]) * mask[0].unsqueeze(-1)
    panels = [("inputs", inputs[0].T), ("outputs", outputs.T),
              (f"write weightings (locations {low}-{high - 1})", write[low:high]),
              (f"read weightings (locations {low}-{high - 1})", read[low:high])]
    heights = [max(p[1].shape[0], 4) for p in panels]
    fig, axes = plt.subplots(4, 1, figsize=(max(6.0, inputs.shape[1] * 0.08 + 2), 8),
                             gridspec_kw={"height_ratios": heights}, sharex=True)
    for ax, (name, image) in zip(axes, panels, strict=True):
        ax.imshow(image.numpy(), aspect="auto", cmap="gray_r", interpolation="nearest", vmin=0, vmax=1)
        ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
        ax.set_yticks([])
    axes[-1].set_xlabel("time step")
    fig.suptitle(title or f"{task.name}, {size} {task.size_word}: {errors:.0f} bit errors", fontsize=10)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return {"bit_errors": errors, "locations": [low, high - 1]}


__all__ = ["EVAL_SEED", "evaluate_sizes", "weightings_png"]
