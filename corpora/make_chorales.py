"""Write music21's bundled Bach chorales as MIDI files: the training corpus of the shipped chorale model.

    python corpora/make_chorales.py [--out runs/data/chorales]

music21 ships 371 four-part chorales offline (``corpus.chorales.Iterator()``). Each is written as one MIDI file
(all four voices); chorales whose repeats are badly formed (e.g. bwv277) are read once through, as written; any
chorale music21 cannot turn into MIDI is skipped and reported.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from studio.errors import StudioError
from studio.music.io.export import write_midi
from studio.music.io.midi import score_to_midi


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/data/chorales")
    parser.add_argument("--limit", type=int, default=0, help="stop after this many chorales (0: all)")
    args = parser.parse_args()
    from music21 import corpus

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    written, skipped = 0, []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i, score in enumerate(corpus.chorales.Iterator(returnType="stream")):
            name = (score.metadata.corpusFilePath or f"chorale-{i:03d}").replace("/", "_").rsplit(".", 1)[0]
            try:
                write_midi(score_to_midi(score, name=name), out / f"{name}.mid")
                written += 1
            except StudioError as err:
                skipped.append((name, str(err)))
            if args.limit and written >= args.limit:
                break
    for name, reason in skipped:
        print(f"skipped {name}: {reason}", file=sys.stderr)
    print(f"wrote {written} chorales to {out} ({len(skipped)} skipped)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
