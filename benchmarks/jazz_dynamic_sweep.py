"""Choose dynamic evaluation's rate and segment on validation solos: nats per note for each (rate, segment).

    python benchmarks/jazz_dynamic_sweep.py --model checkpoints/jazz --solos 20 --json out.json

Scores the first ``--solos`` validation solos statically, then with ``studio.music.jazz.scoring.dynamic_token_nll``
at each ``--grid`` entry (``rate:segment``, comma-separated), with the seconds each took. Validation only: the chosen
setting is then scored once on test by ``benchmarks/jazz_nll.py --dynamic-lr``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from studio.loading import load_model  # noqa: E402
from studio.music.jazz.corpus import read_jazz_corpus  # noqa: E402
from studio.music.jazz.scoring import check_dynamic, score_solos, summary  # noqa: E402
from studio.music.jazz.tokenizer import JazzTokenizer  # noqa: E402
from studio.music.jazz.training import split_solos  # noqa: E402

GRID = "0.01:32,0.03:32,0.05:32,0.1:32,0.3:32,0.03:64,0.03:16,0.05:16,0.02:8,0.03:8,0.05:8,0.01:4,0.02:4"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=str(ROOT / "checkpoints" / "jazz"))
    parser.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpora" / "jazz"))
    parser.add_argument("--solos", type=int, default=20, help="the first N validation solos (0: all)")
    parser.add_argument("--grid", default=GRID, help="rate:segment entries, comma-separated")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    grid = [(float(rate), int(segment)) for rate, segment in (entry.split(":") for entry in args.grid.split(","))]
    for rate, segment in grid:
        check_dynamic(rate, segment)
    loaded = load_model(args.model, read_tokenizer=JazzTokenizer.from_dict)
    solos, _ = read_jazz_corpus(args.corpus)
    held = split_solos(solos)["valid"]
    held = held[: args.solos] if args.solos else held
    started = time.perf_counter()
    rows = [{"rate": 0.0, "segment": None, **summary(score_solos(loaded.model, loaded.tokenizer, held)),
             "seconds": time.perf_counter() - started}]
    for rate, segment in grid:
        started = time.perf_counter()
        figures = summary(score_solos(loaded.model, loaded.tokenizer, held, dynamic_lr=rate, dynamic_segment=segment))
        rows.append({"rate": rate, "segment": segment, **figures, "seconds": time.perf_counter() - started})
    print(f"{len(held)} validation solos, {rows[0]['notes']} notes; model {args.model}")
    print("rate   segment  nats/note  pitch  timing  seconds")
    for row in rows:
        label = "static" if row["segment"] is None else f"{row['rate']:<6g} {row['segment']:>7d}"
        print(f"{label:<14}  {row['nats_per_note']:9.4f} {row['pitch_nats_per_note']:6.3f} "
              f"{row['timing_nats_per_note']:7.3f} {row['seconds']:8.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"model": args.model, "solos": len(held), "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
