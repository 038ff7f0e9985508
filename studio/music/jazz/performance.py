"""A jazz solo performed: dynamics as a horn player shapes a line, the band in the solo's own swing, MIDI and score.

The solo's timing is played as generated: its triplets and the off-beats its transcribers placed late (on the
third triplet) are in the notes. Only the off-beat eighth the grid writes straight (8th position of the beat) gets a
time of its own, the one the Weimar Jazz Database's players gave it at that tempo (measured from the recordings'
onsets against their beat tracks: ``OFFBEAT_EIGHTH``, reproduced by ``benchmarks/jazz_swing.py``). The band then
swings with the solo's own feel (``swing_of``: where its off-beat eighths fall on average), so lead and band share
one swing, applied once. Velocities follow the line (``dynamics``): peaks and anticipations are accented, quick
passing notes sound softer, a phrase opens a little stronger.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from itertools import pairwise

import pretty_midi

from studio.music.band.render import SWING_RANGE, render_midi
from studio.music.jazz.corpus import TICKS_PER_BAR, TICKS_PER_BEAT, SoloNote
from studio.music.theory.chords import STEPS_PER_BEAT, ChordChart, LeadSheet, Note

BASE_VELOCITY = 84
PEAK, ANTICIPATION, PHRASE_START, PASSING = 14, 10, 6, -16
# Where the off-beat eighth written on the straight 8th falls, as a share of its beat, by tempo (bpm, upper bound):
# medians over WJD swing-feel solos (benchmarks/jazz_swing.py). Jazz players swing hardest at medium tempi.
OFFBEAT_EIGHTH = ((100, 0.509), (140, 0.529), (180, 0.582), (220, 0.596), (260, 0.569), (1000, 0.524))
PERFORMED_GRID = 120  # steps per beat of the performed lead: fine enough for any measured placement


def dynamics(notes: Sequence[SoloNote]) -> list[int]:
    """A MIDI velocity for each note (1..127) from its place in the line.

    A note higher than both neighbours (a peak) and a note struck off the beat that sounds across the next beat
    (an anticipation) are accented; a short note passing by step between two others is played softer; the first
    note after a rest of a beat or more opens its phrase a little stronger.
    """
    out = []
    for i, note in enumerate(notes):
        before = notes[i - 1] if i else None
        after = notes[i + 1] if i + 1 < len(notes) else None
        velocity = BASE_VELOCITY
        if before and after and note.pitch > before.pitch and note.pitch > after.pitch:
            velocity += PEAK
        next_beat = (note.onset // TICKS_PER_BEAT + 1) * TICKS_PER_BEAT
        if note.onset % TICKS_PER_BEAT and note.onset + note.duration > next_beat:
            velocity += ANTICIPATION
        if before is None or note.onset - (before.onset + before.duration) >= TICKS_PER_BEAT:
            velocity += PHRASE_START
        elif (after and note.duration <= TICKS_PER_BEAT // 3 and abs(note.pitch - before.pitch) <= 2
              and abs(after.pitch - note.pitch) <= 2):
            velocity += PASSING
        out.append(max(1, min(127, velocity)))
    return out


def straight_eighth_place(tempo: float) -> float:
    """Where the WJD players put an off-beat eighth written straight, at ``tempo`` (share of the beat)."""
    return OFFBEAT_EIGHTH[bisect.bisect_left([t for t, _ in OFFBEAT_EIGHTH], tempo)][1]


def place(position: int, eighth: float) -> float:
    """Where grid ``position`` (0..12 within a beat) is played, as a share of the beat: the straight off-beat
    eighth (6) at ``eighth``, the triplets (4, 8) and the beat exact, positions between them moved in proportion."""
    eighth = min(max(eighth, 0.5), 0.65)  # between the triplets around it, so notes keep their order
    anchors = ((0, 0.0), (4, 4 / 12), (6, eighth), (8, 8 / 12), (12, 1.0))
    for (a, pa), (b, pb) in pairwise(anchors):
        if position <= b:
            return pa + (position - a) * (pb - pa) / (b - a)
    return 1.0


def swing_of(notes: Sequence[SoloNote], tempo: float, eighth: float | None = None) -> float:
    """The solo's swing ratio for the band: where its off-beat eighths (positions 6-8 of beats holding at most two
    notes) are played on average, the straight ones at ``eighth`` (default: the WJD players' at ``tempo``)."""
    eighth = straight_eighth_place(tempo) if eighth is None else eighth
    by_beat: dict[int, list[int]] = {}
    for note in notes:
        by_beat.setdefault(note.onset // TICKS_PER_BEAT, []).append(note.onset % TICKS_PER_BEAT)
    places = [place(p, eighth) for inside in by_beat.values() if len(inside) <= 2 for p in inside if 6 <= p <= 8]
    feel = sum(places) / len(places) if places else eighth
    low, high = SWING_RANGE
    return min(high, max(low, feel))


def lead_sheet(notes: Sequence[SoloNote], chart: ChordChart, tempo: float, eighth: float,
               name: str = "") -> LeadSheet:
    """The solo as played: a ``LeadSheet`` on the ``PERFORMED_GRID`` (steps a beat), each onset and end at its
    ``place`` (straight off-beat eighths at ``eighth``), velocities from ``dynamics``, over one chorus of the chart
    (``render_midi(..., choruses=, lead_grid=PERFORMED_GRID)`` repeats it)."""

    def at(tick: int) -> int:
        beat, position = divmod(tick, TICKS_PER_BEAT)
        return beat * PERFORMED_GRID + round(place(position, eighth) * PERFORMED_GRID)

    melody = []
    for note, velocity in zip(notes, dynamics(notes), strict=True):
        start = at(note.onset)
        melody.append(Note(note.pitch, start, max(1, at(note.onset + note.duration) - start), velocity))
    return LeadSheet(melody, chart, tempo, name)


def solo_instrument(notes: Sequence[SoloNote], tempo: float, name: str, program: int = 66,
                    start_bar: int = 0, eighth: float | None = None) -> pretty_midi.Instrument:
    """One more soloist beside a band (a call, a response): ``notes`` from bar ``start_bar``, placed and shaped as
    ``perform`` places the lead (straight off-beat eighths at ``eighth``, default the WJD players' at ``tempo``)."""
    eighth = straight_eighth_place(tempo) if eighth is None else eighth
    shifted = [SoloNote(n.onset + start_bar * TICKS_PER_BAR, n.duration, n.pitch) for n in notes]
    sheet = lead_sheet(shifted, ChordChart([[]]), tempo, eighth, name)
    seconds = 60.0 / tempo / PERFORMED_GRID
    instrument = pretty_midi.Instrument(program=program, name=name)
    instrument.notes = [pretty_midi.Note(velocity=n.velocity, pitch=n.pitch, start=n.start * seconds,
                                         end=n.end * seconds) for n in sheet.melody]
    return instrument


def perform(notes: Sequence[SoloNote], chart: ChordChart, choruses: int, tempo: float, *,
            swing: float | None = None, lead_program: int = 66, bass_style: str = "walking",
            comping_instrument: str = "piano", parts: Mapping[str, bool] | None = None, seed: int = 0,
            meta: Mapping[str, object] | None = None, name: str = "") -> pretty_midi.PrettyMIDI:
    """The solo with the band as General MIDI. With ``swing`` given, the lead's straight off-beat eighths and the
    band's both fall there; by default the lead plays them as the WJD players did at ``tempo`` and the band swings
    with the solo's own feel (``swing_of``)."""
    eighth = straight_eighth_place(tempo) if swing is None else swing
    feel = swing_of(notes, tempo, eighth) if swing is None else swing
    sheet = lead_sheet(notes, chart, tempo, eighth, name)
    return render_midi(sheet, tempo=tempo, swing=feel, choruses=choruses, lead_program=lead_program,
                       bass_style=bass_style, comping_instrument=comping_instrument, parts=parts, seed=seed,
                       meta={**dict(meta or {}), "band_swing": round(feel, 3), "straight_eighth_at": round(eighth, 3)},
                       lead_grid=PERFORMED_GRID)


def score_sheet(notes: Sequence[SoloNote], chart: ChordChart, choruses: int, tempo: float,
                name: str = "") -> LeadSheet:
    """The solo for the score, on the 16th grid the notation writer reads: each onset to the nearest 16th (a swung
    or triplet eighth reads as the off-beat eighth, as lead sheets write swing), one note per 16th."""
    ratio = TICKS_PER_BEAT // STEPS_PER_BEAT
    melody: list[Note] = []
    for note in notes:
        start = round(note.onset / ratio)
        end = max(start + 1, round((note.onset + note.duration) / ratio))
        if melody and melody[-1].start == start:
            continue  # two notes within one 16th: the score keeps the first
        if melody and melody[-1].end > start:
            melody[-1] = Note(melody[-1].pitch, melody[-1].start, start - melody[-1].start, melody[-1].velocity)
        melody.append(Note(note.pitch, start, end - start))
    bars = choruses * chart.num_bars
    melody = [n for n in melody if n.start < bars * TICKS_PER_BAR // ratio]
    return LeadSheet(melody, ChordChart([bar for _ in range(choruses) for bar in chart.bars]), tempo, name)
