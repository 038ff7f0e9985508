"""Write the solos of some players (or styles) of a jazz-layout folder into a new folder of the same layout, to
fine-tune the soloist on them (``studio finetune --base jazz --corpus OUT``).

    python scripts/jazz_subset.py --performer "Charlie Parker" --out runs/data/parker

Rows are copied as they are: ``wjd_solos.csv`` keeps the chosen solos, ``wjd_notes.csv.gz`` and ``wjd_beats.csv.gz``
their notes and beats (by ``melid``), and the Omnibook files (``omnibook_solos.csv``, ``omnibook_notes.csv.gz``)
their chosen pieces. Each solo keeps its id, so it falls in the same split (train, valid or test) as in the whole
corpus: a fine-tune is validated and tested on solos the shipped model did not train on.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _open(path: Path, mode: str):
    return gzip.open(path, mode + "t", encoding="utf-8", newline="") if path.suffix == ".gz" else \
        open(path, mode, encoding="utf-8", newline="")


def copy_rows(source: Path, target: Path, keep: Callable[[dict[str, str]], bool]) -> int:
    """Copy the header and the rows ``keep`` accepts; returns how many rows were kept."""
    csv.field_size_limit(sys.maxsize)  # the chord_changes column holds whole charts
    kept = 0
    with _open(source, "r") as inp, _open(target, "w") as out:
        reader = csv.DictReader(inp)
        writer = csv.DictWriter(out, reader.fieldnames or [])
        writer.writeheader()
        for row in reader:
            if keep(row):
                writer.writerow(row)
                kept += 1
    return kept


def subset(corpus: Path, out: Path, performers: set[str], styles: set[str]) -> dict[str, int]:
    """Write the chosen solos of ``corpus`` into ``out``; a solo is chosen when its performer or style is asked for
    (case-insensitive). Returns the rows written per file."""
    def chosen(row: dict[str, str]) -> bool:
        return row.get("performer", "").lower() in performers or row.get("style", "").lower() in styles

    out.mkdir(parents=True, exist_ok=True)
    counts = {"wjd_solos.csv": copy_rows(corpus / "wjd_solos.csv", out / "wjd_solos.csv", chosen)}
    with _open(out / "wjd_solos.csv", "r") as handle:
        melids = {row["melid"] for row in csv.DictReader(handle)}
    for name in ("wjd_notes.csv.gz", "wjd_beats.csv.gz"):
        counts[name] = copy_rows(corpus / name, out / name, lambda row: row["melid"] in melids)
    if (corpus / "omnibook_solos.csv").exists():
        counts["omnibook_solos.csv"] = copy_rows(corpus / "omnibook_solos.csv", out / "omnibook_solos.csv", chosen)
        with _open(out / "omnibook_solos.csv", "r") as handle:
            ids = {row["id"] for row in csv.DictReader(handle)}
        counts["omnibook_notes.csv.gz"] = copy_rows(corpus / "omnibook_notes.csv.gz", out / "omnibook_notes.csv.gz",
                                                    lambda row: row["id"] in ids)
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpora" / "jazz"))
    parser.add_argument("--performer", action="append", default=[], help="a player's name as the corpus spells it "
                        "(repeat for several)")
    parser.add_argument("--style", action="append", default=[], help="a style (swing, bebop, cool, hardbop, "
                        "postbop...; repeat for several)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    if not args.performer and not args.style:
        parser.error("name at least one --performer or --style")
    counts = subset(Path(args.corpus), Path(args.out), {p.lower() for p in args.performer},
                    {s.lower() for s in args.style})
    solos = counts["wjd_solos.csv"] + counts.get("omnibook_solos.csv", 0)
    if not solos:
        print(f"no solo of {', '.join(args.performer + args.style)} in {args.corpus}", file=sys.stderr)
        return 1
    print(f"wrote {solos} solos to {args.out}: " + ", ".join(f"{name} {n} rows" for name, n in counts.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
