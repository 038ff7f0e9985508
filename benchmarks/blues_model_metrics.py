"""Does the blues model improvise, and does it stay in the blues? Its metrics beside a random-pitch baseline and
beside its training data.

The model composes ``--pieces`` choruses over every blues form in rotating keys (one batch per form), sampling at
``--temperature``. Reported per source: share of melody notes that are chord tones of the chord under them; share
that are chord tones or blues-scale tones of it (the issue's "in the blues" measure, goal >= 90%); novelty = share
of two-bar phrases absent from the model's training data (goal >= 90%); note density, pitch range, repetition.
The random-pitch baseline keeps the model's own rhythms and range with uniformly random pitches.

    python benchmarks/blues_model_metrics.py [--model blues] [--pieces 60] [--temperature 0.9]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics

from studio.config import GenerationConfig
from studio.music.leadsheet.composer import Composer, ComposeRequest
from studio.music.leadsheet.metrics import random_pitch_baseline
from studio.music.leadsheet.procedural import generate_blues_corpus
from studio.music.theory.chords import BLUES_FORMS, blues_chart

KEYS = ("C", "F", "Bb", "Eb", "G", "A")
COLUMNS = ("chord_tone_share", "blues_share", "novelty", "note_density", "pitch_range", "repetition")


def mean(rows: list[dict], key: str) -> float:
    values = [r[key] for r in rows if key in r and not math.isnan(r[key])]
    return statistics.mean(values) if values else math.nan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="blues")
    parser.add_argument("--pieces", type=int, default=60)
    parser.add_argument("--temperature", type=float, default=0.9)
    parser.add_argument("--top-p", type=float, default=None)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    composer = Composer(args.model)
    per_form = max(1, args.pieces // len(BLUES_FORMS))
    model_rows, random_rows = [], []
    for i, form in enumerate(BLUES_FORMS):
        key = KEYS[i % len(KEYS)]
        config = GenerationConfig(temperature=args.temperature, top_p=args.top_p, num_samples=per_form,
                                  seed=args.seed + i)
        for piece in composer.compose(ComposeRequest(blues_chart(form, key), config=config)):
            model_rows.append(composer.metrics(piece.sheet))
            random_rows.append(composer.metrics(random_pitch_baseline(piece.sheet, seed=i)))
    corpus_rows = [composer.metrics(s) for s in generate_blues_corpus(per_form * len(BLUES_FORMS), seed=0)]
    table = {"model": {k: mean(model_rows, k) for k in COLUMNS},
             "random-pitch baseline": {k: mean(random_rows, k) for k in COLUMNS},
             "training data (procedural, seed 0)": {k: mean(corpus_rows, k) for k in COLUMNS}}
    if args.json:
        print(json.dumps({"pieces": len(model_rows), "temperature": args.temperature, **table}))
        return
    print(f"{len(model_rows)} model choruses over {', '.join(BLUES_FORMS)} in rotating keys ({', '.join(KEYS)})")
    print("| source | chord tones | chord or blues-scale tones | novel 2-bar phrases | notes/bar | range "
          "| repetition |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, row in table.items():
        print(f"| {name} | {row['chord_tone_share']:.1%} | {row['blues_share']:.1%} | {row['novelty']:.1%} | "
              f"{row['note_density']:.2f} | {row['pitch_range']:.1f} | {row['repetition']:.1%} |")


if __name__ == "__main__":
    main()
