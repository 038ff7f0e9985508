"""Where the jazz soloist's nats per note go: the negative log-likelihood of each kind of token, per note.

    python benchmarks/jazz_token_costs.py --model checkpoints/jazz --split valid --solos 25

A solo is written as events (a pitch or REST, then its length), so the nats per note of ``jazz_nll.py`` add up five
kinds of token: pitches; REST tokens; the length after a note that the next note follows (its inter-onset
interval); the length after a note that a rest follows; and the length of a rest. Each kind's total is divided by
the notes, so the five rows add up to the nats per note. It shows what the rests cost, which a tokenization with
fewer, longer rests would save.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from studio.loading import load_model  # noqa: E402
from studio.music.jazz.corpus import read_jazz_corpus  # noqa: E402
from studio.music.jazz.scoring import encode_all, token_nll  # noqa: E402
from studio.music.jazz.tokenizer import JazzTokenizer  # noqa: E402
from studio.music.jazz.training import split_solos  # noqa: E402

KINDS = ("pitch", "rest", "length before a note", "length before a rest", "rest length")


def kind_of(tokens: list[int], i: int, tok: JazzTokenizer) -> str | None:
    """The kind of ``tokens[i]`` (None for BOS, which is given, not predicted)."""
    token = tokens[i]
    if token == tok.BOS:
        return None
    if not tok.is_length(token):
        return "rest" if token == tok.REST else "pitch"
    if tokens[i - 1] == tok.REST:
        return "rest length"
    following = tokens[i + 1] if i + 1 < len(tokens) else None
    return "length before a rest" if following == tok.REST else "length before a note"


def token_costs(model: str, corpus: str, split: str, solos: int | None) -> dict:
    """Nats per note of each kind of token over the first ``solos`` solos of ``split`` (all when None)."""
    loaded = load_model(model, read_tokenizer=JazzTokenizer.from_dict)
    tok = loaded.tokenizer
    held = split_solos(read_jazz_corpus(corpus)[0])[split][:solos]
    encoded = encode_all(held, tok)
    totals = dict.fromkeys(KINDS, 0.0)
    counts = dict.fromkeys(KINDS, 0)
    notes = 0
    for item, nll in zip(encoded, token_nll(loaded.model, encoded, batch=4), strict=True):
        notes += item.notes
        for i in range(1, len(item.tokens)):
            kind = kind_of(item.tokens, i, tok)
            if kind is not None:
                totals[kind] += float(nll[i - 1])
                counts[kind] += 1
    rows = {k: {"tokens": counts[k], "nats_per_token": totals[k] / max(1, counts[k]),
                "nats_per_note": totals[k] / max(1, notes)} for k in KINDS}
    return {"model": model, "split": split, "solos": len(held), "notes": notes, "kinds": rows,
            "nats_per_note": sum(totals.values()) / max(1, notes)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=str(ROOT / "checkpoints" / "jazz"))
    parser.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpora" / "jazz"))
    parser.add_argument("--split", default="valid", choices=("train", "valid", "test"))
    parser.add_argument("--solos", type=int, default=None, help="the first N solos of the split (default: all)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    result = token_costs(args.model, args.corpus, args.split, args.solos)
    print(f"{args.split} split: {result['solos']} solos, {result['notes']} notes; model {args.model}")
    print(f"{'kind':24s} {'tokens':>7s} {'nats/token':>10s} {'nats/note':>9s}")
    for kind, row in result["kinds"].items():
        print(f"{kind:24s} {row['tokens']:7d} {row['nats_per_token']:10.3f} {row['nats_per_note']:9.3f}")
    print(f"{'all':24s} {'':7s} {'':10s} {result['nats_per_note']:9.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
