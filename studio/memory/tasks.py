"""The algorithmic tasks of the Neural Turing Machine paper (Graves et al. 2014, section 4): copy and associative
recall, as batches of random bit vectors drawn from a seeded ``torch.Generator``.

Every batch is ``(inputs, targets, mask)``: inputs (batch, time, input_size) of 0/1, targets (batch, time,
output_size) of 0/1, and mask (batch, time), 1 at the steps whose output is scored (the answer), 0 elsewhere. The
machine reads the whole input and is scored only where it must answer, as in the paper.

- copy: ``size`` random 8-bit vectors, then a step with only the delimiter channel on; then ``size`` blank steps
  during which the machine must write the vectors back. ``2 * size + 1`` steps.
- recall: ``size`` items of three random 6-bit vectors, each item led by a step with the item-delimiter channel on;
  then the query delimiter, one of the items (not the last) and the query delimiter again; then three blank steps
  during which the machine must give the item that followed the query. ``4 * size + 8`` steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from studio.errors import StudioError

Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class Task:
    """One algorithmic task: its widths, the sizes it trains on and the sizes it is tested on."""

    name: str
    input_size: int
    output_size: int
    train_sizes: tuple[int, int]    # sizes drawn uniformly (inclusive) for training and validation
    test_sizes: tuple[int, ...]     # sizes of the paper's generalisation test
    size_word: str                  # what a size counts ("vectors", "items")
    max_size: int                   # the largest size a batch may have (the test's longest, with room)

    def batch(self, batch: int, size: int, generator: torch.Generator) -> Batch:
        """``batch`` random sequences of ``size`` (see the module docstring)."""
        if not 1 <= size <= self.max_size or (self.name == "recall" and size < 2):
            low = 2 if self.name == "recall" else 1
            raise StudioError(f"{self.name} size must be in [{low}, {self.max_size}] {self.size_word}, got {size}")
        return (copy_batch if self.name == "copy" else recall_batch)(batch, size, generator)

    def train_batch(self, batch: int, generator: torch.Generator) -> Batch:
        """A training batch: its size drawn uniformly from ``train_sizes`` (one size a batch, so no padding)."""
        low, high = self.train_sizes
        size = int(torch.randint(low, high + 1, (1,), generator=generator))
        return self.batch(batch, size, generator)


COPY_BITS = 8
RECALL_BITS = 6
ITEM_VECTORS = 3
TASKS = {
    "copy": Task("copy", COPY_BITS + 1, COPY_BITS, (1, 20), (10, 20, 40, 80, 120), "vectors", 200),
    "recall": Task("recall", RECALL_BITS + 2, RECALL_BITS, (2, 6), (6, 10, 12, 15, 20), "items", 40),
}


def get_task(name: str) -> Task:
    """The task called ``name`` (copy or recall)."""
    if name not in TASKS:
        raise StudioError(f"task must be one of {', '.join(TASKS)}; got {name!r}")
    return TASKS[name]


def _bits(shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    return torch.randint(0, 2, shape, generator=generator).float()


def copy_batch(batch: int, size: int, generator: torch.Generator) -> Batch:
    """Copy: inputs (batch, 2*size+1, 9), targets (batch, 2*size+1, 8), mask (batch, 2*size+1)."""
    steps = 2 * size + 1
    data = _bits((batch, size, COPY_BITS), generator)
    inputs = torch.zeros(batch, steps, COPY_BITS + 1)
    inputs[:, :size, :COPY_BITS] = data
    inputs[:, size, COPY_BITS] = 1.0          # the delimiter: "now write it back"
    targets = torch.zeros(batch, steps, COPY_BITS)
    targets[:, size + 1:] = data
    mask = torch.zeros(batch, steps)
    mask[:, size + 1:] = 1.0
    return inputs, targets, mask


def recall_batch(batch: int, size: int, generator: torch.Generator) -> Batch:
    """Associative recall of ``size`` items: inputs (batch, 4*size+8, 8), targets (batch, 4*size+8, 6), mask."""
    item_steps = ITEM_VECTORS + 1
    steps = size * item_steps + 2 + ITEM_VECTORS + ITEM_VECTORS
    items = _bits((batch, size, ITEM_VECTORS, RECALL_BITS), generator)
    query = torch.randint(0, size - 1, (batch,), generator=generator)  # any item but the last has a successor
    inputs = torch.zeros(batch, steps, RECALL_BITS + 2)
    for i in range(size):
        start = i * item_steps
        inputs[:, start, RECALL_BITS] = 1.0                            # item delimiter
        inputs[:, start + 1:start + item_steps, :RECALL_BITS] = items[:, i]
    rows = torch.arange(batch)
    q = size * item_steps
    inputs[:, q, RECALL_BITS + 1] = 1.0                                 # query delimiter
    inputs[:, q + 1:q + 1 + ITEM_VECTORS, :RECALL_BITS] = items[rows, query]
    inputs[:, q + 1 + ITEM_VECTORS, RECALL_BITS + 1] = 1.0              # query delimiter again: "answer now"
    answer = q + 2 + ITEM_VECTORS
    targets = torch.zeros(batch, steps, RECALL_BITS)
    targets[:, answer:] = items[rows, query + 1]
    mask = torch.zeros(batch, steps)
    mask[:, answer:] = 1.0
    return inputs, targets, mask


def sequence_costs(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-sequence scores of a batch: ``nats`` (the summed binary cross-entropy of the answer, the training loss)
    and ``bit_errors`` (answer bits wrong when each output is rounded at 0.5), each (batch,).

    logits, targets : (batch, time, output_size); mask : (batch, time)
    """
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, targets, reduction="none").sum(-1)
    wrong = ((logits > 0).float() != targets).float().sum(-1)
    return {"nats": (bce * mask).sum(-1), "bit_errors": (wrong * mask).sum(-1)}


__all__ = ["TASKS", "Task", "copy_batch", "get_task", "recall_batch", "sequence_costs"]
