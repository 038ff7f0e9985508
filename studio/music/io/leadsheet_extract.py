"""Reduce a piece to a lead sheet: its melody on the 16th-note grid and its chord chart.

``leadsheet_from_midi`` and ``leadsheet_from_music21`` build a ``LeadSheet``:

* The grid. Notes are placed by their position in beats (MIDI ticks, or music21 offsets), 4 steps per quarter
  note, never by seconds: a tempo change moves no note off the grid. The lead sheet keeps one tempo, the file's
  first, so a piece with several tempos plays back at its first tempo throughout.
* Bars. A lead sheet's bars are 16 steps (4 quarter notes). A piece in another meter (3/4, 6/8) keeps every onset
  and duration exactly, but its chart's "bars" are 4-quarter spans, not its measures. Chords are found per beat
  of the piece's own meter (a 6/8 beat is a dotted quarter) and the chart holds one per quarter note
  (``chart_from_sounding``), so no change on a quarter-note boundary is lost.
* Melody: the skyline (``skyline``) of one line; chords: from a separate accompaniment (MIDI tracks, or the other
  parts of a score) or, for scores, from chord symbols (ABC's quoted chords); none gives an "N.C." chart.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pretty_midi

from studio.errors import StudioError
from studio.music.io.midi import SCORE_FORMATS, load_midi, load_score, pitched_elements
from studio.music.theory.chords import (
    CHORD_VOCAB,
    NO_CHORD,
    QUALITIES,
    STEPS_PER_BAR,
    STEPS_PER_BEAT,
    Chord,
    ChordChart,
    LeadSheet,
    Note,
)

CELL = STEPS_PER_BEAT           # a chart holds at most one chord per quarter note
_MIN_SHARE = 0.05               # pitch classes below this share of a cell's sound are passing noise


def load_leadsheet(path: str | Path, index: int = 0) -> LeadSheet:
    """The lead sheet of any supported file (MIDI via ``leadsheet_from_midi``, scores via
    ``leadsheet_from_music21``, keeping their chord symbols)."""
    path = Path(path)
    if path.suffix.lower() in SCORE_FORMATS:
        return leadsheet_from_music21(load_score(path, index), name=path.stem)
    return leadsheet_from_midi(load_midi(path), name=path.stem)


# -- melody -------------------------------------------------------------------------------------------------------
def skyline(notes: Iterable[Note]) -> list[Note]:
    """The monophonic top line of grid notes, sorted by start.

    Of notes starting together the highest wins. A later note that starts while another sounds replaces it (the
    earlier one is cut) when it is higher, or when it outlasts it (a melodic successor played legato); a lower
    note that ends inside the sounding one is an inner voice and is dropped. Durations are at least one step.
    """
    out: list[Note] = []
    for n in sorted(notes, key=lambda n: (n.start, -n.pitch)):
        n = n if n.duration >= 1 else Note(n.pitch, n.start, 1, n.velocity)
        if out and n.start == out[-1].start:
            continue  # a lower note struck together with the kept one
        if out and n.start < out[-1].end:
            cur = out[-1]
            if n.pitch <= cur.pitch and n.end <= cur.end:
                continue
            out[-1] = Note(cur.pitch, cur.start, n.start - cur.start, cur.velocity)
        out.append(n)
    return out


def _tick_to_step(pm: pretty_midi.PrettyMIDI) -> Any:
    # Through ticks, so the grid follows the written beats whatever the tempo map (pm.get_beats() would too, but
    # counts a 6/8 beat as a dotted quarter).
    scale = STEPS_PER_BEAT / pm.resolution
    return lambda seconds: pm.time_to_tick(seconds) * scale


def melody_from_instrument(pm: pretty_midi.PrettyMIDI, instrument: pretty_midi.Instrument) -> list[Note]:
    """The skyline of one instrument's notes, quantised to the grid (onsets and ends to the nearest step)."""
    to_step = _tick_to_step(pm)
    grid = []
    for n in instrument.notes:
        start, end = round(to_step(n.start)), round(to_step(n.end))
        grid.append(Note(n.pitch, start, max(1, end - start), n.velocity))
    return skyline(grid)


