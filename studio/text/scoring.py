"""``studio eval`` for text models: nats per token (and bits per character, perplexity) on a text corpus.

The text is cut into ``streams`` side-by-side rows, the state carried within each (training validates the same
way, with its batch size); ``split="valid"`` scores only the tail share a training run would have held out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from studio.config import check_range
from studio.errors import StudioError
from studio.loading import load_model, pick_device, read_card, require_text_card, resolve_model
from studio.text.corpus import read_text_corpus, split_text, to_tensor
from studio.training.evaluate import evaluate_loss, loss_metrics


def score_text(model: str | Path, corpus: str | Path, split: str = "auto", device: str = "auto",
               streams: int = 64, valid_fraction: float = 0.1, on_note: Any = None) -> dict[str, Any]:
    """A JSON-ready report of text ``model`` on ``corpus`` (a file, a folder or zips of text): ``nats_per_token``
    (its ``unit``), ``bits_per_char``, ``perplexity`` over ``tokens``, and the files ``skipped``. ``on_note(str)``
    hears re-decoded files and unknown symbols."""
    note = on_note or (lambda line: None)
    if split not in ("auto", "all", "valid"):
        raise StudioError(f"--split for a text model is all (the default) or valid, not {split!r}")
    check_range("valid_fraction", valid_fraction, 0.0, 0.5, low_open=True)
    check_range("streams", streams, 1, 4096, integer=True)
    where = pick_device(device)
    require_text_card(read_card(resolve_model(model)), model)
    loaded = load_model(model, device=where)
    text, report = read_text_corpus(corpus)
    for line in [f"{name} is not valid UTF-8; decoded as {enc}" for name, enc in report.fallback]:
        note(line)
    chosen = "valid" if split == "valid" else "all"
    if chosen == "valid":
        text = split_text(text, valid_fraction)[1]
    ids = loaded.tokenizer.encode(text)
    if loaded.tokenizer.last_unknown:
        note(loaded.tokenizer.unknown_report())
    nats, count = evaluate_loss(loaded.model, to_tensor(ids), batch_size=streams, device=where)
    metrics = loss_metrics(nats, count, len(text) / max(1, len(ids)))
    return {"model": str(loaded.path), "corpus": str(corpus), "kind": "text", "unit": "nats_per_token", **metrics,
            "items": len(report.used), "item": "files", "split": chosen, "corpus_sha256": report.sha256,
            "streams": streams, "skipped": [{"file": name, "reason": reason} for name, reason in report.skipped]}
