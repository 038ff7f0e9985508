"""A time budget for a whole run: reading, scoring the base model, training, the final evaluation and the samples.

A fine-tune of a few minutes (or half of one) must end on time on a busy 2-core CPU, whatever the corpus: scoring a
large base model on 300 KB of validation text once took longer than the whole budget. So before training, a forward
pass over a few rows of a training window is timed (scaled to the batch; the probe itself must stay cheap), and a
few one-token steps of the kind generation makes, and from them:

- validation gets about ``VALID_SHARE`` of what is left, spread over the evaluations the run will make (the base
  model's, one every ``eval_every`` steps, the final one): each evaluation reads a fixed, seeded sample of that
  many tokens (``TrainConfig.eval_sample_tokens``), or all of them when they fit;
- the samples written at the end get their time set aside, and the Trainer the rest (it keeps room for its last
  step and its final evaluation itself).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch

VALID_SHARE = 0.15        # of the time left before training, for all validation together
STEP_PER_FORWARD = 3.0    # a training step (forward, backward, optimiser) costs about three forward passes
SAMPLE_OVERHEAD_S = 1.0   # loading the new model and its n-gram index before the samples are written
PROBE_ROWS = 4            # rows of the timed window (forward time grows about linearly with rows on a CPU)
PROBE_STEPS = 8           # one-token steps timed for the samples


class Budget:
    """Wall-clock seconds for a whole run, counted from its creation; 0 seconds means no budget."""

    def __init__(self, seconds: float) -> None:
        self.seconds = float(seconds)
        self.started = time.monotonic()

    def spent(self) -> float:
        return time.monotonic() - self.started

    def left(self) -> float:
        """Seconds left (infinite without a budget; never below 0)."""
        return max(0.0, self.seconds - self.spent()) if self.seconds else math.inf


@dataclass
class Plan:
    """How a budgeted run spends its time (all in seconds, or tokens)."""

    sample_tokens: int        # validation tokens per evaluation (0: all of them)
    evaluations: int          # evaluations expected: the base model's, the periodic ones, the final one
    steps: int                # training steps expected
    step_s: float             # estimated seconds per training step
    samples_s: float          # seconds set aside for the samples at the end
    token_s: float            # estimated seconds per sampled token (the whole batch of samples)
    train_s: float            # what is left for the Trainer (steps and evaluations)


@torch.inference_mode()
def _forward_seconds(model: torch.nn.Module, inputs: torch.Tensor) -> float:
    """Seconds for one forward pass over ``inputs``, after a one-token pass that pays the one-time setup."""
    was_training = model.training
    model.eval()
    try:
        model(inputs[:1, :1])
        began = time.perf_counter()
        model(inputs)
        return time.perf_counter() - began
    finally:
        model.train(was_training)


@torch.inference_mode()
def _token_seconds(model: torch.nn.Module, rows: int) -> float:
    """Seconds per generated token for ``rows`` samples at once, stepped as the text Generator steps
    (``studio.models.single_step``), plus half as much again for drawing the tokens."""
    from studio.models.single_step import StepperCache

    was_training = model.training
    model.eval()
    try:
        stepper = StepperCache(model).for_rows(rows)
        state = stepper.convert_state(model.initial_state(rows))
        tokens = torch.zeros(rows, 1, dtype=torch.long)
        stepper(tokens, state)
        began = time.perf_counter()
        for _ in range(PROBE_STEPS):
            _, state = stepper(tokens, state)
        return 1.5 * (time.perf_counter() - began) / PROBE_STEPS
    finally:
        model.train(was_training)


def plan_run(model: torch.nn.Module, train_tokens: torch.Tensor, valid_tokens: int, batch_size: int, seq_len: int,
             max_steps: int, eval_every: int, seconds_left: float, sample_tokens: int = 0,
             samples: int = 0) -> Plan:
    """Plan a run of ``model`` that has ``seconds_left`` for everything still to come.

    Parameters
    ----------
    train_tokens : LongTensor, shape (n,)
        The training stream; its first window is the one timed.
    valid_tokens : int
        Length of the validation stream.
    sample_tokens, samples : int
        The samples written at the end: ``samples`` texts of ``sample_tokens`` tokens, drawn as one batch.
    """
    rows = max(1, min(PROBE_ROWS, batch_size, (train_tokens.numel() - 1) // max(1, seq_len)))
    width = max(1, min(seq_len, train_tokens.numel() - 1))
    window = train_tokens[: rows * width].view(rows, width)
    forward_s = _forward_seconds(model, window)
    tokens_per_s = window.numel() / max(forward_s, 1e-9)
    token_s = _token_seconds(model, samples) if samples else 0.0
    samples_s = SAMPLE_OVERHEAD_S + sample_tokens * token_s if samples else 0.0
    step_s = STEP_PER_FORWARD * forward_s * batch_size * seq_len / window.numel()
    valid_s = VALID_SHARE * max(0.0, seconds_left - samples_s)
    train_s = max(0.0, seconds_left - samples_s)
    steps = min(max_steps, int((train_s - valid_s) / max(step_s, 1e-9)))
    evaluations = 2 + steps // eval_every
    per_evaluation = int(valid_s * tokens_per_s / evaluations)
    sample = 0 if per_evaluation >= valid_tokens else max(seq_len, per_evaluation)
    return Plan(sample, evaluations, steps, step_s, samples_s, token_s, train_s)
