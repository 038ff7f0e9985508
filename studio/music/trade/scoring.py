"""``studio eval`` for a call-and-response model: answer NLL per note on the phrase pairs of a jazz-layout folder.

As for the soloist (``studio.music.jazz.evaluation``): the model's own training corpus is scored on its test split
(4-bar and 2-bar pairs of the test solos), any other folder whole; ``split`` says it outright.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from studio.errors import StudioError
from studio.loading import pick_device
from studio.music.jazz.corpus import read_jazz_corpus
from studio.music.jazz.training import corpus_sha256
from studio.music.trade.pairs import encode_pair, phrase_pairs
from studio.music.trade.training import PAIR_BARS, evaluate_pairs, load_trade_model, pair_splits

SPLITS = ("auto", "all", "train", "valid", "test")


def score_trade(model: str | Path, corpus: str | Path, split: str = "auto", device: str = "cpu") -> dict[str, Any]:
    """A JSON-ready report: ``nats_per_note`` of the answers over ``items`` phrase pairs."""
    if split not in SPLITS:
        raise StudioError(f"split must be one of {', '.join(SPLITS)}; got {split!r}")
    net, tokenizer, card = load_trade_model(model, pick_device(device))
    solos, report = read_jazz_corpus(corpus)
    own = card.get("corpus", {}).get("sha256") == corpus_sha256(corpus)
    chosen = ("test" if own else "all") if split == "auto" else split
    if chosen == "all":
        pairs = [p for bars in PAIR_BARS for p in phrase_pairs(solos, bars)]
    else:
        pairs = pair_splits(solos)[chosen]
    if not pairs:
        raise StudioError(f"no phrase pairs of at least 3 notes a side in the {chosen} solos of {corpus}")
    scores = evaluate_pairs(net, [encode_pair(tokenizer, p) for p in pairs])
    skipped = [{"file": line.split(": ", 1)[0], "reason": line.split(": ", 1)[-1]}
               for line in report.skipped + report.bad_rows]
    return {"model": str(model), "corpus": str(corpus), "kind": "trade", "unit": "nats_per_note",
            "nats_per_note": scores["nats_per_note"], "nats_per_token": scores["nats_per_token"],
            "items": scores["pairs"], "item": "phrase pairs", "notes": scores["notes"], "split": chosen,
            "bridge": card["model_config"]["bridge"], "skipped": skipped}
