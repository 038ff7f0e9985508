"""Fine-tune a piano-roll model (``jsb``, ``folk`` or one's own) on a folder of the user's music, or continue such a
run: the job behind ``studio finetune --base jsb`` and the page's Train tab for piano-roll models.

The run keeps its exact state in ``OUT/last`` after every epoch (``studio.training.epoch_state``), so a run
killed at any moment resumes with the same losses. The base model's validation loss on the user's pieces is epoch
0: a run in which no epoch beats it leaves no new model (``RollFinetune.path`` is None), never the base model saved
again under a new name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.checkpoint import bundle_exists, read_bundle
from studio.errors import StudioError
from studio.loading import DTYPES, PIANO_ROLL, resolve_model
from studio.music.pianoroll.compose import input_shift, load_roll_model, shift_roll
from studio.music.pianoroll.training import (
    RollResult,
    RollTrainConfig,
    rolls_from_music,
    save_roll_model,
    train_piano_roll,
    write_history,
)
from studio.training.state import data_fingerprint

BUDGETS = ("max_epochs", "minutes")  # what a resumed run may change
BUNDLE_KEYS = ("weights", "format", "format_version", "extras")  # card entries the bundle writer adds itself


def finetune_config(lr: float = 5e-4, batch_size: int = 32, weight_decay: float = 0.01, grad_clip: float = 1.0,
                    max_epochs: int = 500, minutes: float = 0.0, patience: int = 4, seed: int = 1337,
                    device: str = "cpu") -> RollTrainConfig:
    """``studio finetune``'s settings for a piano-roll base (the page uses the same): a gentle rate, early
    stopping after ``patience`` epochs without a better validation loss, the rate halved after half of them."""
    return RollTrainConfig(batch_size=batch_size, lr=lr, weight_decay=weight_decay, grad_clip=grad_clip,
                           max_epochs=max_epochs, minutes=minutes, patience=patience,
                           lr_patience=max(2, patience // 2), seed=seed, device=device)


@dataclass
class RollFinetune:
    """What fine-tuning a piano-roll model on a user's music produced."""

    result: RollResult
    path: Path | None          # the new bundle (OUT/best); None when no epoch beat the base model
    base_valid: float          # the base model's loss on the user's validation pieces (nats per frame)
    skipped: list[str]         # files that could not be used, with the reason


def finetune_rolls(base: str | Path, paths: Sequence[str | Path], out: str | Path, train_config: RollTrainConfig,
                   on_epoch: Callable[[dict[str, Any]], None] | None = None, dtype: str = "float32",
                   valid_fraction: float = 0.1, resume: bool = False) -> RollFinetune:
    """Fine-tune piano-roll model ``base`` on a folder (or files) of the user's music into ``out``/best, or continue
    the run in ``out`` (``resume``: ``train_config`` keeps its budgets, ``max_epochs`` and ``minutes``, and takes
    every other setting from the run; ``base`` and ``valid_fraction`` are the run's own).

    Each piece is moved to the base model's key and register first (``input_shift``, as composing does), so a
    model trained on chorales in C learns the user's pieces in its own terms; the new model keeps the base's data
    profile, and composing with it moves inputs and results exactly as before.
    """
    out = Path(out)
    if dtype not in DTYPES:  # before training, not after it
        raise StudioError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    bundle = _resumable(out, train_config) if resume else None
    if bundle is None and (bundle_exists(out / "best") or bundle_exists(out / "last")):
        raise StudioError(f"{out} already holds a run; continue it with --resume, or choose another --out")
    # The base model, or on resume the run's last state: the same data profile, so pieces move the same way.
    model = load_roll_model(out / "last" if bundle else base)
    if bundle is not None:
        valid_fraction = bundle.card["corpus"]["valid_fraction"]
    splits, skipped = rolls_from_music(paths, model.frames_per_beat, valid_fraction)
    moved = {split: [shift_roll(r, input_shift(model, r), drop=True) for r in rolls] for split, rolls in splits.items()}
    fingerprint = data_fingerprint(*moved["train"], *moved["valid"])
    if bundle is not None:
        card = {k: v for k, v in bundle.card.items() if k not in BUNDLE_KEYS}
        if card.get("data_sha256") != fingerprint:
            raise StudioError(f"the music at {', '.join(map(str, paths))} differs from the pieces the run in {out} "
                              "started on: resume with the same corpus, or start a new run")
    else:
        card = {"name": out.name, "model_kind": PIANO_ROLL, "model_config": model.model.config.to_dict(),
                "frames_per_beat": model.frames_per_beat, "data": model.card.get("data", {}),
                "corpus": {"paths": [str(p) for p in paths], "skipped": len(skipped), "valid_fraction": valid_fraction,
                           "train_pieces": len(moved["train"]), "valid_pieces": len(moved["valid"])},
                "finetuned_from": {"model": str(base), "path": str(resolve_model(base)),
                                   "weights_sha256": model.card.get("weights", {}).get("sha256", "")},
                "data_sha256": fingerprint}
    card["train_config"] = dict(vars(train_config))
    result = train_piano_roll(model.model.config, train_config, moved["train"], moved["valid"], on_epoch,
                              initial=None if bundle else model.model.state_dict(), last=out / "last", card=card,
                              resume=bundle)
    base_valid = result.history[0]["valid"]
    card["finetuned_from"]["valid_nats_per_frame"] = base_valid  # the base, on these pieces
    path = save_roll_model(result, out / "best", card, dtype=dtype) if result.best_epoch else None
    write_history(out, result.history)
    return RollFinetune(result, path, base_valid, skipped)


def _resumable(out: Path, train_config: RollTrainConfig) -> Any:
    """The run's last state, its settings copied into ``train_config`` (all but the budgets)."""
    if not bundle_exists(out / "last"):
        raise StudioError(f"nothing to resume in {out}: it holds no last/ checkpoint (a run stopped before its first "
                          "checkpoint starts again without --resume)")
    bundle = read_bundle(out / "last", with_state=True)
    if bundle.card.get("model_kind") != PIANO_ROLL or "loop" not in (bundle.state or {}):
        raise StudioError(f"{out} holds no piano-roll fine-tune to resume")
    for name, value in bundle.card["train_config"].items():
        if name not in BUDGETS:
            setattr(train_config, name, value)
    return bundle
