"""Does "in the manner of" play like the player? Solos over a player's held-out charts, with and without their entry.

    python benchmarks/jazz_manner.py --split valid --strengths 0,0.5,1,1.5 --json out.json

For every held-out solo whose player has training solos, the soloist plays ``--samples`` solos over that solo's own
changes, length, tempo, style and form, asked to play in the manner of its player at each strength of
``--strengths`` (``studio.music.jazz.entries``; 0 is no entry). Each played solo is set beside the real one statistic
by statistic: its register (mean pitch), notes per bar, the inter-onset mix, steps, leaps and chord tones. The table
is the mean absolute difference over the solos (each solo's samples averaged first), and its ratio to strength 0's:
below 1, the entry moves the playing toward how that player played that tune. Choose on ``--split valid``.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from studio.config import GenerationConfig  # noqa: E402
from studio.music.jazz.corpus import SoloNote, read_jazz_corpus  # noqa: E402
from studio.music.jazz.soloist import Soloist, SoloRequest  # noqa: E402
from studio.music.jazz.statistics import solo_statistics  # noqa: E402
from studio.music.jazz.training import split_solos  # noqa: E402

COMPARED = ("mean_pitch", "notes_per_bar", "ioi_sixteenth", "ioi_eighth", "ioi_quarter_plus", "steps", "leaps",
            "chord_tones")


def profile(notes: list[SoloNote], beats: list, bars: int) -> dict[str, float]:
    """The compared statistics of one solo (NaN where it has too few notes to say)."""
    stats = solo_statistics(notes, beats, bars)
    stats["mean_pitch"] = statistics.fmean(n.pitch for n in notes) if notes else math.nan
    return {name: stats[name] for name in COMPARED}


def nanmean(values: list[float]) -> float:
    """The mean of the values that are not NaN (NaN if none is)."""
    kept = [v for v in values if not math.isnan(v)]
    return statistics.fmean(kept) if kept else math.nan


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="jazz")
    parser.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpora" / "jazz"))
    parser.add_argument("--split", default="valid", choices=("valid", "test"))
    parser.add_argument("--strengths", default="0,0.5,1", help="comma-separated entry strengths (0: no entry)")
    parser.add_argument("--samples", type=int, default=3, help="solos played per held-out solo and strength")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    strengths = [float(s) for s in args.strengths.split(",")]
    players = {s: Soloist(args.model, soloist_strength=s) for s in strengths}
    first = players[strengths[0]]
    solos, _ = read_jazz_corpus(args.corpus)
    held = [s for s in split_solos(solos)[args.split] if s.performer in first.tokenizer.soloists]
    real, played = [], {s: [] for s in strengths}
    for k, solo in enumerate(held):
        bars = solo.num_bars
        real.append(profile(solo.notes, solo.beats, bars))
        for strength, soloist in players.items():
            # The same seed at every strength: the entry is the only difference between the rows.
            config = GenerationConfig(temperature=soloist.default_temperature, top_p=soloist.default_top_p,
                                      seed=args.seed + k, num_samples=args.samples)
            request = SoloRequest(solo.chart(), 1, solo.tempo, style=solo.style or None, soloist=solo.performer,
                                  form="blues" if solo.blues else "other", form_bars=solo.form_bars, config=config)
            profiles = [profile(p.notes, solo.beats, bars) for p in soloist.improvise(request)]
            played[strength].append({name: nanmean([p[name] for p in profiles]) for name in COMPARED})
        print(f"{k + 1}/{len(held)} {solo.id}", file=sys.stderr)

    def error(strength: float, name: str) -> float:
        pairs = [(p[name], r[name]) for p, r in zip(played[strength], real, strict=True)
                 if not (math.isnan(p[name]) or math.isnan(r[name]))]
        return statistics.fmean(abs(p - r) for p, r in pairs)

    table = {f"{s:g}": {name: error(s, name) for name in COMPARED} for s in strengths}
    base = table[f"{strengths[0]:g}"]
    print(f"{args.split}: {len(held)} held-out solos of known players, {args.samples} played per solo and strength; "
          f"mean absolute difference from the real solo (ratio to strength {strengths[0]:g})")
    print("statistic".ljust(18) + "".join(f"strength {s:g}".rjust(20) for s in strengths))
    for name in COMPARED:
        cells = [f"{table[f'{s:g}'][name]:.4f} ({table[f'{s:g}'][name] / base[name]:.2f})" for s in strengths]
        print(name.ljust(18) + "".join(c.rjust(20) for c in cells))
    mean_ratio = {key: statistics.fmean(row[name] / base[name] for name in COMPARED) for key, row in table.items()}
    print("mean ratio".ljust(18) + "".join(f"{mean_ratio[f'{s:g}']:.3f}".rjust(20) for s in strengths))
    if args.json:
        Path(args.json).write_text(json.dumps({
            "model": args.model, "split": args.split, "solos": len(held), "samples": args.samples, "seed": args.seed,
            "errors": table, "mean_ratio": mean_ratio, "seconds": round(time.perf_counter() - started, 1)},
            indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
