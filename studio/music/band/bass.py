"""The bassist: a walking line in quarter notes (roots on the changes, approach notes into the next root) or a
boogie shuffle in eighths, within the four-string bass's compass."""

from __future__ import annotations

import random
from itertools import pairwise

from studio.music.band.spans import Span
from studio.music.theory.chords import QUALITIES, STEPS_PER_BEAT, Chord, Note

BASS_STYLES = ("walking", "shuffle")


BASS_PROGRAMS = {"walking": 32, "shuffle": 33}     # GM acoustic bass; electric bass (finger)


BASS_RANGE = (28, 55)                              # E1..G3: the four-string bass's useful compass


# Scales the walking line passes through, by chord quality (semitones above the root).
_SCALES: dict[str, tuple[int, ...]] = {
    "maj": (0, 2, 4, 5, 7, 9, 11), "6": (0, 2, 4, 5, 7, 9, 11), "maj7": (0, 2, 4, 5, 7, 9, 11),
    "7": (0, 2, 4, 5, 7, 9, 10), "min": (0, 2, 3, 5, 7, 9, 10), "m7": (0, 2, 3, 5, 7, 9, 10),
    "m6": (0, 2, 3, 5, 7, 9, 10), "mmaj7": (0, 2, 3, 5, 7, 9, 11), "m7b5": (0, 1, 3, 5, 6, 8, 10),
    "dim": (0, 2, 3, 5, 6, 8, 9, 11), "dim7": (0, 2, 3, 5, 6, 8, 9, 11), "aug": (0, 2, 4, 6, 8, 10),
    "sus4": (0, 2, 5, 7, 9, 10), "7sus4": (0, 2, 5, 7, 9, 10),
}


def _nearest(pc: int, near: float, low: int, high: int) -> int:
    """The pitch of class ``pc`` nearest ``near`` inside [low, high] (which must span an octave)."""
    base = int(near) - (int(near) - pc) % 12
    return min((p for p in (base - 12, base, base + 12, base + 24) if low <= p <= high), key=lambda p: abs(p - near))


# -- bass ---------------------------------------------------------------------------------------------------------
def _root_pitches(spans: list[Span], rng: random.Random, low: int, high: int) -> list[int | None]:
    """A bass register root for every span, each near the last so the line never jumps around the instrument."""
    roots: list[int | None] = []
    previous = (low + high) / 2
    for span in spans:
        if span.chord.root is None:
            roots.append(None)
            continue
        options = [p for p in range(low, high + 1) if p % 12 == span.chord.root]
        # Distance from the last root plus a little chance, so the line moves up as often as down.
        pitch = min(options, key=lambda p: abs(p - previous) + rng.uniform(0.0, 4.0))
        roots.append(pitch)
        previous = pitch
    return roots


def _scale_pitches(chord: Chord) -> list[int]:
    low, high = BASS_RANGE
    degrees = {(chord.root + i) % 12 for i in _SCALES.get(chord.quality, (0, 2, 4, 5, 7, 9, 10))}
    return [p for p in range(low, high + 1) if p % 12 in degrees]


def _approach(target: int, previous: int, scale: list[int], rng: random.Random) -> int:
    """The note a beat before ``target``: chromatic from below or above, the scale step, or its dominant."""
    below = [p for p in scale if p < target]
    above = [p for p in scale if p > target]
    options = [(target - 1, 3.0), (target + 1, 2.0), (target - 5 if target - 5 >= BASS_RANGE[0] else target + 7, 1.5)]
    if below:
        options.append((below[-1], 2.0))
    if above:
        options.append((above[0], 1.5))
    low, high = BASS_RANGE
    # Arriving from the side the line is already on keeps it moving in one direction.
    weighted = [(p, w * (1.5 if (p < target) == (previous < target) else 1.0)) for p, w in options
                if low <= p <= high and p != previous and p != target]
    if not weighted:  # only at the very bottom of the range, right after a neighbour of the target
        return target + 7
    return rng.choices([p for p, _ in weighted], [w for _, w in weighted])[0]


def _interval_cost(a: int, b: int) -> float:
    step = abs(a - b)
    return 6.0 if step == 0 else 0.0 if step <= 2 else 0.5 if step <= 4 else 1.5 if step <= 5 else \
        2.5 if step <= 7 else 5.0


