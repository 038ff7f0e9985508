"""Does the soloist play a ballad like a ballad? Its lines by tempo band, beside the real solos at those tempi.

    python benchmarks/jazz_tempo.py --split valid --model checkpoints/jazz --model runs/jazz-tempo/best

The masters play slow tunes denser (more notes a bar, more sixteenths) and fast ones in eighths. For every solo of
the split each model plays over that solo's own changes at its tempo (as ``jazz_statistics.py`` does: its chart,
length, style and form, no soloist entry, the model card's sampling settings unless given; ``--samples`` draws
each), and the solos are pooled by tempo band (weighted by their bars). Per model the table gives each band's
notes per bar and shares of sixteenth and eighth inter-onset intervals, and the mean relative error over the bands
against the real solos.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from studio.config import GenerationConfig  # noqa: E402
from studio.music.jazz.corpus import read_jazz_corpus  # noqa: E402
from studio.music.jazz.soloist import Soloist, SoloRequest  # noqa: E402
from studio.music.jazz.statistics import pooled, solo_statistics  # noqa: E402
from studio.music.jazz.training import split_solos  # noqa: E402

BANDS = (("under 120 bpm", 0, 120), ("120-170", 120, 170), ("170-230", 170, 230), ("230 and over", 230, 1000))
SHOWN = ("notes_per_bar", "ioi_sixteenth", "ioi_eighth")


def band_of(tempo: float) -> str:
    return next(name for name, low, high in BANDS if low <= tempo < high)


def label(who: str) -> str:
    """A short name for a table row: a run's name rather than its ``best`` folder's."""
    path = Path(who)
    return (path.parent.name if path.name == "best" else path.name) if who != "real solos" else who


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", action="append", default=None, help="a jazz model (repeat to compare; default "
                        "checkpoints/jazz)")
    parser.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpora" / "jazz"))
    parser.add_argument("--split", default="valid", choices=("valid", "test"))
    parser.add_argument("--temperature", type=float, default=None, help="default: each model card's")
    parser.add_argument("--top-p", type=float, default=None, help="default: each model card's")
    parser.add_argument("--rhythm-temperature", type=float, default=None, help="default: each model card's")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--samples", type=int, default=3, help="solos each model plays over each real one (a line "
                        "that starts running keeps running: one draw per solo is noisy)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    models = args.model or [str(ROOT / "checkpoints" / "jazz")]
    solos, _ = read_jazz_corpus(args.corpus)
    held = split_solos(solos)[args.split]
    rows: dict[str, dict[str, list]] = {"real solos": {name: [] for name, _, _ in BANDS}}
    weights: dict[str, list[int]] = {name: [] for name, _, _ in BANDS}
    for solo in held:
        band = band_of(solo.tempo)
        weights[band].append(solo.num_bars)
        rows["real solos"][band].append(solo_statistics(solo.notes, solo.beats, solo.num_bars))
    for model in models:
        soloist = Soloist(model)
        temperature = args.temperature if args.temperature is not None else soloist.default_temperature
        top_p = args.top_p if args.top_p is not None else soloist.default_top_p
        rows[model] = {name: [] for name, _, _ in BANDS}
        for k, solo in enumerate(held):
            config = GenerationConfig(temperature=temperature, top_p=top_p, seed=args.seed + k,
                                      num_samples=args.samples)
            request = SoloRequest(solo.chart(), 1, solo.tempo, style=solo.style or None,
                                  form="blues" if solo.blues else "other", form_bars=solo.form_bars, config=config,
                                  rhythm_temperature=args.rhythm_temperature)
            stats = [solo_statistics(s.notes, solo.beats, solo.num_bars) for s in soloist.improvise(request)]
            # the draws' mean stands for the solo (weighted by its bars like the real one)
            rows[model][band_of(solo.tempo)].append(pooled(stats, [1.0] * len(stats)))
        print(f"played {model}", file=sys.stderr)
    table = {who: {band: pooled(values, weights[band]) if values else None for band, values in bands.items()}
             for who, bands in rows.items()}
    real = table["real solos"]
    errors = {}
    for who in models:
        errors[who] = {s: sum(abs(table[who][b][s] - real[b][s]) / abs(real[b][s]) for b in real if real[b])
                       / sum(1 for b in real if real[b]) for s in SHOWN}
    print(f"{args.split} split: {len(held)} solos; bars per band: "
          + ", ".join(f"{b} {sum(w)}" for b, w in weights.items()))
    for s in SHOWN:
        print(f"\n{s}".ljust(19) + "".join(b.rjust(15) for b, _, _ in BANDS) + "mean rel. error".rjust(17))
        for who in table:
            cells = [f"{table[who][b][s]:.3f}" if table[who][b] else "-" for b, _, _ in BANDS]
            error = f"{errors[who][s]:.1%}" if who in errors else ""
            print(label(who)[:18].ljust(18) + "".join(c.rjust(15) for c in cells) + error.rjust(17))
    if args.json:
        Path(args.json).write_text(json.dumps({"split": args.split, "models": models, "table": table,
                                               "mean_relative_error": errors,
                                               "bars": {b: sum(w) for b, w in weights.items()},
                                               "settings": vars(args), "seconds": time.perf_counter() - started},
                                              indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
