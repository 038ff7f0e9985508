"""Where the Weimar Jazz Database's players put the off-beat eighth its grid writes straight, by tempo.

    python benchmarks/jazz_swing.py

For every note of a 4/4, swing-feel solo at the straight off-beat position (``mcm_48`` 6 of a beat), its onset in
the recording is placed between the onsets of its beat and the next in the beat track; the median share per solo
(solos with at least 10 such notes) is then summarised by tempo band. The table is
``studio.music.jazz.performance.OFFBEAT_EIGHTH``, the time the soloist's straight off-beat eighths are played at.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import statistics
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BANDS = ((0, 100), (100, 140), (140, 180), (180, 220), (220, 260), (260, 1000))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpora" / "jazz"))
    args = parser.parse_args(argv)
    folder = Path(args.corpus)
    with open(folder / "wjd_solos.csv", encoding="utf-8", newline="") as handle:
        solos = {r["melid"]: r for r in csv.DictReader(handle)
                 if r["signature"] == "4/4" and r["rhythmfeel"] == "SWING"}
    beats = {}
    with gzip.open(folder / "wjd_beats.csv.gz", "rt", encoding="utf-8", newline="") as handle:
        for r in csv.DictReader(handle):
            beats[r["melid"], int(r["bar"]), int(r["beat"])] = float(r["onset"])
    shares = defaultdict(list)
    with gzip.open(folder / "wjd_notes.csv.gz", "rt", encoding="utf-8", newline="") as handle:
        for r in csv.DictReader(handle):
            melid, bar, position = r["melid"], int(r["bar"]), int(r["mcm_48"])
            if melid not in solos or position % 12 != 6:
                continue
            beat = position // 12 + 1
            start = beats.get((melid, bar, beat))
            end = beats.get((melid, bar, beat + 1)) if beat < 4 else beats.get((melid, bar + 1, 1))
            if start is not None and end is not None and end > start:
                shares[melid].append((float(r["onset"]) - start) / (end - start))
    per_solo = [(float(solos[m]["avgtempo"]), statistics.median(v)) for m, v in shares.items() if len(v) >= 10]
    print("tempo band (bpm)   solos   straight off-beat eighth at (share of the beat, median of solo medians)")
    for low, high in BANDS:
        inside = [share for tempo, share in per_solo if low <= tempo < high]
        if inside:
            print(f"{low:>5}-{high:<5}      {len(inside):5d}   {statistics.median(inside):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