def _pick_melody(pm: pretty_midi.PrettyMIDI) -> tuple[int, list[Note]]:
    """Index and skyline of the melody instrument: among non-drum instruments with at least a tenth as many
    notes as the busiest, the one whose skyline sits highest on average (duration-weighted)."""
    lines = {i: melody_from_instrument(pm, inst) for i, inst in enumerate(pm.instruments)
             if not inst.is_drum and inst.notes}
    if not lines:
        raise StudioError("the file has no pitched (non-drum) notes to take a melody from")
    busiest = max(len(line) for line in lines.values())

    def height(i: int) -> float:
        line = lines[i]
        return sum(n.pitch * n.duration for n in line) / sum(n.duration for n in line)

    best = max((i for i, line in lines.items() if len(line) * 10 >= busiest), key=height)
    return best, lines[best]


def leadsheet_from_midi(pm: pretty_midi.PrettyMIDI, name: str = "") -> LeadSheet:
    """Reduce a MIDI file to a lead sheet.

    The melody is the skyline of the highest non-drum line (``_pick_melody``), on the grid of the file's beats
    (time 0 is the start of bar 1; a pickup stays at the end of the file's first bar). The chart is inferred per
    beat (``pm.get_beats()``, which follows the file's meters) from every other non-drum instrument (e.g. the
    Nottingham files' chord track); a file whose only pitched part is the melody gets "N.C." throughout. The
    tempo is the file's first.

    Raises
    ------
    StudioError
        When the file has no pitched notes.
    """
    index, melody = _pick_melody(pm)
    to_step = _tick_to_step(pm)
    sounding = [(n.pitch, to_step(n.start), to_step(n.end)) for i, inst in enumerate(pm.instruments)
                if i != index and not inst.is_drum for n in inst.notes]
    end = max([n.end for n in melody] + [e for _, _, e in sounding])
    chart = chart_from_sounding(sounding, _bars(end), [to_step(t) for t in pm.get_beats()])
    tempos = pm.get_tempo_changes()[1]
    return LeadSheet(melody, chart, float(tempos[0]) if len(tempos) else 120.0, name)


def _bars(end_step: float) -> int:
    return max(1, math.ceil(round(end_step, 6) / STEPS_PER_BAR))


# -- chords -------------------------------------------------------------------------------------------------------
_TEMPLATES = np.array([[1.0 if pc in c.pitch_classes else 0.0 for pc in range(12)] for c in CHORD_VOCAB[1:]])
_ROOTS = np.array([c.root for c in CHORD_VOCAB[1:]])


