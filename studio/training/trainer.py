"""The Trainer: truncated BPTT over contiguous streams, AdamW or SGD, clipping, schedules, evaluation, checkpoints.

It knows nothing model-specific beyond "tokens in, logits and state out", and reports through callbacks that
receive ``TrainEvent``s, so the CLI's progress bar, the metrics log and (later) the UI's live curve all hear the
same events (minGPT's Trainer).

Files a run writes into its output folder::

    best/           the best model so far by validation loss (a bundle ``studio write --model`` can load), with
                    the caller's extra tensor files (a text model's n-gram index, for the copy check)
    last/           the latest resumable state (weights, optimiser, schedule, data position, RNG)
    metrics.jsonl   one JSON object per event (written by ``studio.training.log.MetricsLog``)
    loss.png        the loss curve, redrawn at each evaluation
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

from studio import __version__
from studio.checkpoint import Bundle, write_bundle
from studio.config import ModelConfig, TrainConfig
from studio.errors import StudioError
from studio.loading import DTYPES, build_model, model_weights, pick_device
from studio.models import RNNLanguageModel, detach_state
from studio.training.batches import StreamBatcher, sample_spans
from studio.training.distributed import barrier, broadcast_code, check_batch, init_from_environment
from studio.training.evaluate import autocast_for, evaluate_loss, loss_metrics
from studio.training.schedule import LRSchedule
from studio.training.signals import stop_on_signals
from studio.training.state import (
    data_fingerprint,
    load_optimizer_state,
    load_rng_state,
    optimizer_state,
    rng_state,
    seed_everything,
)


class Tokenizer(Protocol):
    """What the Trainer needs of a tokenizer: its description for the model card (text or music, any kind)."""

    def to_dict(self) -> dict[str, Any]: ...


@dataclass
class TrainEvent:
    """One thing that happened during training.

    ``kind`` is one of ``start``, ``step``, ``eval``, ``checkpoint`` and ``end``; ``data`` holds its numbers
    (loss, lr, tokens_per_s, elapsed_s, eta_s, valid metrics, and at the end the reason training stopped).
    """

    kind: str
    step: int
    max_steps: int
    data: dict[str, Any] = field(default_factory=dict)


Callback = Callable[[TrainEvent], None]


@dataclass
class TrainResult:
    """How a run ended: steps done, best validation metrics, why it stopped, where its models are."""

    steps: int
    best_metrics: dict[str, Any]
    stop_reason: str
    best_path: Path
    last_path: Path
    elapsed_s: float
    base_metrics: dict[str, Any] | None = None  # fine-tuning: the base model's validation metrics before step 1

    def no_model(self, unit: str = "nats/token", data: str = "text") -> str:
        """Why a fine-tune left no new model, with what would help ("" when it made one, and for a run from
        scratch): its ``best/`` is written only when an evaluation beats the base model."""
        if self.base_metrics is None or self.best_metrics:
            return ""
        if not self.steps:
            return "the time budget ran out before the first training step; give it more minutes"
        return (f"no evaluation beat the base model's validation loss ({self.base_metrics['valid_nats_per_token']:.3f} "
                f"{unit}); give it more minutes or more {data}")


class Trainer:
    """Trains one language model on one token stream, validating on another.

    Parameters
    ----------
    model_config, train_config : ModelConfig, TrainConfig
    tokenizer : any tokenizer with ``to_dict``
        Stored in every checkpoint so the model is usable on its own.
    train_tokens, valid_tokens : LongTensor, shape (n,)
    out_dir : path
        Run folder (see the module docstring).
    card : dict
        Extra model-card content (corpus, command...), copied into every checkpoint.
    callbacks : list of callables taking a TrainEvent
    resume : Bundle, optional
        A ``last/`` bundle read with its state: training continues exactly where it stopped.
    valid_chars_per_token : float, optional
        Lets validation report bits per character for word and subword tokenizers.
    train_conditions, valid_conditions : dict of str to LongTensor, optional
        Streams aligned with the tokens, passed to the model by name (a music model's ``chords`` and
        ``positions``; see ``studio.text.corpus.StreamBatcher``).
    model_setup : callable, optional
        Called with the fresh model before training (a music model's chord feature table is filled here).
    best_extras : dict, optional
        Extra tensor files written beside every ``best/`` model (a text model's n-gram index of its training
        tokens, ``studio.text.ngrams.training_index``; a lead-sheet model's training phrases).
    base_metrics : dict, optional
        Fine-tuning: the base model's validation metrics when the caller has them; otherwise a run that starts
        from ``initial_weights`` measures them before its first step. Either way they are announced (a
        ``base_eval`` event) and returned in ``TrainResult.base_metrics``.
    """

    def __init__(self, model_config: ModelConfig, train_config: TrainConfig, tokenizer: Tokenizer,
                 train_tokens: torch.Tensor, valid_tokens: torch.Tensor, out_dir: str | Path,
                 card: dict[str, Any] | None = None, callbacks: list[Callback] | None = None,
                 resume: Bundle | None = None, valid_chars_per_token: float | None = None,
                 save_dtype: str = "float32", initial_weights: dict[str, torch.Tensor] | None = None,
                 train_conditions: dict[str, torch.Tensor] | None = None,
                 valid_conditions: dict[str, torch.Tensor] | None = None,
                 model_setup: Callable[[RNNLanguageModel], None] | None = None,
                 best_extras: dict[str, dict[str, torch.Tensor]] | None = None,
                 base_metrics: dict[str, Any] | None = None) -> None:
        self.model_config, self.config, self.tokenizer = model_config, train_config, tokenizer
        self.out_dir = Path(out_dir)
        self.card = dict(card or {})
        self.callbacks = list(callbacks or [])
        self.valid_chars_per_token = valid_chars_per_token
        if save_dtype not in DTYPES:
            raise StudioError(f"save dtype must be one of {', '.join(DTYPES)}, got {save_dtype!r}")
        self.save_dtype = DTYPES[save_dtype]
        c = train_config
        self.device = pick_device(c.device)
        self.dist = init_from_environment(self.device.type)
        if self.dist.enabled and self.device.type == "cuda":
            self.device = torch.device("cuda", self.dist.local_rank)
        self.rows = check_batch(c.batch_size, self.dist)  # this rank's share of every batch
        seed_everything(c.seed)
        self.model: RNNLanguageModel = build_model(model_config, initial_weights).to(self.device)
        # Fine-tuning (and not resuming): the base model's validation loss is measured first, the bar to beat.
        self.base_metrics: dict[str, Any] | None = base_metrics
        self._measure_base = initial_weights is not None and resume is None
        if model_setup is not None:  # e.g. fill a music model's chord feature table before training
            model_setup(self.model)
        # The module that runs forward passes: DDP averages gradients across ranks during backward.
        self.forward_model: torch.nn.Module = (
            DistributedDataParallel(self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
            if self.dist.enabled else self.model)
        self.batcher = StreamBatcher(train_tokens, c.batch_size, c.seq_len, train_conditions)
        self.valid_tokens = valid_tokens
        self.valid_conditions = valid_conditions
        # A sampled validation: spans of a few windows each, fixed by the seed, so every evaluation (and the base
        # model's) reads the same tokens.
        self.span_len = max(1, min(4 * c.seq_len, c.eval_sample_tokens))
        self.valid_spans = (sample_spans(valid_tokens.numel(), c.eval_sample_tokens, self.span_len, c.seed)
                            if c.eval_sample_tokens else None)
        self.card["data_sha256"] = data_fingerprint(train_tokens, valid_tokens)
        self.best_extras = dict(best_extras or {})
        self.optimizer = self._make_optimizer()
        self.schedule = LRSchedule(c)
        self.data_generator = torch.Generator().manual_seed(c.seed)
        # Position: optimiser steps done, epoch number, the epoch's window offset and next window index.
        self.step, self.epoch, self.offset, self.window_index = 0, 0, 0, 0
        self.tokens_seen, self.elapsed_before = 0, 0.0
        self.best_loss, self.best_metrics, self.evals_without_gain = math.inf, {}, 0
        self.hidden: tuple[torch.Tensor, ...] | None = None
        self._stop_reason = ""
        # Seconds the last step and the last evaluation (with its checkpoint writes) took: a time budget keeps
        # room for one more of each, so the run, final evaluation included, ends within it.
        self._step_s, self._eval_s = 0.0, 0.0
        self._start_epoch()
        if resume is not None:
            self._restore(resume)

    # -- setup ---------------------------------------------------------------------------------------------
    def _make_optimizer(self) -> torch.optim.Optimizer:
        # Decoupled weight decay on matrices only: decaying biases and the forget-gate bias undoes their init.
        decay = [p for p in self.model.parameters() if p.dim() >= 2]
        no_decay = [p for p in self.model.parameters() if p.dim() < 2]
        groups = [{"params": decay, "weight_decay": self.config.weight_decay},
                  {"params": no_decay, "weight_decay": 0.0}]
        fused = self.device.type == "cuda"
        if self.config.optimizer == "sgd":
            return torch.optim.SGD(groups, lr=self.config.lr, momentum=self.config.momentum, fused=fused)
        return torch.optim.AdamW(groups, lr=self.config.lr, betas=self.config.betas, fused=fused)

    def _start_epoch(self) -> None:
        self.offset = int(torch.randint(self.config.seq_len, (1,), generator=self.data_generator))
        if self.batcher.windows_per_epoch(self.offset) < 1:
            self.offset = 0
        self.window_index = 0
        self.hidden = None

    def add_callback(self, callback: Callback) -> None:
        self.callbacks.append(callback)

    def request_stop(self, reason: str = "stopped") -> None:
        """Ask the loop to stop after the current step and save a resumable checkpoint (thread-safe)."""
        self._stop_reason = reason

    def _emit(self, kind: str, **data: Any) -> None:
        if not self.dist.is_main:  # one voice: rank 0 reports for all
            return
        event = TrainEvent(kind, self.step, self.config.max_steps, data)
        for callback in self.callbacks:
            callback(event)

    # -- the loop --------------------------------------------------------------------------------------------
    def fit(self) -> TrainResult:
        """Train until ``max_steps``, the time budget, early stopping or an interrupt; always leave checkpoints."""
        c = self.config
        restore_signals = stop_on_signals(self)
        started = time.monotonic()
        self._first_step_this_run = self.step
        window_start, window_tokens = started, 0
        self.model.train()
        last_eval_step = -1
        try:
            self._emit("start", device=str(self.device), parameters=self.model.num_parameters(),
                       train_tokens=self.batcher.row_len * c.batch_size, valid_tokens=int(self.valid_tokens.numel()),
                       resumed=self.step > 0, out_dir=str(self.out_dir))
            if self._measure_base and self.step == 0:
                self._score_base(started)
            while True:
                reason = self._agree(self._stop_reason or self._budget_reason(started))
                if reason:
                    break
                step_started = time.monotonic()
                spent = self.elapsed_before + step_started - started
                loss, grad_norm = self._train_step(spent / (c.minutes * 60) if c.minutes else 0.0)
                window_tokens += c.batch_size * c.seq_len
                now = time.monotonic()
                self._step_s = now - step_started
                elapsed = self.elapsed_before + (now - started)
                rate = window_tokens / max(now - window_start, 1e-9)
                if now - window_start > 10.0:  # a sliding window keeps tokens/s current
                    window_start, window_tokens = now, 0
                self._emit("step", loss=loss, lr=self.optimizer.param_groups[0]["lr"], grad_norm=grad_norm,
                           tokens_per_s=rate, elapsed_s=elapsed, eta_s=self._eta(elapsed, started, now))
                if not math.isfinite(loss):
                    self._stop_reason = "diverged (loss is not finite); lower --lr or raise --grad-clip"
                if self.step % c.eval_every == 0:
                    self._evaluate_and_save(elapsed=self.elapsed_before + time.monotonic() - started)
                    last_eval_step = self.step
        finally:
            restore_signals()
        elapsed = self.elapsed_before + time.monotonic() - started
        if reason in ("interrupted", "stopped"):
            # Save without evaluating: an extra evaluation would change early-stopping and plateau state, and a
            # resumed run must continue exactly as if it had never stopped.
            self._save_last(elapsed)
            self._emit("checkpoint", path=str(self.out_dir / "last"), best=False)
        elif last_eval_step != self.step:
            self._evaluate_and_save(elapsed=elapsed)
        elapsed = self.elapsed_before + time.monotonic() - started  # the final evaluation counts too
        self.elapsed_before, self._stop_reason = elapsed, reason
        self._emit("end", reason=reason, best=self.best_metrics, elapsed_s=elapsed)
        barrier(self.dist)  # every rank leaves together, after rank 0's last writes (see distributed._leave_group)
        return TrainResult(self.step, self.best_metrics, reason, self.out_dir / "best", self.out_dir / "last",
                           elapsed, self.base_metrics)

    _REASONS = ("", "max_steps", "time budget", "early stopping", "interrupted", "stopped")

    def _agree(self, reason: str) -> str:
        """Every rank stops when rank 0 does (clocks and signals differ slightly between processes)."""
        if not self.dist.enabled:
            return reason
        code = self._REASONS.index(reason) if reason in self._REASONS else len(self._REASONS)
        code = broadcast_code(code, self.dist)
        return self._REASONS[code] if code < len(self._REASONS) else (reason or "stopped")

    def _budget_reason(self, started: float) -> str:
        c = self.config
        if self.step >= c.max_steps:
            return "max_steps"
        if c.minutes and (self.elapsed_before + time.monotonic() - started + self._step_s + self._eval_s
                          >= c.minutes * 60):
            return "time budget"
        if c.patience and self.evals_without_gain >= c.patience:
            return "early stopping"
        return ""

    def _eta(self, elapsed: float, started: float, now: float) -> float:
        c = self.config
        steps_this_run = max(1, self.step - self._first_step_this_run)
        per_step = (now - started) / steps_this_run
        eta = (c.max_steps - self.step) * per_step
        if c.minutes:
            eta = min(eta, max(0.0, c.minutes * 60 - elapsed))
        return eta

    def _train_step(self, time_fraction: float) -> tuple[float, float]:
        c = self.config
        if self.window_index >= self.batcher.windows_per_epoch(self.offset):
            self.epoch += 1
            self._start_epoch()
        inputs, targets = self.batcher.window(self.offset, self.window_index)
        conds = self.batcher.window_conditions(self.offset, self.window_index)
        # Data sharding: rank r trains on rows [r * rows, (r + 1) * rows) of every window, and carries their state.
        rows = slice(self.dist.rank * self.rows, (self.dist.rank + 1) * self.rows)
        conds = {name: view[rows].to(self.device, non_blocking=True) for name, view in conds.items()}
        inputs = inputs[rows].to(self.device, non_blocking=True)
        targets = targets[rows].to(self.device, non_blocking=True)
        self.window_index += 1
        lr = c.lr * self.schedule.factor(self.step, time_fraction)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        with autocast_for(self.device, c.amp):
            logits, hidden = self.forward_model(inputs, self.hidden, **conds)
        loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if c.grad_clip > 0:
            grad_norm = float(torch.nn.utils.clip_grad_norm_(self.model.parameters(), c.grad_clip))
        else:
            grad_norm = float(torch.linalg.vector_norm(
                torch.stack([p.grad.norm() for p in self.model.parameters() if p.grad is not None])))
        self.optimizer.step()
        self.hidden = detach_state(hidden)
        self.step += 1
        self.tokens_seen += inputs.numel() * self.dist.world
        return float(loss.detach()), grad_norm

    def validation_metrics(self, on_window: Callable[[int, int], None] | None = None) -> dict[str, Any]:
        """The model's loss on the validation stream (or its fixed sample) now: ``valid_nats_per_token``, bits,
        perplexity. ``on_window(done, total)`` hears the progress."""
        c = self.config
        nats, count = evaluate_loss(self.model, self.valid_tokens, c.batch_size, c.seq_len, self.device, c.amp,
                                    c.eval_tokens, self.valid_conditions, spans=self.valid_spans,
                                    span_len=self.span_len, on_window=on_window)
        return loss_metrics(nats, count, self.valid_chars_per_token, prefix="valid_")

    def _score_base(self, started: float) -> None:
        """Fine-tuning: the base model's validation loss is the bar to beat. Nothing is saved as ``best/`` unless
        an evaluation beats it, so a run that learned nothing leaves no new model. A first ``last/`` checkpoint
        follows, so a run killed from here on resumes without scoring the base again."""
        began = time.monotonic()
        if self.base_metrics is None:  # unless the caller measured it already
            self._emit("base_progress", done=0, total=0)
            self.base_metrics = self.validation_metrics(
                on_window=lambda done, total: self._emit("base_progress", done=done, total=total))
        self.best_loss = float(self.base_metrics["valid_nats_per_token"])
        self.card["base_valid"] = self.base_metrics  # every bundle's card records the bar it beat
        self._emit("base_eval", **self.base_metrics)
        self._save_last(self.elapsed_before + time.monotonic() - started)
        self._eval_s = time.monotonic() - began

    def _evaluate_and_save(self, elapsed: float) -> None:
        began = time.monotonic()
        metrics = self.validation_metrics()
        metrics.update(step=self.step, epoch=self.epoch, tokens_seen=self.tokens_seen, elapsed_s=elapsed)
        improved = metrics["valid_nats_per_token"] < self.best_loss - 1e-6
        if improved:
            self.best_loss, self.best_metrics, self.evals_without_gain = metrics["valid_nats_per_token"], metrics, 0
        else:
            self.evals_without_gain += 1
        decayed = self.schedule.observe(metrics["valid_nats_per_token"])
        self._emit("eval", **metrics, improved=improved, lr_decayed=decayed)
        if not self.dist.is_main:  # every rank evaluates (and so decides alike); rank 0 alone writes
            barrier(self.dist)
            return
        if improved:
            write_bundle(self.out_dir / "best", Bundle(self._card(elapsed), model_weights(self.model, self.save_dtype),
                                                       extras=dict(self.best_extras)))
        self._save_last(elapsed)
        barrier(self.dist)
        self._eval_s = time.monotonic() - began
        self._emit("checkpoint", path=str(self.out_dir / "last"), best=improved)

    # -- checkpoints -------------------------------------------------------------------------------------------
    def _card(self, elapsed: float) -> dict[str, Any]:
        card = dict(self.card)
        card.update(studio_version=__version__, model_config=self.model_config.to_dict(),
                    tokenizer=self.tokenizer.to_dict(), train_config=self.config.to_dict(),
                    metrics=dict(self.best_metrics), created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                    training={"steps": self.step, "tokens_seen": self.tokens_seen, "seconds": round(elapsed, 1),
                              "device": str(self.device), "parameters": self.model.num_parameters()})
        return card

    def _save_last(self, elapsed: float) -> None:
        if not self.dist.is_main:
            return
        opt_json, opt_tensors = optimizer_state(self.optimizer)
        rng_json, rng_tensors = rng_state(self.data_generator)
        tensors = {**opt_tensors, **rng_tensors}
        if self.hidden is not None:
            tensors.update({f"hidden.{i}": h for i, h in enumerate(self.hidden)})
        state = {"step": self.step, "epoch": self.epoch, "offset": self.offset, "window_index": self.window_index,
                 "tokens_seen": self.tokens_seen, "elapsed_s": elapsed, "best_loss": self.best_loss
                 if math.isfinite(self.best_loss) else None, "best_metrics": self.best_metrics,
                 "evals_without_gain": self.evals_without_gain, "schedule": self.schedule.state_dict(),
                 "optimizer": opt_json, "rng": rng_json}
        bundle = Bundle(self._card(elapsed), model_weights(self.model, torch.float32), state, tensors)
        write_bundle(self.out_dir / "last", bundle)

    def _restore(self, bundle: Bundle) -> None:
        state, tensors = bundle.state, bundle.state_tensors
        if state is None:
            raise StudioError(f"checkpoint {bundle.path} holds no training state to resume from")
        if bundle.card.get("data_sha256", self.card["data_sha256"]) != self.card["data_sha256"]:
            raise StudioError(f"the training data differ from the ones the run in {self.out_dir} started on (another "
                              "corpus, or other settings): resume with the same corpus, or start a new run")
        if self.base_metrics is None:  # a fine-tune's bar, scored before its first step
            self.base_metrics = bundle.card.get("base_valid")
        weights = {k: v.float() if v.is_floating_point() else v for k, v in bundle.weights.items()}
        self.model.load_state_dict(weights, strict=not self.model_config.tie_weights)
        load_optimizer_state(self.optimizer, state["optimizer"], tensors)
        self.schedule.load_state_dict(state["schedule"])
        load_rng_state(self.data_generator, state["rng"], tensors)
        self.step, self.epoch = int(state["step"]), int(state["epoch"])
        self.offset, self.window_index = int(state["offset"]), int(state["window_index"])
        self.tokens_seen, self.elapsed_before = int(state["tokens_seen"]), float(state["elapsed_s"])
        self.best_loss = math.inf if state["best_loss"] is None else float(state["best_loss"])
        self.best_metrics, self.evals_without_gain = dict(state["best_metrics"]), int(state["evals_without_gain"])
        hidden = [tensors[k] for k in sorted(k for k in tensors if k.startswith("hidden."))]
        # The carried state fits only the same rows per process; after a change of process count the windows
        # restart from a zero state (weights, optimiser and data position still resume exactly).
        fits = bool(hidden) and hidden[0].shape[1] == self.rows
        self.hidden = tuple(h.to(self.device) for h in hidden) if fits else None
