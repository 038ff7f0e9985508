"""``studio eval`` for REMI (polyphonic) models: nats per token on a folder of MIDI, MusicXML, ABC or kern files.

Every piece is tokenised as in training (BOS ... EOS, every track merged into one piano part) and the pieces are
scored as one stream laid in side-by-side rows, the state carried within each row, as training validates.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from studio.errors import StudioError
from studio.loading import load_model
from studio.music.io.corpus import load_music_files, skipped_entries, whole_folder
from studio.music.remi.tokenizer import PolyTokenizer
from studio.training.evaluate import evaluate_loss, loss_metrics

ROWS, WINDOW = 16, 256  # the stream's side-by-side rows and the window the state is carried across


def score_remi(model: str | Path, corpus: str | Path, split: str = "auto", device: str = "cpu") -> dict[str, Any]:
    """A JSON-ready report of REMI ``model`` on the music files of ``corpus``: ``nats_per_token`` (its ``unit``)
    over ``items`` pieces, and the files ``skipped`` with their reasons."""
    chosen = whole_folder(split)
    loaded = load_model(model, device=device, read_tokenizer=PolyTokenizer.from_dict, kind="polyphonic")
    pieces, skipped = load_music_files([corpus])
    ids = [t for _, midi in pieces for t in loaded.tokenizer.encode(midi)]
    if len(ids) < 2:
        why = f" ({'; '.join(skipped[:3])})" if skipped else ""
        raise StudioError(f"nothing in {corpus} to score{why}")
    device_ = next(loaded.model.parameters()).device
    nats, count = evaluate_loss(loaded.model, torch.tensor(ids, dtype=torch.long), ROWS, WINDOW, device_)
    metrics = loss_metrics(nats, count)
    return {"model": str(model), "corpus": str(corpus), "kind": "polyphonic", "unit": "nats_per_token",
            **metrics, "items": len(pieces), "item": "pieces", "split": chosen,
            "skipped": skipped_entries(skipped)}
