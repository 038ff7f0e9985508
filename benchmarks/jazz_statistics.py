"""How the soloists play, set beside the real solos they should sound like: statistic by statistic, on held-out solos.

    python benchmarks/jazz_statistics.py --split test --json out.json

For every solo of the split, each soloist plays over that solo's own changes (its chart as the beat track gives
it, its length, its tempo, its style and form; no soloist entry): the jazz model at the settings given, the older
``blues`` lead-sheet model (on its 16th grid, lead swung as it renders), and the n-gram baseline (blind to the
changes). Statistics are pooled over solos weighted by their bars (``studio.music.jazz.statistics``), and each is
checked against the real solos' value (within 15%). Choose sampling settings with ``--split valid``; report
``--split test`` once.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from studio.config import GenerationConfig  # noqa: E402
from studio.music.jazz.corpus import TICKS_PER_BAR, SoloNote, read_jazz_corpus  # noqa: E402
from studio.music.jazz.ngram import NgramModel, improvise_blind  # noqa: E402
from studio.music.jazz.scoring import encode_all  # noqa: E402
from studio.music.jazz.soloist import Soloist, SoloRequest  # noqa: E402
from studio.music.jazz.statistics import STATISTICS, pooled, solo_statistics  # noqa: E402
from studio.music.jazz.training import split_solos  # noqa: E402

TOLERANCE = 0.15


def blues_solo(composer, solo, seed: int) -> list[SoloNote]:
    """The older blues model over the solo's chart, its 16th-grid notes moved onto the 48-per-bar grid."""
    from studio.music.leadsheet.composer import ComposeRequest

    request = ComposeRequest(solo.chart(), 1, solo.tempo, GenerationConfig(temperature=0.9, top_p=0.95, seed=seed))
    sheet = composer.compose(request)[0].sheet
    ratio = TICKS_PER_BAR // 16
    return [SoloNote(n.start * ratio, n.duration * ratio, n.pitch) for n in sheet.melody]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=str(ROOT / "checkpoints" / "jazz"))
    parser.add_argument("--blues-model", default="blues", help="the older lead-sheet model ('' to leave it out)")
    parser.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpora" / "jazz"))
    parser.add_argument("--split", default="valid", choices=("valid", "test"))
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--top-p", type=float, default=None)
    parser.add_argument("--rhythm-temperature", type=float, default=1.0)
    parser.add_argument("--ngram-order", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--samples", type=int, default=1,
                        help="solos the jazz model plays over each held-out solo, pooled (more: less noise; 1 was "
                        "the setting before 2026-12-04)")
    parser.add_argument("--no-baselines", action="store_true",
                        help="the jazz model alone (choosing its settings on --split valid)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    solos, _ = read_jazz_corpus(args.corpus)
    parts = split_solos(solos)
    held = parts[args.split]
    soloist = Soloist(args.model)
    phrases = soloist.training_phrases
    ngram = None if args.no_baselines else NgramModel(soloist.tokenizer.vocab_size, args.ngram_order).fit(
        [e.tokens for e in encode_all(parts["train"], soloist.tokenizer)])
    composer = None
    if args.blues_model and not args.no_baselines:
        from studio.music.leadsheet.composer import Composer

        composer = Composer(args.blues_model)
    rows: dict[str, list[dict[str, float]]] = {"real solos": [], "jazz model": []}
    if ngram is not None:
        rows["n-gram"] = []
    if composer is not None:
        rows["blues model"] = []
    weights: dict[str, list[int]] = {name: [] for name in rows}  # each row's solos weigh by their bars
    for k, solo in enumerate(held):
        bars = solo.num_bars
        for name in rows:
            weights[name] += [bars] * (args.samples if name == "jazz model" else 1)
        rows["real solos"].append(solo_statistics(solo.notes, solo.beats, bars, phrases))
        config = GenerationConfig(temperature=args.temperature, top_p=args.top_p, seed=args.seed + k,
                                  num_samples=args.samples)
        request = SoloRequest(solo.chart(), 1, solo.tempo, style=solo.style or None,
                              form="blues" if solo.blues else "other", form_bars=solo.form_bars, config=config,
                              rhythm_temperature=args.rhythm_temperature)
        rows["jazz model"] += [solo_statistics(p.notes, solo.beats, bars, phrases) for p in soloist.improvise(request)]
        if ngram is not None:
            blind = improvise_blind(ngram, soloist.tokenizer, bars * TICKS_PER_BAR, seed=args.seed + k)
            rows["n-gram"].append(solo_statistics(blind, solo.beats, bars, phrases))
        if composer is not None:
            rows["blues model"].append(solo_statistics(blues_solo(composer, solo, args.seed + k), solo.beats, bars,
                                                       phrases))
        print(f"{k + 1}/{len(held)} {solo.id}", file=sys.stderr)
    table = {name: pooled(values, weights[name]) for name, values in rows.items()}
    real = table["real solos"]
    within = {name: {s: (abs(v[s] - real[s]) <= TOLERANCE * abs(real[s])) if not math.isnan(real[s]) else None
                     for s in STATISTICS} for name, v in table.items() if name != "real solos"}
    names = list(table)
    print(f"{args.split} split: {len(held)} solos, {sum(weights['real solos'])} bars ({args.samples} played by the "
          f"jazz model over each); jazz model at temperature "
          f"{args.temperature}, top-p {args.top_p}, rhythm temperature {args.rhythm_temperature}; * = within "
          f"{TOLERANCE:.0%} of the real solos")
    print("statistic".ljust(18) + "".join(n.rjust(14) for n in names))
    for s in STATISTICS:
        cells = []
        for n in names:
            value = table[n][s]
            mark = "*" if n != "real solos" and within[n].get(s) else " "
            cells.append(("n/a" if math.isnan(value) else f"{value:.3f}") + mark)
        print(s.ljust(18) + "".join(c.rjust(14) for c in cells))
    for n, marks in within.items():
        judged = [m for s, m in marks.items() if m is not None and s != "copied_phrases"]
        print(f"{n}: {sum(judged)} of {len(judged)} statistics within {TOLERANCE:.0%}; 2-bar phrases new: "
              f"{1 - table[n]['copied_phrases']:.1%}")
    if args.json:
        Path(args.json).write_text(json.dumps({"split": args.split, "settings": vars(args), "table": table,
                                               "within": within, "bars": sum(weights["real solos"]),
                                               "seconds": time.perf_counter() - started}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
