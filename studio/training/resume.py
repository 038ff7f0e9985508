"""Continue a Trainer run from its ``last/`` checkpoint: what a caller needs to rebuild the same Trainer.

Every job that trains through the Trainer (text, lead sheets, REMI; from scratch or fine-tuning) resumes the same
way: it reads the run's own settings back from ``OUT/last``, rebuilds its data from the same corpus, and hands the
bundle to ``Trainer(resume=...)``, which restores weights, optimiser, schedule, data position and random state and
checks that the data are the same (``Trainer.card["data_sha256"]``). Only the budgets may change.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from studio.checkpoint import Bundle, bundle_exists, read_bundle
from studio.config import ModelConfig, TrainConfig
from studio.errors import StudioError

# Card entries the Trainer (and the bundle writer) write themselves; the rest is the caller's and is handed back.
TRAINER_CARD_KEYS = frozenset({"studio_version", "model_config", "tokenizer", "train_config", "metrics", "created",
                               "training", "weights", "extras", "format", "format_version", "data_sha256"})
BUDGETS = ("max_steps", "minutes")  # the settings a resumed run may change


@dataclass
class Resumed:
    """A run's ``last/`` checkpoint, read for resuming."""

    bundle: Bundle                   # with its training state: ``Trainer(resume=bundle)``
    card: dict[str, Any]             # the caller's own card entries (corpus, command, base model ...)
    train_config: TrainConfig        # the run's, with the budget overrides
    model_config: ModelConfig

    @property
    def elapsed_s(self) -> float:
        """Seconds the run has trained so far."""
        return float(self.bundle.state["elapsed_s"])

    @property
    def step(self) -> int:
        return int(self.bundle.state["step"])


def read_resumable(out: str | Path, overrides: dict[str, Any] | None = None,
                   live: TrainConfig | None = None) -> Resumed:
    """Read ``out/last`` for resuming; ``overrides`` may set ``max_steps`` and ``minutes`` (the whole run's).

    ``live``, when given, is the config object a caller holds on to (the page's Stop shrinks its time budget while
    the run goes on): it keeps its own budgets and takes every other setting from the run, and is the config the
    resumed run uses.
    """
    last = Path(out) / "last"
    if not bundle_exists(last):
        raise StudioError(f"nothing to resume in {out}: it holds no last/ checkpoint (a run stopped before its first "
                          "checkpoint starts again without --resume)")
    bundle = read_bundle(last, with_state=True)
    card = bundle.card
    changed = {k: v for k, v in (overrides or {}).items() if k in BUDGETS and v is not None}
    stored = dict(card["train_config"], **changed)
    train_config = TrainConfig.from_dict({**stored, "betas": tuple(stored["betas"])})
    if live is not None:
        for name in (f.name for f in fields(TrainConfig) if f.name not in BUDGETS):
            setattr(live, name, getattr(train_config, name))
        train_config = live
    own = {k: v for k, v in card.items() if k not in TRAINER_CARD_KEYS}
    return Resumed(bundle, own, train_config, ModelConfig.from_dict(card["model_config"]))
