"""``studio eval`` for the jazz soloist: nats per note (and its pitch and timing parts) on a folder of solos.

Which solos are scored: a folder that is the model's own training corpus (the same files, by hash) is scored on
the model's test split (the card lists its ids; a corpus too small to have one, on its validation solos), never on
solos it learned from; any other folder in the jazz layout is scored whole. ``split`` says it outright (``all``,
``train``, ``valid`` or ``test``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from studio.errors import StudioError
from studio.loading import load_model, pick_device
from studio.music.jazz.corpus import read_jazz_corpus
from studio.music.jazz.entries import apply_soloist_strength, check_soloist_strength
from studio.music.jazz.scoring import check_dynamic, score_solos, summary
from studio.music.jazz.tokenizer import JazzTokenizer
from studio.music.jazz.training import corpus_sha256, split_solos

SPLITS = ("auto", "all", "train", "valid", "test")


def evaluate_jazz(model: str | Path, corpus: str | Path, split: str = "auto", device: str = "cpu",
                  style: bool = True, soloist: bool = True, form: bool = True,
                  dynamic_lr: float | None = None, soloist_strength: float | None = None) -> dict[str, Any]:
    """Score a jazz model on the solos of ``corpus``; a JSON-ready dict naming its unit (``nats_per_note``).

    ``dynamic_lr`` also scores the solos with dynamic evaluation (``studio.music.jazz.scoring.dynamic_token_nll``)
    into ``dynamic_nats_per_note``; the unit's figure stays the static one the literature reports.
    ``soloist_strength`` (0..2) sets how strongly the model reads each solo's soloist entry
    (``studio.music.jazz.entries``); by default the model's own.

    Raises
    ------
    StudioError
        For a model that is not a jazz soloist, a folder not in the jazz layout, or an unknown split.
    """
    if split not in SPLITS:
        raise StudioError(f"split must be one of {', '.join(SPLITS)}; got {split!r}")
    if dynamic_lr is not None:
        check_dynamic(dynamic_lr)  # before anything loads
    if soloist_strength is not None:
        check_soloist_strength(soloist_strength)
    loaded = load_model(model, device=pick_device(device), read_tokenizer=JazzTokenizer.from_dict, kind="jazz")
    strength = apply_soloist_strength(loaded.model, loaded.card, soloist_strength)
    solos, report = read_jazz_corpus(corpus)
    own = loaded.card.get("corpus", {}).get("sha256") == corpus_sha256(corpus)
    chosen = ("test" if own else "all") if split == "auto" else split
    if chosen != "all":
        parts = split_solos(solos)
        if split == "auto" and not parts["test"]:  # a small corpus may have no test solo: its validation solos
            chosen = "valid"
        solos = parts[chosen]
    if not solos:
        raise StudioError(f"no solos of {corpus} are in the {chosen} split")
    where = next(loaded.model.parameters()).device
    scores = score_solos(loaded.model, loaded.tokenizer, solos, style, soloist, form, device=where)
    figures = summary(scores)
    if dynamic_lr is not None:
        adapted = summary(score_solos(loaded.model, loaded.tokenizer, solos, style, soloist, form, device=where,
                                      dynamic_lr=dynamic_lr))
        figures.update({f"dynamic_{key}": adapted[key] for key in ("nats_per_note", "pitch_nats_per_note",
                                                                    "timing_nats_per_note")})
        figures["dynamic_lr"] = dynamic_lr
    skipped = [{"file": line.split(": ", 1)[0], "reason": line.split(": ", 1)[-1]}
               for line in report.skipped + report.bad_rows]
    return {"model": str(model), "corpus": str(corpus), "kind": "jazz", "unit": "nats_per_note", "split": chosen,
            "own_training_corpus": own, **figures, "items": figures["solos"], "item": "solos (parts)",
            "inputs": {"style": style, "soloist": soloist, "form": form},
            "soloist_strength": strength if soloist else None,
            "skipped": skipped}
