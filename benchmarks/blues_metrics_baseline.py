"""Musical metrics of the procedural blues corpus beside a random-pitch baseline and real Impro-Visor solos.

    python benchmarks/blues_metrics_baseline.py [--choruses 200] [--seed 0] [--impro-visor DIR] [--json]

Rows:

* the procedural corpus (``--choruses`` choruses, ``--seed``): the training data of the blues improviser;
* a fresh procedural corpus (seed + 1, same size): how much a new draw of the generator repeats the first one's
  two-bar phrases (its novelty against the first corpus);
* the random-pitch baseline of the corpus: the same rhythm with pitches drawn uniformly from each sheet's range,
  the floor any melody model must beat on harmony;
* Impro-Visor's blues lead sheets with a real melody (more than 10 notes; most of the 114 files carry chords
  only), and their random-pitch baseline, when DIR (default ../shared/corpora/blues/impro-visor-leadsheets) exists.

Shares are means over sheets; "novelty" is measured against the two-bar phrases of the first corpus, so it is 0 for
the corpus itself by construction. Prints a markdown table (or JSON with --json), then how many lead sheets parsed.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from studio.errors import StudioError
from studio.music.io.impro_visor import read_impro_visor
from studio.music.leadsheet.metrics import phrase_set, random_pitch_baseline, summarise_corpus
from studio.music.leadsheet.procedural import generate_blues_corpus

DEFAULT_IMPRO_VISOR = Path(__file__).resolve().parents[1] / ".." / "shared" / "corpora" / "blues" / \
    "impro-visor-leadsheets"
COLUMNS = [("chord_tone_share", "chord tones", "{:.3f}"), ("change_tone_share", "chord tones at changes", "{:.3f}"),
           ("blues_share", "blues-scale", "{:.3f}"), ("pitch_range", "range (semitones)", "{:.1f}"),
           ("note_density", "notes/bar", "{:.2f}"), ("rhythmic_variety", "rhythmic variety", "{:.3f}"),
           ("duration_entropy", "duration entropy (bits)", "{:.2f}"), ("repetition", "repetition", "{:.3f}"),
           ("novelty", "novelty", "{:.3f}")]


def impro_visor_sheets(folder: Path) -> tuple[list, int, Counter]:
    """Lead sheets with a melody, the number of files, and the reasons files failed to parse."""
    files = sorted(folder.rglob("*.ls"))
    sheets, reasons = [], Counter()
    for path in files:
        try:
            sheet = read_impro_visor(path)
        except StudioError as error:
            reasons[str(error).split(": ", 1)[-1].split(": ", 1)[-1]] += 1
            continue
        if len(sheet.melody) > 10:
            sheets.append(sheet)
    return sheets, len(files), reasons


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--choruses", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--impro-visor", type=Path, default=DEFAULT_IMPRO_VISOR)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    corpus = generate_blues_corpus(args.choruses, seed=args.seed)
    training = phrase_set(corpus)
    fresh = generate_blues_corpus(args.choruses, seed=args.seed + 1)
    rows = {
        f"procedural corpus ({args.choruses} choruses, seed {args.seed})": corpus,
        f"procedural corpus, fresh seed {args.seed + 1}": fresh,
        "random-pitch baseline of the corpus": [random_pitch_baseline(s, i) for i, s in enumerate(corpus)],
    }
    parsed = None
    if args.impro_visor.is_dir():
        real, total, reasons = impro_visor_sheets(args.impro_visor)
        parsed = (total - sum(reasons.values()), total, reasons, len(real))
        if real:
            rows[f"Impro-Visor blues solos/melodies ({len(real)} files)"] = real
            rows["random-pitch baseline of Impro-Visor"] = [random_pitch_baseline(s, i) for i, s in enumerate(real)]
    results = {name: summarise_corpus(sheets, training) | {"sheets": len(sheets)} for name, sheets in rows.items()}
    if args.json:
        print(json.dumps({"results": results, "impro_visor_parsed": parsed and parsed[:2]}, indent=1))
        return
    print("| source | sheets | notes | " + " | ".join(title for _, title, _ in COLUMNS) + " |")
    print("| --- " * (len(COLUMNS) + 3) + "|")
    for name, r in results.items():
        cells = [fmt.format(r[key]) for key, _, fmt in COLUMNS]
        print(f"| {name} | {r['sheets']} | {int(r['notes']):,} | " + " | ".join(cells) + " |")
    if parsed:
        ok, total, reasons, with_melody = parsed
        print(f"\nImpro-Visor: {ok} of {total} lead sheets parse ({with_melody} with more than 10 melody notes)")
        for reason, count in reasons.most_common():
            print(f"  {count} x {reason}")
    else:
        print(f"\nImpro-Visor lead sheets not found at {args.impro_visor}: rows left out")


if __name__ == "__main__":
    main()
