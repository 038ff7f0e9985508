"""``studio eval`` for lead-sheet models (the blues improviser): nats per 16th-note step on a folder of lead sheets.

Lead sheets (MIDI with a melody and a chord track, MusicXML/ABC with chord symbols, Impro-Visor ``.ls``) become the
streams training reads: one melody event per 16th-note step with the chord and bar position of that step, a bar of
rest before each piece (``sheets_to_streams``). The loss is reported per step (the model's own unit) and per melody
note (the same nats over the notes, a figure that does not depend on how finely time is cut).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from studio.errors import StudioError
from studio.loading import load_model
from studio.music.io.corpus import read_leadsheet_corpus, whole_folder
from studio.music.leadsheet.tokenizer import LeadSheetTokenizer
from studio.music.leadsheet.training import sheets_to_streams
from studio.training.evaluate import evaluate_loss

ROWS, WINDOW = 16, 256  # the stream's side-by-side rows and the window the state is carried across


def score_leadsheets(model: str | Path, corpus: str | Path, split: str = "auto",
                     device: str = "cpu") -> dict[str, Any]:
    """A JSON-ready report of lead-sheet ``model`` on the lead sheets of ``corpus``: ``nats_per_step`` (its
    ``unit``) and ``nats_per_note`` over ``items`` lead sheets, and the files ``skipped`` with their reasons."""
    chosen = whole_folder(split)
    loaded = load_model(model, device=device, read_tokenizer=LeadSheetTokenizer.from_dict, kind="leadsheet")
    sheets, report = read_leadsheet_corpus([corpus])
    skipped = [{"file": name, "reason": reason} for name, reason in report.skipped]
    if not sheets:
        why = f" ({'; '.join(line for line in report.lines()[:3])})" if skipped else ""
        raise StudioError(f"no lead sheet in {corpus} has melody notes to score{why}")
    moved: Counter[int] = Counter()
    streams = sheets_to_streams(sheets, loaded.tokenizer, moved=moved)
    conditions = {name: stream for name, stream in streams.items() if name != "tokens"}
    device_ = next(loaded.model.parameters()).device
    nats, steps = evaluate_loss(loaded.model, streams["tokens"], ROWS, WINDOW, device_, conditions=conditions)
    notes = sum(len(sheet.melody) for sheet in sheets)
    return {"model": str(model), "corpus": str(corpus), "kind": "leadsheet", "unit": "nats_per_step",
            "nats_per_step": nats / max(1, steps), "nats_per_note": nats / max(1, notes), "items": len(sheets),
            "item": "lead sheets", "steps": steps, "notes": notes, "split": chosen,
            "notes_moved_into_range": sum(moved.values()), "skipped": skipped}
