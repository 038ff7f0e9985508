"""A step loop in blocks: ``eval_every`` optimiser steps, then an evaluation, ``best/`` when it improved, and the
exact state in ``last/`` (``studio.training.epoch_state``; a block is the loop's "epoch").

For models that train on batches drawn by the family itself, outside the token Trainer: the Neural Turing Machine
on its algorithmic tasks (``studio.memory``) and DRAW on binarized MNIST (``studio.sketch``). The family says how to
take one step's loss, how to evaluate, how to save the best weights and what a row of the history holds; the loop
keeps the budgets (steps, minutes, patience), the clipping and the checkpoints, so a run killed at any moment
resumes from its last evaluation with the same losses as a run never stopped.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import torch

from studio.checkpoint import Bundle, read_bundle
from studio.config import _Config, check_range
from studio.errors import StudioError
from studio.training.epoch_state import EpochLoop, load_loop, save_loop

C = TypeVar("C", bound="BlockTrainConfig")


@dataclass
class BlockTrainConfig(_Config):
    """The settings every block loop shares; a family's config adds its own fields and may change the defaults."""

    batch_size: int = 32           # examples a step
    lr: float = 1e-3               # Adam's learning rate
    grad_clip: float = 10.0        # global gradient-norm clip; 0 turns it off
    max_steps: int = 20_000        # optimiser steps budget
    minutes: float = 0.0           # wall-clock budget (0: none)
    eval_every: int = 250          # steps between evaluations and checkpoints
    patience: int = 0              # evaluations without improvement before stopping (0: never)
    seed: int = 0                  # seeds the weights and the data

    def validate(self) -> None:
        check_range("batch_size", self.batch_size, 1, 65_536, integer=True)
        check_range("lr", self.lr, 0.0, 1.0, low_open=True)
        check_range("grad_clip", self.grad_clip, 0.0, 1e9)
        check_range("max_steps", self.max_steps, 1, 100_000_000, integer=True)
        check_range("minutes", self.minutes, 0.0, 1e6)
        check_range("eval_every", self.eval_every, 1, 1_000_000, integer=True)
        check_range("patience", self.patience, 0, 100_000, integer=True)
        check_range("seed", self.seed, 0, 2**31 - 1, integer=True)


@dataclass
class BlockRun:
    """What a block loop trains and where it writes."""

    out: Path                                   # the run folder (best/ and last/ go in it)
    card: dict[str, Any]                        # the card written with every checkpoint
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    generator: torch.Generator                  # the data generator, saved with the state
    config: BlockTrainConfig                    # budgets, clipping, evaluation interval


def resumed_config(bundle: Bundle, config_type: type[C], given: C | None) -> C:
    """The training config a resumed run goes on with: its own, but with the budgets (``minutes``, the whole run's,
    and ``max_steps``) of ``given`` when the caller gives a config, so a run can be continued for longer."""
    stored = config_type.from_dict(bundle.card["train_config"])
    if given is None:
        return stored
    return dataclasses.replace(stored, minutes=given.minutes, max_steps=given.max_steps)


def open_run(out: Path, resume: bool, kind: str, what: str) -> Bundle | None:
    """The ``last/`` bundle of the run in ``out`` to resume (its card's ``model_kind`` must be ``kind``, ``what``
    says it in words), or None for a new run, which must not overwrite an old one."""
    if resume:
        bundle = read_bundle(out / "last", with_state=True)
        if bundle.card.get("model_kind") != kind:
            raise StudioError(f"{out / 'last'} is not {what} run")
        return bundle
    if (out / "last").exists() or (out / "best").exists():
        raise StudioError(f"{out} already holds a training run; pass --resume to continue it, or choose another --out")
    return None


def train_in_blocks(run: BlockRun, resume: Bundle | None, loss_at: Callable[[int], torch.Tensor],
                    evaluate: Callable[[], dict[str, float]], key: str,
                    save_best: Callable[[dict[str, torch.Tensor], dict[str, float], int, float], None],
                    make_row: Callable[[float, dict[str, float]], dict[str, Any]],
                    on_eval: Callable[[dict[str, Any]], None] | None = None) -> EpochLoop:
    """Train ``run.model`` until a budget ends; returns the loop's counters and history.

    ``loss_at(step)`` is the loss of global step ``step`` (a tensor to back-propagate); ``evaluate()`` scores the
    model (lower ``metrics[key]`` is better); ``save_best(weights, metrics, steps, seconds)`` writes ``best/``;
    ``make_row(mean training loss, metrics)`` gives a history row (the loop adds ``step``, ``improved`` and
    ``elapsed_s``), handed to ``on_eval`` too. A run that reached no evaluation is a ``StudioError``.
    """
    model, config = run.model, run.config
    loop, best_state = EpochLoop(), {k: v.detach().clone() for k, v in model.state_dict().items()}
    if resume is not None:
        loop, best_state = load_loop(resume, model, run.optimizer, run.generator)
    steps = loop.epoch * config.eval_every
    started = time.monotonic()
    while steps < config.max_steps:
        if config.minutes and loop.elapsed_s + time.monotonic() - started >= config.minutes * 60:
            break
        model.train()
        total = 0.0
        block = min(config.eval_every, config.max_steps - steps)
        for step in range(steps, steps + block):
            loss = loss_at(step)
            run.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            run.optimizer.step()
            total += float(loss.detach())
        steps += block
        metrics = evaluate()
        loop.epoch += 1
        loop.elapsed_s += time.monotonic() - started
        started = time.monotonic()
        improved = metrics[key] < loop.best - 1e-9
        if improved:
            loop.best, loop.best_epoch, loop.since_best = metrics[key], loop.epoch, 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            save_best(best_state, metrics, steps, loop.elapsed_s)
        else:
            loop.since_best += 1
        row = {"step": steps, **make_row(total / block, metrics), "improved": improved,
               "elapsed_s": round(loop.elapsed_s, 1)}
        loop.history.append(row)
        save_loop(run.out / "last", run.card, model, run.optimizer, best_state, run.generator, loop)
        if on_eval is not None:
            on_eval(row)
        if config.patience and loop.since_best >= config.patience:
            break
    if not (run.out / "best").exists():
        raise StudioError("no evaluation was reached within the budget: give it more --minutes or --max-steps")
    return loop


__all__ = ["BlockRun", "BlockTrainConfig", "open_run", "resumed_config", "train_in_blocks"]
