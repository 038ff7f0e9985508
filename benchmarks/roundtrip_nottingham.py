"""Round-trip every Nottingham MIDI file through ``leadsheet_from_midi`` and the ``LeadSheetTokenizer``.

The Nottingham database (jukedeck's cleaned MIDI, ``../shared/corpora/nottingham-midi``) has, for each tune,
``MIDI/<tune>.mid`` (melody + chord tracks) and ``MIDI/melody/<tune>.mid`` (the melody alone). Each full file is
read as a user's file would be (``load_midi`` -> ``leadsheet_from_midi``), encoded and decoded; the decoded notes
are compared with

* the lead sheet's own notes (the tokenizer's round trip: should be exact unless a note left the pitch range), and
* the separate melody file (end to end: melody choice, skyline, grid and tokenizer together). A source note
  survives when a decoded note has its pitch and starts and ends on the grid steps nearest to its onset and end.

    python benchmarks/roundtrip_nottingham.py                 # every file, the figures in the final report
    python benchmarks/roundtrip_nottingham.py --limit 50 --json
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

import pretty_midi

from studio.errors import StudioError
from studio.music.io.leadsheet_extract import leadsheet_from_midi
from studio.music.io.midi import load_midi
from studio.music.leadsheet.tokenizer import LeadSheetTokenizer
from studio.music.theory.chords import NO_CHORD, STEPS_PER_BEAT

DEFAULT_CORPUS = Path(__file__).resolve().parents[1] / ".." / "shared" / "corpora" / "nottingham-midi"


def source_notes(pm: pretty_midi.PrettyMIDI) -> list[tuple[int, float, float]]:
    """(pitch, onset step, end step) of every note of a melody file, in exact (fractional) grid steps."""
    scale = STEPS_PER_BEAT / pm.resolution
    return [(n.pitch, pm.time_to_tick(n.start) * scale, pm.time_to_tick(n.end) * scale)
            for inst in pm.instruments if not inst.is_drum for n in inst.notes]


def compare(source: list[tuple[int, float, float]], decoded: dict[int, tuple[int, int]], counts: Counter) -> None:
    """Count source notes that survive, and why the others do not."""
    for pitch, onset, end in source:
        counts["source notes"] += 1
        on_grid = abs(onset - round(onset)) < 1e-6 and abs(end - round(end)) < 1e-6
        counts["source notes on the 16th grid"] += on_grid
        hit = decoded.get(round(onset))
        if hit is None:
            counts["lost: no decoded note at its onset"] += 1
        elif hit[0] != pitch:
            counts["lost: other pitch at its onset"] += 1
        elif hit[1] != round(end):
            counts["lost: other end"] += 1
        else:
            counts["survived (pitch, onset, duration)"] += 1


def run(corpus: Path, limit: int | None) -> dict:
    files = sorted((corpus / "MIDI").glob("*.mid"))[:limit]
    if not files:
        raise SystemExit(f"no MIDI files under {corpus / 'MIDI'}; see ../shared/corpora/README.md")
    tok = LeadSheetTokenizer()
    rel = LeadSheetTokenizer(key_relative=True)
    counts: Counter = Counter()
    skipped: list[tuple[str, str]] = []
    qualities: Counter = Counter()
    started = time.perf_counter()
    for path in files:
        try:
            sheet = leadsheet_from_midi(load_midi(path), name=path.stem)
        except StudioError as err:
            skipped.append((path.name, str(err)))
            continue
        counts["files read"] += 1
        events = tok.encode(sheet)
        counts["notes moved into range"] += sum(tok.last_out_of_range.values())
        decoded = tok.decode(events.tokens)
        own = [(n.pitch, n.start, n.duration) for n in sheet.melody]
        counts["lead-sheet notes"] += len(own)
        counts["lead-sheet notes exact after the tokenizer"] += len(set(own) & {(n.pitch, n.start, n.duration)
                                                                               for n in decoded})
        rel_events = rel.encode(sheet)
        back = {(n.pitch, n.start, n.duration) for n in rel.decode(rel_events.tokens, offset=rel_events.offset)}
        counts["lead-sheet notes exact, key-relative"] += len(set(own) & back)
        chords = [c for bar in sheet.chart.bars for c in bar]
        counts["bars"] += sheet.chart.num_bars
        counts["bars with a chord"] += sum(any(c != NO_CHORD for c in bar) for bar in sheet.chart.bars)
        qualities.update(c.quality for c in chords if c != NO_CHORD)
        melody_file = corpus / "MIDI" / "melody" / path.name
        if melody_file.exists():
            compare(source_notes(load_midi(melody_file)), {n.start: (n.pitch, n.end) for n in decoded}, counts)
    seconds = time.perf_counter() - started
    return {"files": len(files), "read": counts["files read"], "skipped": skipped, "seconds": round(seconds, 1),
            "counts": dict(counts), "chord_qualities": dict(qualities.most_common())}


def share(counts: dict, part: str, whole: str) -> str:
    num, den = counts.get(part, 0), counts.get(whole, 0)
    return f"{num:,} / {den:,} = {num / max(den, 1):.4%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="the nottingham-midi folder")
    parser.add_argument("--limit", type=int, default=None, help="only the first N files (sorted by name)")
    parser.add_argument("--json", action="store_true", help="print the raw figures as JSON")
    args = parser.parse_args()
    result = run(args.corpus, args.limit)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    c = result["counts"]
    print(f"files: {result['files']}, read: {result['read']}, skipped: {len(result['skipped'])} "
          f"({result['seconds']} s)")
    for name, reason in result["skipped"]:
        print(f"  skipped {name}: {reason}")
    print("tokenizer round trip (lead sheet -> events -> notes):", share(c, "lead-sheet notes exact after the "
                                                                       "tokenizer", "lead-sheet notes"))
    print("  key-relative, offset undone:", share(c, "lead-sheet notes exact, key-relative", "lead-sheet notes"))
    print("  notes moved into 36..96:", c.get("notes moved into range", 0))
    print("end to end vs MIDI/melody (pitch, onset, duration up to the grid):",
          share(c, "survived (pitch, onset, duration)", "source notes"))
    print("  source notes exactly on the 16th grid:", share(c, "source notes on the 16th grid", "source notes"))
    for reason in ("lost: no decoded note at its onset", "lost: other pitch at its onset", "lost: other end"):
        print(f"  {reason}: {c.get(reason, 0):,}")
    print("bars with a chord:", share(c, "bars with a chord", "bars"))
    print("chord qualities:", ", ".join(f"{q} {n:,}" for q, n in result["chord_qualities"].items()))


if __name__ == "__main__":
    main()
