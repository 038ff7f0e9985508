"""The exact state of an epoch loop, saved as a run's ``last/`` after every epoch.

Models that train by epochs outside the Trainer (piano-roll models, ``studio.music.pianoroll.training``; the
call-and-response model, ``studio.music.trade.training``) keep their own resumable state here: the weights, the
AdamW moments, the best weights so far, the counters of early stopping and rate halving, the per-epoch history, and
the random generators (the data order and transpositions, and torch's, which draws the dropout masks). A run killed
at any moment, a checkpoint write included (bundles are written beside and renamed into place), resumes from its
last whole epoch and gives the same losses as a run never stopped.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from studio.checkpoint import Bundle, write_bundle
from studio.errors import StudioError
from studio.training.state import load_optimizer_state, load_rng_state, optimizer_state, rng_state

BEST = "best."  # prefix of the best weights among the state tensors


@dataclass
class EpochLoop:
    """What the loop carries from one epoch to the next, besides the model, optimiser and generators."""

    epoch: int = 0                  # epochs done (0: none yet; a fine-tune's base model is scored)
    best: float = math.inf          # best validation loss so far (a fine-tune starts at the base model's)
    best_epoch: int = 0             # the epoch that reached it (0: the base model)
    since_best: int = 0             # epochs without a better validation loss (early stopping)
    since_lr: int = 0               # epochs since the rate last halved or the loss improved
    elapsed_s: float = 0.0          # seconds of training so far, over every resumed part
    history: list[dict[str, Any]] = field(default_factory=list)  # one row per epoch


def save_loop(path: Path, card: dict[str, Any], model: torch.nn.Module, optimizer: torch.optim.Optimizer,
              best_state: dict[str, torch.Tensor], generator: torch.Generator, loop: EpochLoop) -> None:
    """Write the loop's state to the bundle folder ``path`` (atomically: the previous one stays whole until then)."""
    opt_json, opt_tensors = optimizer_state(optimizer)
    rng_json, rng_tensors = rng_state(generator)
    tensors = {**opt_tensors, **rng_tensors, **{BEST + k: v for k, v in best_state.items()}}
    counters = asdict(loop)
    counters["best"] = None if math.isinf(loop.best) else loop.best
    weights = {k: v.detach().to("cpu", torch.float32) for k, v in model.state_dict().items()}
    write_bundle(path, Bundle(card, weights, {"loop": counters, "optimizer": opt_json, "rng": rng_json}, tensors))


def load_loop(bundle: Bundle, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
              generator: torch.Generator) -> tuple[EpochLoop, dict[str, torch.Tensor]]:
    """Restore ``model``, ``optimizer`` and ``generator`` from a ``save_loop`` bundle; returns the loop's counters
    and the best weights so far."""
    if bundle.state is None or "loop" not in bundle.state:
        raise StudioError(f"checkpoint {bundle.path} holds no epoch-loop training state to resume from")
    device = next(model.parameters()).device
    try:
        model.load_state_dict({k: v.float().to(device) for k, v in bundle.weights.items()})
    except RuntimeError as err:
        raise StudioError(f"checkpoint {bundle.path}: the weights do not fit its model_config ({err})") from err
    load_optimizer_state(optimizer, bundle.state["optimizer"], bundle.state_tensors)
    load_rng_state(generator, bundle.state["rng"], bundle.state_tensors)
    counters = dict(bundle.state["loop"])
    counters["best"] = math.inf if counters["best"] is None else float(counters["best"])
    best = {k[len(BEST):]: v.to(device) for k, v in bundle.state_tensors.items() if k.startswith(BEST)}
    return EpochLoop(**counters), best
