"""A small folder in the jazz layout (the Weimar Jazz Database's columns), written by the tests themselves.

Each solo is a few choruses of a 12-bar blues or a ii-V-I chart with a line of swung eighths, sixteenths, triplets
and rests drawn from a seeded random walk; onsets and beat-track times are consistent at the solo's tempo, so the
reader computes the same lengths a real transcription gives.
"""

from __future__ import annotations

import csv
import gzip
import random
from pathlib import Path

BLUES = ["Bb7", "Eb7", "Bb7", "Bb7", "Eb7", "Eb7", "Bb7", "G7", "C-7", "F7", "Bb7", "F7"]
TWO_FIVE = ["D-7", "G7", "Cj7", "Cj7", "F-7", "Bb79b", "Ebj7911#", "Am7b5"]
SOLO_COLUMNS = ["melid", "id", "performer", "title", "titleaddon", "solopart", "instrument", "style", "rhythmfeel",
                "signature", "key", "avgtempo", "tempoclass", "template", "form", "chorus_count", "recordingyear",
                "number_notes", "chord_changes"]
NOTE_COLUMNS = ["melid", "event_id", "onset", "duration", "pitch", "bar", "beat", "tatum", "division", "period",
                "mcm_48", "chorus_id", "phrase_id", "chord"]
BEAT_COLUMNS = ["melid", "onset", "duration", "bar", "beat", "period", "division", "signature", "chord",
                "chord_change", "form", "chorus_id", "bass"]
# (ticks within a beat of each onset): quarter, swung/straight eighths, a triplet, sixteenths, a rest
RHYTHMS = ((0,), (0, 6), (0, 8), (0, 4, 8), (0, 3, 6, 9), ())


def solo_rows(melid: int, performer: str, style: str, chart: list[str], choruses: int, tempo: float,
              seed: int, signature: str = "4/4") -> tuple[dict, list[dict], list[dict]]:
    rng = random.Random(seed)
    beat_seconds = 60.0 / tempo
    beats, notes = [], []
    pitch, event = 62, 0
    bars = len(chart) * choruses
    for bar in range(bars):
        chord = chart[bar % len(chart)]
        for beat in range(4):
            onset = 1.0 + (bar * 4 + beat) * beat_seconds
            beats.append({"melid": melid, "onset": f"{onset:.4f}", "duration": f"{beat_seconds:.4f}", "bar": bar,
                          "beat": beat + 1, "period": 4, "division": 1, "signature": signature, "chord": chord,
                          "chord_change": beat == 0, "form": "A1", "chorus_id": bar // len(chart) + 1, "bass": 40})
            rhythm = rng.choice(RHYTHMS) if bar < bars - 1 or beat < 3 else ()
            for tick in rhythm:
                pitch = max(50, min(80, pitch + rng.choice((-4, -2, -1, 1, 2, 3, 5))))
                event += 1
                notes.append({"melid": melid, "event_id": event, "onset": f"{onset + tick / 12 * beat_seconds:.4f}",
                              "duration": f"{0.8 * beat_seconds / max(1, len(rhythm)):.4f}", "pitch": pitch,
                              "bar": bar, "beat": beat + 1, "tatum": 1, "division": len(rhythm), "period": 4,
                              "mcm_48": beat * 12 + tick, "chorus_id": bar // len(chart) + 1, "phrase_id": 1,
                              "chord": chord})
    meta = {"melid": melid, "id": f"{performer.replace(' ', '')}_Tune{melid}_FINAL.sv", "performer": performer,
            "title": f"Tune {melid}", "titleaddon": "", "solopart": 1, "instrument": "ts", "style": style,
            "rhythmfeel": "SWING", "signature": signature, "key": "Bb-maj", "avgtempo": tempo, "tempoclass": "MEDIUM",
            "template": "Blues" if chart is BLUES else "", "form": "(A1,12)", "chorus_count": choruses,
            "recordingyear": 1960, "number_notes": len(notes), "chord_changes": " | ".join(chart)}
    return meta, notes, beats


def write_jazz_folder(folder: Path, solos: int = 12, bad_row: bool = False, waltz: bool = False) -> Path:
    """Write ``solos`` synthetic solos (blues and ii-V charts, three players, two styles) in the jazz layout."""
    folder.mkdir(parents=True, exist_ok=True)
    metas, notes, beats = [], [], []
    players = (("Test Bird", "BEBOP"), ("Test Trane", "HARDBOP"), ("Test Miles", "COOL"))
    for melid in range(1, solos + 1):
        performer, style = players[melid % len(players)]
        chart = BLUES if melid % 2 else TWO_FIVE
        meta, n, b = solo_rows(melid, performer, style, chart, 2, 120.0 + 20 * (melid % 4), seed=melid)
        metas.append(meta)
        notes += n
        beats += b
    if waltz:
        meta, n, b = solo_rows(solos + 1, "Test Waltzer", "POSTBOP", BLUES, 1, 150.0, seed=99, signature="3/4")
        metas.append(meta)
        notes += n
        beats += b
    if bad_row:
        notes.append({**notes[0], "pitch": "not-a-pitch"})
    with open(folder / "wjd_solos.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, SOLO_COLUMNS)
        writer.writeheader()
        writer.writerows(metas)
    for name, columns, rows in (("wjd_notes.csv.gz", NOTE_COLUMNS, notes), ("wjd_beats.csv.gz", BEAT_COLUMNS, beats)):
        with gzip.open(folder / name, "wt", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, columns)
            writer.writeheader()
            writer.writerows(rows)
    return folder


def train_small_trade(folder: Path, out: Path, *flags: str) -> int:
    """``studio train trade`` of a small call-and-response model on a jazz folder (one epoch of 32 pairs) with the
    model ``flags`` given (``--copy``, ``--aligned`` ...); the command's exit code."""
    from studio.cli import main

    return main(["train", "trade", "--corpus", str(folder), "--out", str(out), *flags, "--hidden", "24",
                 "--encoder-hidden", "12", "--batch-size", "8", "--max-epochs", "1", "--max-pairs", "32"])


def scale_call() -> list:
    """A call of 24 eighth notes up and down a major scale from middle C (ticks, 48 a bar)."""
    from studio.music.jazz.corpus import SoloNote

    return [SoloNote(t * 6, 6, 60 + (0, 2, 4, 5, 7, 5, 4, 2)[t % 8]) for t in range(24)]
