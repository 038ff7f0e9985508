"""A call from a file or from the page's keyboard: its top line on the 48-per-bar grid, checked before answering.

A call is 4/4 (the soloist trades in 4/4), has notes, and fits the bars asked for. A file's notes are read at the
file's own beat (MIDI ticks, so its tempo does not matter); a played call arrives as (pitch, start, end) in seconds
since the count-in's downbeat, at the tempo it was played to. Onsets go to the nearest 48th of a bar, and where two
notes start together the higher one is the line (the skyline).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path

from studio.errors import StudioError
from studio.music.jazz.corpus import TICKS_PER_BAR, TICKS_PER_BEAT, SoloNote

MAX_PLAYED_NOTES = 2000


def line(timed: Iterable[tuple[int, float, float]], bars: int, source: str) -> list[SoloNote]:
    """The top line of (pitch, start, end) in ticks: one note per onset (the highest), each cut at the next onset;
    a StudioError when there is none or it runs past ``bars`` bars."""
    by_onset: dict[int, tuple[int, int]] = {}
    for pitch, start, end in timed:
        onset = max(0, round(start))
        length = max(1, round(end) - onset)
        if onset not in by_onset or pitch > by_onset[onset][0]:
            by_onset[onset] = (pitch, length)
    if not by_onset:
        raise StudioError(f"{source} has no notes: a call needs at least one")
    onsets = sorted(by_onset)
    notes = [SoloNote(t, min(by_onset[t][1], nxt - t), by_onset[t][0])
             for t, nxt in zip(onsets, [*onsets[1:], onsets[-1] + by_onset[onsets[-1]][1]], strict=True)]
    length_bars = math.ceil(max(n.onset + 1 for n in notes) / TICKS_PER_BAR)
    if length_bars > bars:
        raise StudioError(f"{source} is {length_bars} bars long; a call takes {bars} (say --bars {length_bars}, or "
                          "trim it)")
    end = bars * TICKS_PER_BAR
    return [SoloNote(n.onset, min(n.duration, end - n.onset), n.pitch) for n in notes]


def call_from_file(path: str | Path, bars: int) -> list[SoloNote]:
    """The call in a MIDI or MusicXML file (its top line, at the file's beat)."""
    from studio.music.io.file_types import MIDI_SUFFIXES
    from studio.music.io.midi import load_midi, load_score, score_to_midi

    file = Path(path)
    midi = load_midi(file) if file.suffix.lower() in MIDI_SUFFIXES else score_to_midi(load_score(file), file.name)
    meters = {(ts.numerator, ts.denominator) for ts in midi.time_signature_changes}
    if meters - {(4, 4)}:
        shown = ", ".join(f"{n}/{d}" for n, d in sorted(meters - {(4, 4)}))
        raise StudioError(f"{file.name} is in {shown}; calls are traded in 4/4")
    per_tick = TICKS_PER_BEAT / midi.resolution
    timed = [(n.pitch, midi.time_to_tick(n.start) * per_tick, midi.time_to_tick(n.end) * per_tick)
             for inst in midi.instruments if not inst.is_drum for n in inst.notes]
    return line(timed, bars, file.name)


def call_from_played(played: Sequence[Sequence[float]], tempo: float, bars: int) -> list[SoloNote]:
    """The call played on the page's keyboard: ``[pitch, start_s, end_s]`` rows, seconds from the downbeat after
    the count-in, at ``tempo``."""
    if len(played) > MAX_PLAYED_NOTES:
        raise StudioError(f"the call has {len(played)} notes; a call takes at most {MAX_PLAYED_NOTES}")
    per_second = tempo / 60.0 * TICKS_PER_BEAT
    timed = []
    for row in played:
        if len(row) != 3 or not all(isinstance(x, (int, float)) for x in row):
            raise StudioError("a played note is [pitch, start seconds, end seconds]")
        pitch, start, end = int(row[0]), float(row[1]), float(row[2])
        if not 0 <= pitch <= 127 or not math.isfinite(start) or not math.isfinite(end) or end < start:
            raise StudioError(f"a played note is not playable: {list(row)}")
        timed.append((pitch, max(0.0, start) * per_second, max(start, end) * per_second))
    return line(timed, bars, "the played call")
