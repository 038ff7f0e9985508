"""Two call-and-response models on the same phrase pairs, pair by pair: is B's answer NLL below A's?

    python benchmarks/trade_paired.py --a runs/trade-final-again,runs/seed1-final-again \\
        --b runs/trade-aligned,runs/seed1-aligned --split test --json out.json

``--a`` and ``--b`` each take one model or run folder per seed (the same number, paired in order). For each seed,
and for the seeds pooled (each pair's nats averaged over the seeds of a model), it prints nats per answer note of
both, the difference B - A, the pairs whose answer B finds likelier, and the uncertainty of the difference by solo:
pairs of one solo are not independent (a pair's answer is the next pair's call, and a player's habits run through a
solo), so the unit is the solo. The solos whose answers B finds likelier in sum, a one-sided sign test of that count,
and a bootstrap 95% interval of the difference per note (solos drawn with replacement, all their pairs with them,
the same draws for A and B): the seed-to-seed spread and the solo-to-solo spread, side by side. Pairs are the 4-bar
pairs of the soloist's split by solo (``--bars`` for others), scored teacher-forced as
``benchmarks/trade_ablation.py`` scores them.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from studio.music.jazz.corpus import read_jazz_corpus  # noqa: E402
from studio.music.jazz.training import split_solos  # noqa: E402
from studio.music.trade.pairs import encode_pair, phrase_pairs  # noqa: E402
from studio.music.trade.training import load_trade_model, pair_nats  # noqa: E402


def sign_test(wins: int, n: int) -> float:
    """One-sided p of at least ``wins`` of ``n`` under a fair coin."""
    return sum(math.comb(n, k) for k in range(wins, n + 1)) / 2**n


def compare(a: torch.Tensor, b: torch.Tensor, notes: torch.Tensor, solos: torch.Tensor, draws: int, seed: int
            ) -> dict[str, float]:
    """Per-note figures of two per-pair nats vectors over the same pairs (each (pairs,)), and the paired statistics
    by solo (``solos``: each pair's solo as an index 0..S-1, (pairs,))."""
    total = float(notes.sum())
    count = int(solos.max()) + 1
    by_solo = [torch.zeros(count, dtype=torch.float64).index_add_(0, solos, x) for x in (b - a, notes)]
    generator = torch.Generator().manual_seed(seed)
    index = torch.randint(count, (draws, count), generator=generator)
    diffs = (by_solo[0][index].sum(dim=1) / by_solo[1][index].sum(dim=1)).sort().values
    wins, ties = int((by_solo[0] < 0).sum()), int((by_solo[0] == 0).sum())
    return {"a_nats_per_note": float(a.sum()) / total, "b_nats_per_note": float(b.sum()) / total,
            "b_minus_a": float((b - a).sum()) / total, "pairs": len(a), "b_likelier_pairs": int((b < a).sum()),
            "solos": count, "b_likelier_solos": wins, "sign_test_p": sign_test(wins, count - ties),
            "bootstrap_95": [float(diffs[int(0.025 * draws)]), float(diffs[int(0.975 * draws) - 1])]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--a", required=True, help="comma-separated models or runs, one a seed (the control)")
    parser.add_argument("--b", required=True, help="comma-separated models or runs, paired with --a in order")
    parser.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpora" / "jazz"))
    parser.add_argument("--split", default="valid", choices=("valid", "test"))
    parser.add_argument("--bars", type=int, default=4)
    parser.add_argument("--bootstrap", type=int, default=10_000, help="bootstrap draws (default 10000)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    runs_a, runs_b = args.a.split(","), args.b.split(",")
    if len(runs_a) != len(runs_b):
        parser.error(f"--a has {len(runs_a)} models and --b {len(runs_b)}: give one of each a seed")
    started = time.perf_counter()
    solos, _ = read_jazz_corpus(args.corpus)
    pairs = phrase_pairs(split_solos(solos)[args.split], args.bars)
    ids = {solo: i for i, solo in enumerate(sorted({p.solo_id for p in pairs}))}
    solo_index = torch.tensor([ids[p.solo_id] for p in pairs])
    nats: dict[str, list[torch.Tensor]] = {"a": [], "b": []}
    notes = None
    for side, runs in (("a", runs_a), ("b", runs_b)):
        for run in runs:
            model, tokenizer, _ = load_trade_model(run)
            encoded = [encode_pair(tokenizer, p) for p in pairs]
            counted = torch.tensor([e.notes for e in encoded], dtype=torch.float64)
            if notes is not None and not torch.equal(notes, counted):  # per note must mean the same notes
                parser.error(f"{run} counts the answers' notes differently from {runs_a[0]}: another tokenizer")
            notes = counted
            nats[side].append(pair_nats(model, encoded))
    rows = {f"seed {i} ({runs_a[i]} / {runs_b[i]})":
            compare(nats["a"][i], nats["b"][i], notes, solo_index, args.bootstrap, i) for i in range(len(runs_a))}
    if len(runs_a) > 1:
        rows["seeds pooled (each pair averaged over the seeds)"] = compare(
            torch.stack(nats["a"]).mean(0), torch.stack(nats["b"]).mean(0), notes, solo_index, args.bootstrap, 0)
    print(f"{args.split} split, {args.bars}-bar pairs: {len(pairs)}, {int(notes.sum())} answer notes; A = --a, B = --b")
    for name, row in rows.items():
        low, high = row["bootstrap_95"]
        print(f"{name}: A {row['a_nats_per_note']:.4f}, B {row['b_nats_per_note']:.4f} nats/note, B - A "
              f"{row['b_minus_a']:+.4f} (95% by solo {low:+.4f}..{high:+.4f}); B likelier for "
              f"{row['b_likelier_pairs']} of {row['pairs']} pairs, {row['b_likelier_solos']} of {row['solos']} solos "
              f"(one-sided sign test by solo p = {row['sign_test_p']:.3g})")
    if args.json:
        Path(args.json).write_text(json.dumps({"split": args.split, "bars": args.bars, "pairs": len(pairs),
                                               "a": runs_a, "b": runs_b, "bootstrap": args.bootstrap, "rows": rows,
                                               "seconds": time.perf_counter() - started}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
