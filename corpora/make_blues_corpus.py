"""Regenerate the procedural blues corpus, the training data of the shipped blues improviser.

    python corpora/make_blues_corpus.py --choruses 2000 --seed 0 --out runs/data/blues-procedural

writes one MIDI file per lead sheet (a melody track and a block-chord track, tempo set; read back with
``studio.music.leadsheet.procedural.read_corpus``) and ``manifest.json``: the command, the parameters, the files with
their sha256, and the corpus's musical metrics (``studio.music.leadsheet.metrics``). The same arguments always give
byte-identical files. A folder that already holds MIDI files is refused unless ``--overwrite`` is given, so two
corpora never mix.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shlex
import sys
import time
from pathlib import Path

from studio.errors import StudioError
from studio.music.leadsheet.metrics import summarise_corpus
from studio.music.leadsheet.procedural import DEFAULT_FORMS, generate_blues_corpus, write_corpus


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--choruses", type=int, default=2000, help="total choruses (default 2000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--out", default="runs/data/blues-procedural", help="output folder")
    parser.add_argument("--forms", default=",".join(DEFAULT_FORMS), help="comma-separated blues forms")
    parser.add_argument("--keys", default="all", help="comma-separated keys (C,F,Bb...) or 'all' (default)")
    parser.add_argument("--overwrite", action="store_true", help="replace MIDI files already in --out")
    args = parser.parse_args(argv)
    try:
        out = Path(args.out)
        old = sorted(out.glob("*.mid")) if out.is_dir() else []
        if old and not args.overwrite:
            raise StudioError(f"{out} already holds {len(old)} MIDI files: pass --overwrite to replace them, "
                              "or choose another --out")
        forms = tuple(f.strip() for f in args.forms.split(",") if f.strip())
        keys = tuple(range(12)) if args.keys == "all" else tuple(k.strip() for k in args.keys.split(","))
        started = time.perf_counter()
        sheets = generate_blues_corpus(args.choruses, seed=args.seed, forms=forms, keys=keys)
        for path in old:
            path.unlink()
        paths = write_corpus(sheets, out)
        seconds = time.perf_counter() - started
        manifest = {
            "command": "python corpora/make_blues_corpus.py " + shlex.join(argv if argv is not None else sys.argv[1:]),
            "choruses": args.choruses, "seed": args.seed, "forms": list(forms), "keys": args.keys,
            "sheets": len(sheets), "notes": sum(len(s.melody) for s in sheets),
            "metrics": summarise_corpus(sheets) if sheets else {},
            "files": {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths},
        }
        (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    except StudioError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{len(sheets)} lead sheets, {args.choruses} choruses, {manifest['notes']:,} notes -> {out} "
          f"({seconds:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
