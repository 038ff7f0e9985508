"""``studio eval`` for piano-roll models: nats per frame on a JSON data set of splits or on a folder of music.

A JSON data set (the Boulanger-Lewandowski layout of ``../shared/corpora/polyphonic``: ``{"train", "valid",
"test"}``, each a list of pieces of MIDI numbers per frame) is scored as it is, on its test split unless told
otherwise (all of it when it has none): that is how the cards' test figures were taken. Music files are read on
the model's frame grid and moved to its key and register first, as composing and fine-tuning move them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from studio.errors import StudioError
from studio.music.io.corpus import skipped_entries, whole_folder
from studio.music.pianoroll.compose import input_shift, load_roll_model, shift_roll
from studio.music.pianoroll.training import evaluate_rolls, load_splits, music_rolls

SPLITS = ("auto", "all", "train", "valid", "test")


def score_rolls(model: str | Path, corpus: str | Path, split: str = "auto", device: str = "cpu") -> dict[str, Any]:
    """A JSON-ready report of piano-roll ``model`` on ``corpus``: ``nats_per_frame`` (its ``unit``) over ``items``
    pieces, and the files ``skipped`` with their reasons."""
    if split not in SPLITS:
        raise StudioError(f"--split must be one of {', '.join(SPLITS)} for a piano-roll model; got {split!r}")
    rolls_model = load_roll_model(model, device=device)
    path = Path(corpus)
    skipped: list[str] = []
    if path.suffix.lower() == ".json":
        splits = load_splits(path)
        chosen = ("test" if splits["test"] else "all") if split == "auto" else split
        rolls = [r for part in splits.values() for r in part] if chosen == "all" else splits[chosen]
        moved = False
    else:
        chosen, moved = whole_folder(split), True
        _, found, skipped = music_rolls([path], rolls_model.frames_per_beat)
        rolls = [shift_roll(r, input_shift(rolls_model, r), drop=True) for r in found]
    if not rolls:
        why = f" ({'; '.join(skipped[:3])})" if skipped else ""
        raise StudioError(f"nothing in {corpus} to score ({chosen} split){why}")
    return {"model": str(model), "corpus": str(corpus), "kind": "piano_roll", "unit": "nats_per_frame",
            "nats_per_frame": evaluate_rolls(rolls_model.model, rolls), "items": len(rolls), "item": "pieces",
            "frames": int(sum(r.shape[0] for r in rolls)), "split": chosen, "moved_to_model_key": moved,
            "skipped": skipped_entries(skipped)}