def _middle(down: int, approach: int, count: int, chord: Chord, rng: random.Random) -> list[int]:
    """``count`` (0-2) passing notes from ``down`` to ``approach``: smooth, chord tones on the strong beat."""
    if count == 0:
        return []
    tones = chord.pitch_classes
    candidates = [p for p in _scale_pitches(chord) if down - 8 <= p <= down + 9]
    best: tuple[float, list[int]] = (float("inf"), [])
    groups = [[m] for m in candidates] if count == 1 else [[a, b] for a in candidates for b in candidates]
    for group in groups:
        line = [down, *group, approach]
        cost = sum(_interval_cost(a, b) for a, b in pairwise(line))
        cost -= 1.5 * (group[-1] % 12 in tones) + 0.5 * (group[0] % 12 in tones)
        turns = sum((b - a) * (c - b) < 0 for a, b, c in zip(line, line[1:], line[2:], strict=False))
        cost += max(0, turns - 1) + rng.uniform(0.0, 2.0)
        if cost < best[0]:
            best = (cost, group)
    return best[1]


def walking_bass(spans: list[Span], rng: random.Random) -> list[Note]:
    """Quarter notes: the root on each chord's first beat, passing tones, and an approach note on its last beat."""
    low, high = BASS_RANGE
    roots = _root_pitches(spans, rng, low, high - 5)  # headroom above the root for the line to climb
    notes: list[Note] = []
    for k, span in enumerate(spans):
        root = roots[k]
        if root is None:
            continue
        following = roots[k + 1] if k + 1 < len(spans) else _nearest(roots[0] or root, root, low, high - 5)
        line = [root]
        if span.beats >= 2:
            if following is None:  # "no chord" next: walk the chord out without leading anywhere
                line += [_nearest(rng.choice(sorted(span.chord.pitch_classes)), root + 4, low, high)
                         for _ in range(span.beats - 1)]
            else:
                approach = _approach(following, root, _scale_pitches(span.chord), rng)
                line += [*_middle(root, approach, span.beats - 2, span.chord, rng), approach]
        for beat, pitch in enumerate(line):
            velocity = (96 if beat == 0 else 86) + rng.randint(-5, 5)
            notes.append(Note(pitch, span.start + beat * STEPS_PER_BEAT, STEPS_PER_BEAT, velocity))
    return notes


def _boogie_intervals(chord: Chord, eighths: int, rng: random.Random) -> list[int]:
    """The boogie figure (root, 3, 5, 6, b7, 6, 5, 3) fitted to the chord's quality and the span's length."""
    intervals = QUALITIES[chord.quality]
    third, fifth = intervals[1], intervals[2]
    seventh = intervals[3] if len(intervals) > 3 else 10
    figures = ([0, third, fifth, 9, seventh, 9, fifth, third], [0, third, fifth, 9, 12, 9, fifth, third],
               [0, 0, third, fifth, 9, seventh, 9, fifth])
    if eighths >= 8:
        figure = rng.choice(figures)
        return (figure * (eighths // 8 + 1))[:eighths]
    return [0, third, fifth, 9, seventh, 9][:eighths] if eighths > 2 else [0, fifth][:eighths]


def shuffle_bass(spans: list[Span], rng: random.Random) -> list[Note]:
    """A boogie-woogie line in straight 8ths on the grid (swung at rendering), with chromatic pickups."""
    low, high = BASS_RANGE
    roots = _root_pitches(spans, rng, low, high - 12)  # the figure climbs up to an octave
    notes: list[Note] = []
    for k, span in enumerate(spans):
        root = roots[k]
        if root is None:
            continue
        eighths = (span.end - span.start) // 2
        pitches = [root + i for i in _boogie_intervals(span.chord, eighths, rng)]
        following = roots[k + 1] if k + 1 < len(spans) else None
        if following is not None and eighths >= 4 and following != root and rng.random() < 0.4:
            pitches[-1] = following - 1 if rng.random() < 0.6 else following + 1  # chromatic pickup
        for i, pitch in enumerate(pitches):
            velocity = (94 if i % 2 == 0 else 80) + rng.randint(-4, 4)
            notes.append(Note(min(max(pitch, low), high), span.start + 2 * i, 2, velocity))
    return notes
