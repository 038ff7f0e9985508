"""Key finding: which tonic a melody, a chart or a piano roll is in (Krumhansl & Kessler's profiles).

Every music family transposes to and from a home key (the lead-sheet tokenizer's key-relative mode, the piano-roll
harmoniser's move to the data's key), so the estimate lives here, beside the chords it reads.
"""

from __future__ import annotations

import re

import numpy as np

from studio.errors import StudioError
from studio.music.theory.chords import STEPS_PER_BAR, LeadSheet, pitch_class

# Krumhansl & Kessler's key profiles: how well each scale degree (from the tonic) fits a major / minor key.
_MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])


_MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


_EDGE_CHORD_BONUS = 0.2  # pieces usually start and end on the tonic chord: worth a fifth of a perfect correlation


def key_scores(hist: np.ndarray) -> np.ndarray:
    """How well a pitch-class histogram (shape (12,), index 0 = C) fits each tonic, major or minor: shape (12,).

    The score of tonic ``t`` is the larger of the histogram's correlations with the Krumhansl-Kessler major and
    minor profiles rotated to ``t``; a flat histogram scores 0 everywhere.
    """
    scores = np.array([max(np.corrcoef(np.roll(hist, -tonic), _MAJOR_PROFILE)[0, 1],
                           np.corrcoef(np.roll(hist, -tonic), _MINOR_PROFILE)[0, 1]) for tonic in range(12)])
    return np.nan_to_num(scores, nan=0.0)


def estimate_tonic(sheet: LeadSheet) -> int:
    """The tonic pitch class (0 = C) of a lead sheet.

    The melody's pitch classes (weighted by duration) and the chart's chord tones (weighted by how long each chord
    sounds, at half the melody's weight) are correlated with the Krumhansl-Kessler major and minor profiles in all
    12 keys; the roots of the first and last real chords earn a bonus, since tunes start and end at home. An empty
    sheet is in C.
    """
    hist = np.zeros(12)
    for n in sheet.melody:
        hist[n.pitch % 12] += n.duration
    real = [c for bar in sheet.chart.bars for c in bar if c.root is not None]
    for bar in sheet.chart.bars:
        for chord in bar:
            for pc in chord.pitch_classes:
                hist[pc] += 0.5 * STEPS_PER_BAR / len(bar)
    if not hist.any():
        return 0
    scores = key_scores(hist)
    if real:
        scores[real[0].root] += _EDGE_CHORD_BONUS
        scores[real[-1].root] += _EDGE_CHORD_BONUS
    return int(np.argmax(scores))


def key_offset(tonic: int) -> int:
    """The smallest shift (-5..+6 semitones) that takes pitch class ``tonic`` to C."""
    shift = (-tonic) % 12
    return shift - 12 if shift > 6 else shift


_KEY = re.compile(r"^\s*([A-Ga-g][#b-]*)\s*(m|min|minor|maj|major)?\s*$")


def key_tonic(name: str) -> int:
    """The tonic pitch class of a key name: "G", "Bb", "F#m", "E minor", "Eb major" (the mode does not matter here:
    the models' data put major and minor pieces on the same tonic)."""
    match = _KEY.match(name)
    if not match:
        raise StudioError(f"key {name!r}: write a note name with an optional mode, e.g. G, Bb, F#m, E minor")
    return pitch_class(match.group(1))
