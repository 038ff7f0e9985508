"""Training-step cost of the CP-LSTM and LN-LSTM stacks (``studio.models.cells``) against ``nn.LSTM``.

One training step of ``RNNLanguageModel`` (embedding, the recurrent stack, softmax layer, cross-entropy, backward,
AdamW) on random tokens, for each cell, at each shape. ``nn.LSTM`` runs PyTorch's fused kernels (oneDNN on the CPU,
cuDNN on a GPU); the other two run Studio's own forward and backward through time. Repetitions alternate between
the cells (lstm, cplstm, lnlstm, lstm, ...) so a busy machine slows them alike; the script prints the median seconds
per step of each and the ratio of medians to ``nn.LSTM``'s (goal: <= 2 on the 2-core CPU).

    OMP_NUM_THREADS=1 python benchmarks/cell_speed.py                 # the figures in BENCHMARKS.md
    python benchmarks/cell_speed.py --shapes 2x512:64x128 --reps 9 --json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

import torch
import torch.nn.functional as F

from studio.config import ModelConfig
from studio.models import RNNLanguageModel

CELLS = ("lstm", "cplstm", "lnlstm")
VOCAB, EMBEDDING = 65, 64  # a tiny-shakespeare character model (the char tokenizer's default embedding)


def parse_shape(text: str) -> tuple[int, int, int, int]:
    """"2x512:64x128" -> (layers 2, hidden 512, batch 64, steps 128)."""
    net, data = text.split(":")
    layers, hidden = (int(v) for v in net.split("x"))
    batch, steps = (int(v) for v in data.split("x"))
    return layers, hidden, batch, steps


def make_step(cell: str, layers: int, hidden: int, batch: int, steps: int, device: str):
    """A closure running one training step of a fresh model of ``cell``; the same tokens for every cell."""
    torch.manual_seed(0)
    model = RNNLanguageModel(ModelConfig(vocab_size=VOCAB, cell=cell, num_layers=layers, embedding_size=EMBEDDING,
                                         hidden_size=hidden)).to(device).train()
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-3)
    tokens = torch.randint(VOCAB, (batch, steps + 1), generator=torch.Generator().manual_seed(1)).to(device)

    def step() -> float:
        started = time.perf_counter()
        logits, _ = model(tokens[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), tokens[:, 1:].reshape(-1))
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        if device == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - started

    return step, model.num_parameters()


def measure(shape: str, reps: int, warmup: int, device: str) -> dict:
    layers, hidden, batch, steps = parse_shape(shape)
    runners = {cell: make_step(cell, layers, hidden, batch, steps, device) for cell in CELLS}
    for cell in CELLS:
        for _ in range(warmup):
            runners[cell][0]()
    times: dict[str, list[float]] = {cell: [] for cell in CELLS}
    for _ in range(reps):
        for cell in CELLS:
            times[cell].append(runners[cell][0]())
    median = {cell: statistics.median(values) for cell, values in times.items()}
    return {"shape": shape, "layers": layers, "hidden": hidden, "batch": batch, "steps": steps,
            "parameters": {cell: runners[cell][1] for cell in CELLS},
            "seconds_per_step": {cell: [round(v, 6) for v in values] for cell, values in times.items()},
            "median_seconds": {cell: round(v, 6) for cell, v in median.items()},
            "ratio_to_lstm": {cell: round(median[cell] / median["lstm"], 3) for cell in CELLS}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", default="2x512:64x128,1x128:32x64",
                        help="LAYERSxHIDDEN:BATCHxSTEPS, comma-separated (default: the 2x512 char model, and a "
                        "1x128 one)")
    parser.add_argument("--reps", type=int, default=7, help="timed steps per cell per shape (alternating)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per cell first")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1: a shared machine)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON line at the end")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    result = {"device": args.device, "threads": args.threads, "torch": torch.__version__,
              "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
              "mkldnn": torch.backends.mkldnn.is_available(), "reps": args.reps, "shapes": []}
    for shape in args.shapes.split(","):
        row = measure(shape, args.reps, args.warmup, args.device)
        result["shapes"].append(row)
        print(f"{shape}: " + ", ".join(f"{cell} {row['median_seconds'][cell]:.3f} s ({row['ratio_to_lstm'][cell]:.2f}x)"
                                       for cell in CELLS), flush=True)
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
