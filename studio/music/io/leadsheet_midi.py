"""Lead sheets as two-track MIDI files: a melody track and a chord track of block chords, one per chart cell.

This is the on-disk form of the procedural blues corpus (``procedural_blues``): any MIDI player or DAW opens it,
and ``read_corpus`` recovers the exact lead sheets from it. The chord track spells each chord with its root in the
bass (MIDI 36-47) and its chord tones in close position above, so reading a chord back is exact even for
symmetric chords (diminished sevenths, augmented triads). The tempo is the file's tempo; times are quantised to the
16th-note grid on reading.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from studio.errors import StudioError
from studio.music.io.file_types import MIDI_SUFFIXES
from studio.music.theory.chords import (
    NO_CHORD,
    QUALITIES,
    STEPS_PER_BAR,
    STEPS_PER_BEAT,
    Chord,
    ChordChart,
    LeadSheet,
    Note,
)

MELODY_PROGRAM = 66       # General MIDI tenor sax
CHORD_PROGRAM = 4         # General MIDI electric piano 1
CHORD_VELOCITY = 64
# Chord roots sit in the octave above this C (MIDI 36-47, tones up to 58): below the melody's 50-84, so a reader
# that takes the highest line as the melody (studio.music.io.midi) finds the right track too.
_BASS_C = 36


def sheet_to_midi(sheet: LeadSheet):
    """A ``pretty_midi.PrettyMIDI`` with tracks "melody" and "chords" at the sheet's tempo."""
    import pretty_midi

    step = 60.0 / sheet.tempo / STEPS_PER_BEAT
    midi = pretty_midi.PrettyMIDI(initial_tempo=sheet.tempo)
    melody = pretty_midi.Instrument(MELODY_PROGRAM, name="melody")
    for n in sheet.melody:
        melody.notes.append(pretty_midi.Note(n.velocity, n.pitch, n.start * step, n.end * step))
    chords = pretty_midi.Instrument(CHORD_PROGRAM, name="chords")
    for bar_index, bar in enumerate(sheet.chart.bars):
        cell = STEPS_PER_BAR // len(bar)
        for i, chord in enumerate(bar):
            if chord.root is None:
                continue
            start = (bar_index * STEPS_PER_BAR + i * cell) * step
            for interval in QUALITIES[chord.quality]:
                chords.notes.append(pretty_midi.Note(CHORD_VELOCITY, _BASS_C + chord.root + interval, start,
                                                     start + cell * step))
    midi.instruments += [melody, chords]
    return midi


def midi_to_sheet(midi, name: str = "") -> LeadSheet:
    """The lead sheet in a ``pretty_midi.PrettyMIDI`` written by ``sheet_to_midi`` (or any file with a melody
    track and a block-chord track, named "melody" and "chords" or in that order)."""
    _, tempi = midi.get_tempo_changes()
    tempo = round(float(tempi[0]), 3) if len(tempi) else 120.0
    step = 60.0 / tempo / STEPS_PER_BEAT
    tracks = [i for i in midi.instruments if not i.is_drum]
    by_name = {i.name.strip().lower(): i for i in tracks}
    melody_track = by_name.get("melody") or (tracks[0] if tracks else None)
    chord_track = by_name.get("chords") or next((i for i in tracks if i is not melody_track), None)
    if melody_track is None or chord_track is None:
        raise StudioError(f"{name or 'MIDI file'}: needs a melody track and a chord track (found {len(tracks)} "
                          "non-drum tracks); write it with write_corpus or name the tracks 'melody' and 'chords'")
    melody: list[Note] = []
    for n in sorted(melody_track.notes, key=lambda n: (n.start, -n.pitch)):
        start, end = round(n.start / step), round(n.end / step)
        if melody and start <= melody[-1].start:
            continue                                   # a second voice on the same step: keep the first
        if melody and melody[-1].end > start:          # legato overlaps: cut the earlier note
            last = melody[-1]
            melody[-1] = Note(last.pitch, last.start, start - last.start, last.velocity)
        melody.append(Note(n.pitch, start, max(end - start, 1), n.velocity))
    chart = _read_chart(chord_track.notes, step, melody[-1].end if melody else 0)
    return LeadSheet(melody, chart, tempo, name)