def chart_from_sounding(sounding: Iterable[tuple[int, float, float]], num_bars: int,
                        beats: Sequence[float] | None = None) -> ChordChart:
    """Infer a chord chart from sounding notes ``(pitch, start_step, end_step)``, one chord per beat.

    Parameters
    ----------
    sounding : iterable of (int, float, float)
        MIDI pitch, start and end in grid steps (fractions allowed).
    num_bars : int
        Length of the chart in 16-step bars.
    beats : sequence of float, optional
        Beat starts in steps (a 6/8 piece beats in dotted quarters: 0, 6, 12, ...); quarter notes by default.

    Notes
    -----
    Each beat's pitch classes are weighted by how long they sound and matched against every root and quality of
    ``QUALITIES``: chord tones heard count for, other tones against, chord tones not heard cost a little, and a
    bass note on the root breaks ties. A beat whose tones all belong to the previous chord (a bass note, a broken
    chord) keeps it; a silent beat too. The chart then takes, for each quarter note, the chord of the beat
    sounding at its middle, and bars whose quarters agree collapse to 1 or 2 chords.
    """
    total_steps = num_bars * STEPS_PER_BAR
    edges = sorted({float(b) for b in (beats if beats is not None else range(0, total_steps, CELL))
                    if 0 <= b < total_steps} | {0.0})
    edges.append(float(total_steps))
    cells = len(edges) - 1
    weight = np.zeros((cells, 12))
    bass = np.full(cells, 128)
    for pitch, start, end in sounding:
        first = max(0, bisect.bisect_right(edges, start) - 1)
        for c in range(first, cells):
            if edges[c] >= end:
                break
            overlap = min(end, edges[c + 1]) - max(start, edges[c])
            if overlap > 1e-6:
                weight[c, pitch % 12] += overlap
                bass[c] = min(bass[c], pitch)
    per_beat: list[Chord] = []
    previous = NO_CHORD
    for c in range(cells):
        total = weight[c].sum()
        heard = {pc for pc in range(12) if total and weight[c, pc] >= _MIN_SHARE * total}
        if heard and (previous.root is None or not heard <= previous.pitch_classes):
            share = weight[c] / total
            score = _TEMPLATES @ share - (1 - _TEMPLATES) @ share
            score -= 0.1 * (_TEMPLATES @ (share < _MIN_SHARE))
            score += 0.05 * (bass[c] % 12 == _ROOTS)
            previous = CHORD_VOCAB[1 + int(np.argmax(score))]
        per_beat.append(previous)
    middles = [q * CELL + CELL / 2 for q in range(total_steps // CELL)]
    return chart_from_cells([per_beat[bisect.bisect_right(edges, m) - 1] for m in middles])


def chart_from_cells(cells: list[Chord]) -> ChordChart:
    """A chart from one chord per quarter note (4 per bar; a short last bar repeats its last chord)."""
    per_bar = STEPS_PER_BAR // CELL
    bars = []
    for b in range(0, max(len(cells), 1), per_bar):
        bar = (cells[b:b + per_bar] or [NO_CHORD])
        bar += [bar[-1]] * (per_bar - len(bar))
        if all(c == bar[0] for c in bar):
            bars.append([bar[0]])
        elif bar[0] == bar[1] and bar[2] == bar[3]:
            bars.append([bar[0], bar[2]])
        else:
            bars.append(bar)
    return ChordChart(bars)


def chord_from_pitch_classes(root: int, pitch_classes: Iterable[int]) -> Chord:
    """The ``QUALITIES`` entry on ``root`` that best matches ``pitch_classes`` (an exact match if there is one)."""
    tones = set(pitch_classes) | {root}

    def fit(quality: str) -> tuple[int, int]:
        chord = {(root + i) % 12 for i in QUALITIES[quality]}
        return (chord == tones, len(chord & tones) - len(chord ^ tones))

    return Chord(root, max(QUALITIES, key=fit))


# -- music21 scores -----------------------------------------------------------------------------------------------
def melody_from_part(part: Any, shift: int = 0) -> list[Note]:
    """The skyline of a music21 part (tied notes joined, chords read as their top note, grace notes skipped), on
    the grid from the part's start, moved ``shift`` steps later."""
    grid: list[Note] = []
    last_of_pitch: dict[int, int] = {}  # pitch -> index in grid of its latest note, to join ties onto
    for element in pitched_elements(part.flatten().notes):
        onset = float(element.offset) * STEPS_PER_BEAT
        start, end = round(onset) + shift, round(onset + float(element.quarterLength) * STEPS_PER_BEAT) + shift
        top = max(p.midi for p in element.pitches)
        k = last_of_pitch.get(top)
        if element.tie is not None and element.tie.type in ("stop", "continue") and k is not None \
                and grid[k].end == start:
            grid[k] = Note(top, grid[k].start, max(1, end - grid[k].start), grid[k].velocity)
            continue
        velocity = element.volume.velocity if element.volume.velocity is not None else 90
        last_of_pitch[top] = len(grid)
        grid.append(Note(top, start, max(1, end - start), int(velocity)))
    return skyline(grid)


def pickup_steps(part: Any) -> int:
    """Length in steps of the part's pickup (anacrusis) bar, or 0 when its first bar is complete."""
    from music21 import stream

    measures = list(part.getElementsByClass(stream.Measure))
    if not measures:
        return 0
    first = measures[0]
    bar_length = first.barDuration.quarterLength
    length = first.duration.quarterLength
    if (first.paddingLeft > 0 or first.number == 0) and 0 < length < bar_length:
        return round(length * STEPS_PER_BEAT)
    return 0


def leadsheet_from_music21(score: Any, name: str = "", melody_part: int = 0) -> LeadSheet:
    """Reduce a music21 score (e.g. a parsed ABC tune, MusicXML lead sheet or chorale) to a lead sheet.

    Parameters
    ----------
    score : music21.stream.Score or Part
    name : str
        Recorded in the lead sheet; the score's title when empty.
    melody_part : int
        Which part holds the melody (0: the top staff, e.g. a chorale's soprano).

    Notes
    -----
    Chord symbols (``harmony.ChordSymbol``, e.g. ABC's quoted chords) give the chart, each sounding until the
    next; without any, chords are inferred from the other parts (``chart_from_sounding``), and a single part gets
    "N.C.". A pickup is moved so that it ends on a bar line: the first full measure starts a 16-step bar. Repeats
    are read once, as written.
    """
    from music21 import harmony, stream, tempo

    parts = list(score.parts) if isinstance(score, stream.Score) else [score]
    if not parts or not 0 <= melody_part < len(parts):
        raise StudioError(f"{name or 'score'}: has {len(parts)} part(s); melody part {melody_part} does not exist")
    part = parts[melody_part]
    shift = (-pickup_steps(part)) % STEPS_PER_BAR
    melody = melody_from_part(part, shift)
    if not melody:
        raise StudioError(f"{name or 'score'}: the melody part has no notes")
    symbols = [(round(float(cs.offset) * STEPS_PER_BEAT) + shift, cs)
               for cs in score.flatten().getElementsByClass(harmony.ChordSymbol)]
    end = max(n.end for n in melody)
    if symbols:
        chart = _chart_from_symbols(symbols, _bars(end))
    else:
        sounding = [note for i, other in enumerate(parts) if i != melody_part for note in _sounding(other, shift)]
        chart = chart_from_sounding(sounding, _bars(max([end] + [e for _, _, e in sounding])))
    marks = list(score.recurse().getElementsByClass(tempo.MetronomeMark))
    bpm = marks[0].getQuarterBPM() if marks and marks[0].getQuarterBPM() else 120.0
    title = score.metadata.title if getattr(score, "metadata", None) is not None else None
    return LeadSheet(melody, chart, float(bpm), name or title or "")


def _sounding(part: Any, shift: int) -> list[tuple[int, float, float]]:
    """Every pitch a part sounds, as (pitch, start step, end step); tied notes need no joining to weigh chords."""
    out = []
    for element in pitched_elements(part.flatten().notes):
        start = float(element.offset) * STEPS_PER_BEAT + shift
        end = start + float(element.quarterLength) * STEPS_PER_BEAT
        out += [(p.midi, start, end) for p in element.pitches]
    return out


def _chart_from_symbols(symbols: list[tuple[int, Any]], num_bars: int) -> ChordChart:
    """Each symbol holds until the next; a quarter note takes the chord sounding at its middle."""
    timeline = sorted(((step, _chord_of_symbol(cs)) for step, cs in symbols), key=lambda item: item[0])
    cells = []
    k, current = 0, NO_CHORD
    for c in range(num_bars * STEPS_PER_BAR // CELL):
        middle = c * CELL + CELL // 2
        while k < len(timeline) and timeline[k][0] <= middle:
            current = timeline[k][1]
            k += 1
        cells.append(current)
    return chart_from_cells(cells)


def _chord_of_symbol(cs: Any) -> Chord:
    from music21 import harmony

    if isinstance(cs, harmony.NoChord):
        return NO_CHORD
    try:
        root = cs.root()
    except Exception:  # music21 raises on symbols it could not realise
        return NO_CHORD
    if root is None:
        return NO_CHORD
    return chord_from_pitch_classes(root.pitchClass, {p.pitchClass for p in cs.pitches})
