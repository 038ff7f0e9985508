"""Train a Neural Turing Machine, or the LSTM set beside it, on an algorithmic task: a run folder out.

Batches are drawn fresh from a seeded generator at every step (the tasks are random bit vectors, so there is no
corpus and no epoch); one size a batch, drawn uniformly from the task's training sizes. Every ``eval_every`` steps
the machine is scored on a fixed validation set (seeded apart from the training data, every training size
equally), ``best/`` keeps the weights with the fewest bits per sequence, and ``last/`` the exact state (weights,
Adam's moments, the data generator, counters) through ``studio.training.epoch_state``, so a run killed at any
moment resumes from its last evaluation with the same losses as a run never stopped (``studio.training.blocks``).

Folders: ``OUT/best`` and ``OUT/last`` are bundles (safetensors + JSON card, ``model_kind`` ``memory_task``).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from studio.checkpoint import Bundle, read_bundle, write_bundle
from studio.config import check_choice, check_range
from studio.errors import StudioError
from studio.memory.tasks import Batch, Task, get_task, sequence_costs
from studio.models.ntm import NTM, NTMConfig
from studio.models.sequence_lstm import SequenceLSTM, SequenceLSTMConfig
from studio.training.blocks import BlockRun, BlockTrainConfig, open_run, resumed_config, train_in_blocks
from studio.training.state import seed_everything

KIND = "memory_task"       # the model_kind of these cards
MACHINES = ("ntm", "lstm")
LN2 = math.log(2.0)
Machine = NTM | SequenceLSTM


@dataclass
class MachineTrainConfig(BlockTrainConfig):
    """How a machine is trained on a task (the shared block-loop settings, and the validation set's size)."""

    valid_batches: int = 8         # validation batches of batch_size sequences (sizes spread over the training range)

    def validate(self) -> None:
        super().validate()
        check_range("valid_batches", self.valid_batches, 1, 10_000, integer=True)


def build_machine(machine: str, task: Task, config: dict[str, Any] | None = None) -> Machine:
    """An NTM or an LSTM for ``task``; ``config`` overrides the shape (a card's ``model_config``, or the CLI's)."""
    check_choice("machine", machine, MACHINES)
    widths = {"input_size": task.input_size, "output_size": task.output_size}
    given = dict(config or {})
    if any(given.get(k, v) != v for k, v in widths.items()):
        raise StudioError(f"the {task.name} task reads {task.input_size} and writes {task.output_size} bits a step; "
                          "the model config says otherwise")
    if machine == "ntm":
        return NTM(NTMConfig.from_dict({**given, **widths}))
    return SequenceLSTM(SequenceLSTMConfig.from_dict({**given, **widths}))


def validation_set(task: Task, config: MachineTrainConfig) -> list[Batch]:
    """The fixed validation batches: sizes spread evenly over the training range, drawn from their own seed."""
    generator = torch.Generator().manual_seed(config.seed + 1_000_003)
    low, high = task.train_sizes
    sizes = [low + round(i * (high - low) / max(config.valid_batches - 1, 1)) for i in range(config.valid_batches)]
    return [task.batch(config.batch_size, size, generator) for size in sizes]


@torch.inference_mode()
def score_batches(model: Machine, batches: list[Batch]) -> dict[str, float]:
    """Bits (of cross-entropy) and bit errors per sequence, averaged over every sequence of ``batches``."""
    was_training = model.training
    model.eval()
    bits = errors = count = 0.0
    for inputs, targets, mask in batches:
        costs = sequence_costs(model(inputs), targets, mask)
        bits += float(costs["nats"].sum()) / LN2
        errors += float(costs["bit_errors"].sum())
        count += inputs.shape[0]
    model.train(was_training)
    return {"bits_per_sequence": bits / count, "bit_errors_per_sequence": errors / count}


def train_machine(task_name: str, machine: str, out_dir: str | Path, model_config: dict[str, Any] | None = None,
                  train_config: MachineTrainConfig | None = None, resume: bool = False, command: str | None = None,
                  on_eval: Callable[[dict[str, Any]], None] | None = None) -> Path:
    """Train (or, with ``resume``, continue) ``machine`` (ntm or lstm) on ``task_name``; returns ``OUT/best``.

    A resumed run keeps its task, machine, shape and settings; only the budgets of ``train_config`` (``minutes``,
    the whole run's, and ``max_steps``) apply, when it is given."""
    out = Path(out_dir)
    bundle = open_run(out, resume, KIND, "a memory-task")
    if bundle is not None:
        task_name, machine = bundle.card["task"], bundle.card["machine"]
        model_config = bundle.card["model_config"]
        train_config = resumed_config(bundle, MachineTrainConfig, train_config)
        command = bundle.card["command"]
    task = get_task(task_name)
    tconf = train_config or MachineTrainConfig()
    seed_everything(tconf.seed)
    model = build_machine(machine, task, model_config)
    generator = torch.Generator().manual_seed(tconf.seed)
    valid = validation_set(task, tconf)
    card = {"name": out.name, "model_kind": KIND, "task": task.name, "machine": machine,
            "command": command or " ".join(["studio", *sys.argv[1:]]),
            "model_config": model.config.to_dict(), "train_config": tconf.to_dict(),
            "parameters": model.num_parameters()}
    run = BlockRun(out, card, model, torch.optim.Adam(model.parameters(), lr=tconf.lr), generator, tconf)

    def loss_at(step: int) -> torch.Tensor:  # a fresh batch from the saved generator: the data resume exactly
        inputs, targets, mask = task.train_batch(tconf.batch_size, generator)
        return sequence_costs(model(inputs), targets, mask)["nats"].mean()

    def save_best(state: dict[str, torch.Tensor], metrics: dict[str, float], steps: int, seconds: float) -> None:
        best = {**card, "metrics": {"valid_" + k: v for k, v in metrics.items()},
                "training": {"steps": steps, "seconds": round(seconds, 1)}}
        write_bundle(out / "best", Bundle(best, {k: v.detach().to("cpu", torch.float32) for k, v in state.items()}))

    def make_row(train_nats: float, metrics: dict[str, float]) -> dict[str, Any]:
        return {"train_bits_per_sequence": train_nats / LN2, "valid_bits_per_sequence": metrics["bits_per_sequence"],
                "valid_bit_errors_per_sequence": metrics["bit_errors_per_sequence"]}

    train_in_blocks(run, bundle, loss_at, lambda: score_batches(model, valid), "bits_per_sequence", save_best,
                    make_row, on_eval)
    return out / "best"


def load_machine(path: str | Path) -> tuple[Machine, Task, dict[str, Any]]:
    """A trained machine (eval mode, float32) with its task and card; ``path`` is a bundle or a run folder."""
    from studio.loading import resolve_model

    bundle = read_bundle(resolve_model(path))
    card = bundle.card
    if card.get("model_kind") != KIND:
        raise StudioError(f"{path} is not a memory-task model (train one with `studio train ntm`)")
    task = get_task(card["task"])
    model = build_machine(card["machine"], task, card["model_config"])
    try:
        model.load_state_dict({k: v.float() for k, v in bundle.weights.items()})
    except RuntimeError as err:
        raise StudioError(f"checkpoint {bundle.path}: the weights do not fit its model_config ({err})") from err
    return model.eval(), task, card


__all__ = ["KIND", "MACHINES", "MachineTrainConfig", "build_machine", "load_machine", "score_batches",
           "train_machine", "validation_set"]