def _read_chart(notes, step: float, melody_end: int) -> ChordChart:
    groups: dict[int, list[int]] = {}
    end = melody_end
    for n in notes:
        groups.setdefault(round(n.start / step), []).append(n.pitch)
        end = max(end, round(n.end / step))
    onsets = sorted(groups)
    chords = {s: _identify(groups[s]) for s in onsets}
    bars = []
    for bar in range(max(-(-end // STEPS_PER_BAR), 1)):
        first = bar * STEPS_PER_BAR
        within = [s - first for s in onsets if first <= s < first + STEPS_PER_BAR]
        # Cells per bar follow the onsets: chords on beats 2 or 4 mean four cells, on beat 3 two, else one.
        cells = 4 if any(o % (STEPS_PER_BAR // 2) for o in within) else 2 if within and max(within) else 1
        bars.append([_sounding(chords, onsets, first + i * STEPS_PER_BAR // cells) for i in range(cells)])
    return ChordChart(bars)


def _sounding(chords: dict[int, Chord], onsets: list[int], step: int) -> Chord:
    before = [s for s in onsets if s <= step]
    return chords[before[-1]] if before else NO_CHORD


def _identify(pitches: list[int]) -> Chord:
    """The chord of a block voicing: the lowest note is the root, the quality the one with the same tones (or
    the most tones in common, for voicings written elsewhere)."""
    root = min(pitches) % 12
    tones = {p % 12 for p in pitches}

    def score(quality: str) -> tuple[int, int]:
        spelled = {(root + i) % 12 for i in QUALITIES[quality]}
        return len(spelled & tones) - len(spelled ^ tones), -len(spelled)

    return Chord(root, max(QUALITIES, key=score))


def write_corpus(sheets: Sequence[LeadSheet], folder: str | os.PathLike) -> list[Path]:
    """Write each sheet as ``folder/NAME.mid`` (melody + block chords, tempo set); returns the paths in order.

    Names come from ``sheet.name`` (made safe for file systems), or ``sheet-00001`` when empty or repeated. A file is
    written under a temporary name and renamed, so an interrupted run never leaves a truncated MIDI file.
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    paths, used = [], set()
    for index, sheet in enumerate(sheets):
        stem = re.sub(r"[^A-Za-z0-9._#-]+", "_", sheet.name).strip("._") or f"sheet-{index:05d}"
        if stem in used:
            stem = f"{stem}-{index:05d}"
        used.add(stem)
        path = out / f"{stem}.mid"
        partial = out / f".{stem}.mid.partial"
        sheet_to_midi(sheet).write(str(partial))
        partial.replace(path)
        paths.append(path)
    return paths


def read_corpus(folder: str | os.PathLike) -> list[LeadSheet]:
    """Every ``.mid``/``.midi`` file in ``folder`` (sorted by name) as a LeadSheet named after the file."""
    import pretty_midi

    root = Path(folder)
    if not root.is_dir():
        raise StudioError(f"corpus folder {root} does not exist: make it with "
                          "python corpora/make_blues_corpus.py --out " + str(root))
    files = sorted(p for p in root.iterdir() if p.suffix.lower() in MIDI_SUFFIXES and not p.name.startswith("."))
    if not files:
        raise StudioError(f"no MIDI files (.mid, .midi) in {root}")
    sheets = []
    for path in files:
        try:
            midi = pretty_midi.PrettyMIDI(str(path))
        except Exception as error:  # mido and pretty_midi raise many types for damaged files
            raise StudioError(f"{path}: not a readable MIDI file ({error})") from None
        sheets.append(midi_to_sheet(midi, path.stem))
    return sheets
