"""Musical metrics for a melody over a chord chart: harmony, range, density, rhythm, repetition and novelty.

Every function takes a ``LeadSheet``, or a melody (a sequence of ``Note``) together with its ``ChordChart``. They
are what the blues benchmark reports for the procedural corpus, for models trained on it and for a random-pitch
baseline that keeps the rhythm but not the pitches (``random_pitch_baseline``): a model that has learned harmony
should sit far above that baseline on ``chord_tone_share`` and ``blues_share``.

Phrases are two-bar windows (bars 1-2, 3-4, ...). A phrase's key (``phrase_keys``) holds each note's onset and
duration within the window, its interval from the phrase's first note, and its pitch class relative to the root of
the chord sounding at its onset. A transposed copy of a phrase over transposed chords has the same key, so
``novelty`` (the share of a piece's phrases absent from the training phrases) does not reward transposing a
memorised lick. Shares of nothing (no notes, no phrases) are ``nan``, never a misleading 0 or 1.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

from studio.errors import StudioError
from studio.music.theory.chords import STEPS_PER_BAR, STEPS_PER_BEAT, ChordChart, LeadSheet, Note, blues_scale

PHRASE_STEPS = 2 * STEPS_PER_BAR
PhraseKey = tuple[tuple[int, int, int, int], ...]
Piece = LeadSheet | Sequence[Note]


def _parts(piece: Piece, chart: ChordChart | None = None) -> tuple[list[Note], ChordChart | None]:
    if isinstance(piece, LeadSheet):
        return sorted(piece.melody, key=lambda n: n.start), chart or piece.chart
    return sorted(piece, key=lambda n: n.start), chart


def _need_chart(chart: ChordChart | None, what: str) -> ChordChart:
    if chart is None:
        raise StudioError(f"{what} needs chords: pass a LeadSheet, or a melody with chart=ChordChart")
    return chart


def _share(hits: int, total: int) -> float:
    return hits / total if total else math.nan


def chord_tone_share(piece: Piece, chart: ChordChart | None = None) -> float:
    """Share of melody notes whose pitch class is a tone of the chord sounding at the note's onset.

    Notes over "no chord" are left out of the count. Returns ``nan`` when no note is over a chord.
    """
    melody, chart = _parts(piece, chart)
    chart = _need_chart(chart, "chord_tone_share")
    chords = [chart.chord_at(n.start) for n in melody]
    counted = [(n, c) for n, c in zip(melody, chords, strict=True) if c.root is not None]
    return _share(sum(n.pitch % 12 in c.pitch_classes for n, c in counted), len(counted))


def blues_share(piece: Piece, chart: ChordChart | None = None) -> float:
    """Share of melody notes that are a chord tone or in the blues scale of the chord at the note's onset
    (``chords.blues_scale``). Notes over "no chord" are left out; ``nan`` when none is over a chord."""
    melody, chart = _parts(piece, chart)
    chart = _need_chart(chart, "blues_share")
    counted = [(n, chart.chord_at(n.start)) for n in melody]
    counted = [(n, c) for n, c in counted if c.root is not None]
    return _share(sum(n.pitch % 12 in blues_scale(c) for n, c in counted), len(counted))


def change_tone_share(piece: Piece, chart: ChordChart | None = None) -> float:
    """Share of chord tones among the notes that start within the first beat of a chord change (the beat where a
    new chord arrives, the first chord included): does the line "make the changes"? ``nan`` when no note does."""
    melody, chart = _parts(piece, chart)
    chart = _need_chart(chart, "change_tone_share")
    hits = total = 0
    for n in melody:
        beat = n.start - n.start % STEPS_PER_BEAT
        chord = chart.chord_at(beat)
        if chord.root is None or (beat > 0 and chart.chord_at(beat - 1) == chord):
            continue
        total += 1
        hits += n.pitch % 12 in chord.pitch_classes
    return _share(hits, total)


def pitch_range(piece: Piece) -> tuple[int, int, int]:
    """``(semitones, lowest, highest)`` MIDI pitches of the melody; ``(0, 0, 0)`` for an empty melody."""
    melody, _ = _parts(piece)
    if not melody:
        return 0, 0, 0
    low, high = min(n.pitch for n in melody), max(n.pitch for n in melody)
    return high - low, low, high


def _bars(melody: Sequence[Note], chart: ChordChart | None) -> int:
    end = max((n.end for n in melody), default=0)
    return max(chart.num_bars if chart else 0, -(-end // STEPS_PER_BAR), 1)


def note_density(piece: Piece, chart: ChordChart | None = None) -> float:
    """Notes per bar, over every bar of the piece (the chart's bars, or more if the melody runs past them)."""
    melody, chart = _parts(piece, chart)
    return len(melody) / _bars(melody, chart)


def rhythmic_variety(piece: Piece) -> float:
    """Distinct onset patterns per bar: the number of different sets of onsets within a bar, divided by the number
    of bars that have a note. 1.0 when no two bars share a rhythm, 1/bars when every bar has the same one; ``nan``
    for an empty melody."""
    melody, _ = _parts(piece)
    patterns: dict[int, list[int]] = {}
    for n in melody:
        patterns.setdefault(n.start // STEPS_PER_BAR, []).append(n.start % STEPS_PER_BAR)
    return _share(len({tuple(p) for p in patterns.values()}), len(patterns))


def duration_entropy(piece: Piece) -> float:
    """Shannon entropy (bits) of the note durations in grid steps: 0 when every note has the same length."""
    melody, _ = _parts(piece)
    counts = np.array(list(Counter(n.duration for n in melody).values()), dtype=float)
    if counts.size == 0:
        return math.nan
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum() + 0.0)


def phrase_keys(piece: Piece, chart: ChordChart | None = None) -> list[PhraseKey]:
    """Hashable descriptors of the piece's non-empty two-bar phrases, in order.

    Returns
    -------
    list of tuple
        One tuple per two-bar window that has a note onset; each holds, for every note starting in the window,
        ``(onset in window, duration cut at the window's end, semitones from the phrase's first note,
        pitch class above the sounding chord's root or -1 over no chord)``. Transposing melody and chords together
        leaves every key unchanged.
    """
    melody, chart = _parts(piece, chart)
    chart = _need_chart(chart, "phrase_keys")
    windows: dict[int, list[Note]] = {}
    for n in melody:
        windows.setdefault(n.start // PHRASE_STEPS, []).append(n)
    keys = []
    for window in sorted(windows):
        notes, first = windows[window], (window + 1) * PHRASE_STEPS
        ref = notes[0].pitch
        key = []
        for n in notes:
            root = chart.chord_at(n.start).root
            key.append((n.start % PHRASE_STEPS, min(n.end, first) - n.start, n.pitch - ref,
                        -1 if root is None else (n.pitch - root) % 12))
        keys.append(tuple(key))
    return keys


def phrase_set(sheets: Iterable[LeadSheet]) -> set[PhraseKey]:
    """Every phrase key of a training corpus: the reference ``novelty`` compares against."""
    return {key for sheet in sheets for key in phrase_keys(sheet)}


def repetition(piece: Piece, chart: ChordChart | None = None) -> float:
    """Share of the piece's phrases that repeat an earlier phrase of the same piece (same key, so a transposed
    restatement over transposed chords counts). Phrases A A B A give 2/4; ``nan`` with no phrases."""
    keys = phrase_keys(piece, chart)
    seen: set[PhraseKey] = set()
    repeats = 0
    for key in keys:
        repeats += key in seen
        seen.add(key)
    return _share(repeats, len(keys))


def novelty(piece: Piece, training_phrases: set[PhraseKey], chart: ChordChart | None = None) -> float:
    """Share of the piece's two-bar phrases absent from ``training_phrases`` (see ``phrase_set``): 0 for a piece
    of the training data itself, 1 when nothing was copied; ``nan`` with no phrases."""
    keys = phrase_keys(piece, chart)
    return _share(sum(key not in training_phrases for key in keys), len(keys))


def summarise(sheet: LeadSheet, training_phrases: set[PhraseKey] | None = None) -> dict[str, float]:
    """All metrics of one sheet as a flat dict (``novelty`` only when training phrases are given)."""
    semitones, low, high = pitch_range(sheet)
    out = {
        "notes": float(len(sheet.melody)),
        "bars": float(_bars(sheet.melody, sheet.chart)),
        "chord_tone_share": chord_tone_share(sheet),
        "change_tone_share": change_tone_share(sheet),
        "blues_share": blues_share(sheet),
        "pitch_range": float(semitones),
        "lowest": float(low),
        "highest": float(high),
        "note_density": note_density(sheet),
        "rhythmic_variety": rhythmic_variety(sheet),
        "duration_entropy": duration_entropy(sheet),
        "repetition": repetition(sheet),
    }
    if training_phrases is not None:
        out["novelty"] = novelty(sheet, training_phrases)
    return out


def summarise_corpus(sheets: Sequence[LeadSheet], training_phrases: set[PhraseKey] | None = None
                     ) -> dict[str, float]:
    """Metrics of many sheets: the mean over sheets of each ``summarise`` value (ignoring ``nan``), except
    ``notes`` and ``bars`` (totals), ``lowest`` (minimum) and ``highest`` (maximum)."""
    rows = [summarise(s, training_phrases) for s in sheets if s.melody]
    if not rows:
        raise StudioError("no sheet with a melody to summarise")
    out = {}
    for name in rows[0]:
        values = np.array([r[name] for r in rows], dtype=float)
        reduce = {"notes": np.nansum, "bars": np.nansum, "lowest": np.nanmin, "highest": np.nanmax}
        out[name] = float(reduce.get(name, np.nanmean)(values)) if not np.isnan(values).all() else math.nan
    return out


def random_pitch_baseline(sheet: LeadSheet, seed: int = 0) -> LeadSheet:
    """The same rhythm (onsets, durations, velocities) and chords with pitches drawn uniformly from the sheet's own
    range: the floor a melody model must beat to show it learned harmony rather than rhythm."""
    _, low, high = pitch_range(sheet)
    pitches = np.random.default_rng(seed).integers(low, high + 1, size=len(sheet.melody))
    melody = [Note(int(p), n.start, n.duration, n.velocity) for p, n in zip(pitches, sheet.melody, strict=True)]
    return LeadSheet(melody, sheet.chart, sheet.tempo, f"{sheet.name} (random pitches)")
