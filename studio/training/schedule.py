"""Learning-rate schedules: linear warm-up, then cosine decay, reduce-on-plateau, step decay, or constant.

A small class of our own rather than ``torch.optim.lr_scheduler``: the plateau rule needs validation results and
the warm-up must compose with it, and the whole state must be JSON for the checkpoint.
"""

from __future__ import annotations

import math
from typing import Any

from studio.config import TrainConfig


class LRSchedule:
    """The learning-rate multiplier for each optimiser step (1.0 means ``config.lr``)."""

    def __init__(self, config: TrainConfig) -> None:
        self.config = config
        self.plateau_scale = 1.0   # product of plateau decays so far
        self.best = math.inf       # best validation loss the plateau rule has seen
        self.bad_evals = 0         # evaluations since it improved

    def factor(self, step: int, time_fraction: float = 0.0) -> float:
        """Multiplier for optimiser step ``step`` (0-based).

        ``time_fraction`` is the share of a wall-clock budget already spent (0 without one): the cosine follows
        whichever budget, steps or minutes, will run out first, so a run cut by ``--minutes`` still anneals.
        Without a time budget the schedule depends on the step alone, which keeps runs exactly repeatable.
        """
        c = self.config
        if c.warmup_steps and step < c.warmup_steps:
            return (step + 1) / c.warmup_steps
        if c.schedule == "cosine":
            span = max(1, c.max_steps - c.warmup_steps)
            progress = min(1.0, max((step - c.warmup_steps) / span, time_fraction))
            return c.min_lr_ratio + (1 - c.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
        if c.schedule == "plateau":
            return self.plateau_scale
        if c.schedule == "step" and step >= c.decay_start:
            # Zaremba et al.'s epochs: full rate until decay_start, then decay_factor once more every decay_every.
            return c.decay_factor ** ((step - c.decay_start) // c.decay_every + 1)
        return 1.0

    def observe(self, valid_loss: float) -> bool:
        """Feed a validation loss to the plateau rule; True when it just decayed the rate."""
        if self.config.schedule != "plateau":
            return False
        if valid_loss < self.best - 1e-4:
            self.best, self.bad_evals = valid_loss, 0
            return False
        self.bad_evals += 1
        if self.bad_evals > self.config.plateau_patience:
            self.plateau_scale *= self.config.plateau_factor
            self.bad_evals = 0
            return True
        return False

    def state_dict(self) -> dict[str, Any]:
        return {"plateau_scale": self.plateau_scale, "best": None if math.isinf(self.best) else self.best,
                "bad_evals": self.bad_evals}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.plateau_scale = float(state["plateau_scale"])
        self.best = math.inf if state["best"] is None else float(state["best"])
        self.bad_evals = int(state["bad_evals"])
