"""Nats per note of the jazz soloist on held-out WJD/Omnibook solos, beside an n-gram baseline on the same tokens.

    python benchmarks/jazz_nll.py --model checkpoints/jazz --split test --json out.json

Rows: the model with every input a person would give (style, soloist, form, tempo); the blues solos alone; each input
left out (the model asked with "none"), which shows what it uses; per soloist, test solos scored with the player's
own entry against none (players with a training solo only); and a Witten-Bell n-gram over the same tokens (orders
chosen on validation with ``--split valid``), blind to the changes. ``--dynamic-lr`` adds a row scored with dynamic
evaluation (the model adapts to each solo as it reads it; see ``studio.music.jazz.scoring.dynamic_token_nll``).
Every figure is nats per note (see ``studio.music.jazz.scoring``). Settings are chosen on ``--split valid``;
``--split test`` is for the final row.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from studio.errors import StudioError  # noqa: E402
from studio.loading import load_model  # noqa: E402
from studio.music.jazz.corpus import read_jazz_corpus  # noqa: E402
from studio.music.jazz.entries import apply_soloist_strength  # noqa: E402
from studio.music.jazz.ngram import NgramModel  # noqa: E402
from studio.music.jazz.scoring import check_dynamic, encode_all, score_solos, split_parts, summary  # noqa: E402
from studio.music.jazz.tokenizer import JazzTokenizer  # noqa: E402
from studio.music.jazz.training import split_solos  # noqa: E402


def ngram_rows(tokenizer: JazzTokenizer, parts: dict, split: str, orders: list[int]) -> dict[str, dict]:
    train = [e.tokens for e in encode_all(parts["train"], tokenizer)]
    held = parts[split]
    encoded = encode_all(held, tokenizer)
    out = {}
    for order in orders:
        model = NgramModel(tokenizer.vocab_size, order).fit(train)
        scores = [split_parts(e, model.token_nll(e.tokens), tokenizer, s.id)
                  for s, e in zip(held, encoded, strict=True)]
        out[f"ngram order {order}"] = summary(scores)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=str(ROOT / "checkpoints" / "jazz"))
    parser.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpora" / "jazz"))
    parser.add_argument("--split", default="valid", choices=("valid", "test"))
    parser.add_argument("--ngram-orders", default="3,4,5,6", help="comma-separated n-gram orders to score")
    parser.add_argument("--dynamic-lr", type=float, default=0.0,
                        help="also score with dynamic evaluation at this SGD learning rate (0: not; 0.03 chosen on "
                             "validation, BENCHMARKS.md)")
    parser.add_argument("--dynamic-segment", type=int, default=8, help="tokens scored between two updates")
    parser.add_argument("--soloist-strength", type=float, default=None,
                        help="how strongly the model reads each solo's soloist entry, 0..2 (default: the model's; "
                        "studio.music.jazz.entries)")
    parser.add_argument("--json", default=None, help="write every row here as JSON")
    args = parser.parse_args(argv)
    if args.dynamic_lr != 0:  # 0: off; anything else must be a valid rate, checked before anything loads
        try:
            check_dynamic(args.dynamic_lr, args.dynamic_segment)
        except StudioError as error:
            parser.error(str(error))
    started = time.perf_counter()
    loaded = load_model(args.model, read_tokenizer=JazzTokenizer.from_dict)
    tokenizer, model = loaded.tokenizer, loaded.model
    strength = apply_soloist_strength(model, loaded.card, args.soloist_strength)
    solos, _ = read_jazz_corpus(args.corpus)
    parts = split_solos(solos)
    held = parts[args.split]
    rows: dict[str, dict] = {}
    rows["model, all inputs"] = summary(score_solos(model, tokenizer, held))
    if args.dynamic_lr > 0:
        name = f"model, all inputs, dynamic evaluation (SGD {args.dynamic_lr:g}, every {args.dynamic_segment} tokens)"
        rows[name] = summary(score_solos(model, tokenizer, held, dynamic_lr=args.dynamic_lr,
                                         dynamic_segment=args.dynamic_segment))
    blues = [s for s in held if s.blues]
    if blues:
        rows["model, blues solos"] = summary(score_solos(model, tokenizer, blues))
        rows["model, blues solos, form unknown"] = summary(score_solos(model, tokenizer, blues, form=False))
    rows["model, no style"] = summary(score_solos(model, tokenizer, held, style=False))
    rows["model, no soloist"] = summary(score_solos(model, tokenizer, held, soloist=False))
    rows["model, no form"] = summary(score_solos(model, tokenizer, held, form=False))
    if "tempos" in getattr(model, "condition_tables", {}):  # a soloist trained before the tempo input lacks it
        rows["model, no tempo"] = summary(score_solos(model, tokenizer, held, tempo=False))
    rows["model, no style/soloist/form"] = summary(score_solos(model, tokenizer, held, False, False, False))
    players: dict[str, dict] = {}
    known = [s for s in held if s.performer in tokenizer.soloists]
    own = {s.id: s for s in score_solos(model, tokenizer, known)}
    none = {s.id: s for s in score_solos(model, tokenizer, known, soloist=False)}
    for name in sorted({s.performer for s in known}):
        ids = [s.id for s in known if s.performer == name]
        players[name] = {"solos": len(ids), "own": summary([own[i] for i in ids])["nats_per_note"],
                         "none": summary([none[i] for i in ids])["nats_per_note"]}
    rows.update(ngram_rows(tokenizer, parts, args.split, [int(o) for o in args.ngram_orders.split(",")]))
    width = max(len(k) for k in rows)
    print(f"{args.split} split of {args.corpus}: {len(held)} solos; model {args.model}, soloist strength {strength:g}")
    print(f"{'row'.ljust(width)}  solos   notes  nats/note  pitch  timing")
    for name, row in rows.items():
        if row:
            print(f"{name.ljust(width)}  {row['solos']:5d} {row['notes']:7d}  {row['nats_per_note']:9.3f} "
                  f"{row['pitch_nats_per_note']:6.3f} {row['timing_nats_per_note']:7.3f}")
    better = sum(p["own"] < p["none"] for p in players.values())
    print(f"soloist entry: own entry beats none for {better} of {len(players)} players "
          f"(mean {sum(p['own'] for p in players.values()) / max(1, len(players)):.3f} vs "
          f"{sum(p['none'] for p in players.values()) / max(1, len(players)):.3f} nats/note)")
    for name, p in players.items():
        print(f"  {name}: {p['solos']} solo(s), own {p['own']:.3f}, none {p['none']:.3f}")
    if args.json:
        report = {"split": args.split, "model": args.model, "soloist_strength": strength, "rows": rows,
                  "players": players, "seconds": time.perf_counter() - started}
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
