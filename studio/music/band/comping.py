"""The comping pianist or guitarist: rootless voicings (guide tones plus colour) led smoothly from chord to chord,
in Charleston, reverse-Charleston, 2-and-4, pushed and half-note rhythms."""

from __future__ import annotations

import random

from studio.music.band.spans import Span
from studio.music.theory.chords import QUALITIES, STEPS_PER_BAR, Chord, Note

COMPING_PROGRAMS = {"piano": 0, "guitar": 26}      # GM acoustic grand; electric guitar (jazz)


COMPING_RANGE = (50, 77)                           # shell voicings sit around middle C, above the bass's mud


# Comping voicings as pitch classes above the root: guide tones (3rd and 7th) plus colour (9th, 13th, 5th).
_VOICINGS: dict[str, tuple[tuple[int, ...], ...]] = {
    "7": ((4, 10, 2, 9), (4, 10, 2), (10, 4, 9), (4, 7, 10, 2)),
    "maj": ((4, 7, 9, 2), (0, 4, 7), (4, 7, 9)),
    "6": ((4, 7, 9, 2), (4, 9, 2)),
    "maj7": ((4, 7, 11, 2), (4, 11, 2), (11, 4, 7)),
    "min": ((3, 7, 9, 2), (0, 3, 7), (3, 7, 2)),
    "m7": ((3, 7, 10, 2), (3, 10, 2), (10, 3, 5)),
    "m6": ((3, 7, 9, 2), (3, 9, 2)),
    "mmaj7": ((3, 7, 11, 2), (3, 11, 2)),
    "m7b5": ((3, 6, 10, 0), (0, 3, 6, 10), (3, 10, 6)),
    "dim": ((0, 3, 6),), "dim7": ((0, 3, 6, 9),), "aug": ((0, 4, 8), (4, 8, 10, 0)),
    "sus4": ((0, 5, 7, 2), (0, 5, 7)), "7sus4": ((5, 10, 2, 7), (5, 10, 0)),
}


# Comping rhythms for a bar with one chord: (start step, length) of each hit. "push" anticipates the next bar's
# chord on the "and" of 4 and holds it over the bar line.
_COMP_PATTERNS: dict[str, tuple[tuple[int, int], ...]] = {
    "charleston": ((0, 3), (6, 4)), "reverse": ((2, 3), (8, 4)), "two-four": ((4, 3), (12, 3)),
    "push": ((0, 3), (14, 4)), "halves": ((0, 7), (8, 6)),
}


_COMP_WEIGHTS = {"charleston": 0.35, "two-four": 0.25, "reverse": 0.15, "push": 0.15, "halves": 0.10}


# -- comping ------------------------------------------------------------------------------------------------------
def _voicing_cost(voicing: tuple[int, ...], previous: tuple[int, ...] | None) -> float:
    centre = sum(voicing) / len(voicing)
    cost = 0.3 * abs(centre - 62) + (3.0 if voicing[0] < 52 else 0.0)  # thirds below E3 sound muddy
    if previous:
        cost += sum(min(abs(p - q) for q in previous) for p in voicing) / len(voicing)
    return cost


def voice(chord: Chord, previous: tuple[int, ...] | None, rng: random.Random) -> tuple[int, ...]:
    """A 3-4 note voicing of ``chord`` around middle C that moves as little as possible from ``previous``."""
    assert chord.root is not None
    shapes = _VOICINGS.get(chord.quality, (QUALITIES[chord.quality],))
    low, high = COMPING_RANGE
    candidates = []
    for shape in shapes:
        pcs = sorted((chord.root + i) % 12 for i in shape)
        for rotation in range(len(pcs)):
            order = pcs[rotation:] + pcs[:rotation]
            for octave in (48, 60, 72):
                pitches = [octave + order[0]]
                for pc in order[1:]:
                    pitches.append(pitches[-1] + (pc - pitches[-1]) % 12)
                if low <= pitches[0] and pitches[-1] <= high:
                    candidates.append(tuple(pitches))
    return min(candidates, key=lambda v: _voicing_cost(v, previous) + rng.uniform(0.0, 1.5))


def comp(spans: list[Span], rng: random.Random) -> list[Note]:
    """Chord hits in Charleston, reverse-Charleston, 2-and-4, pushed or half-note rhythms, voice-led."""
    notes: list[Note] = []
    voicings: dict[int, tuple[int, ...]] = {}  # span index -> its voicing, chosen once
    previous: tuple[int, ...] | None = None

    def voicing_for(k: int) -> tuple[int, ...]:
        nonlocal previous
        if k not in voicings:
            voicings[k] = voice(spans[k].chord, previous, rng)
            previous = voicings[k]
        return voicings[k]

    pushed_until = -1  # a pushed chord rings over the bar line: the next bar must not hit on its downbeat
    for k, span in enumerate(spans):
        if span.chord.root is None:
            continue
        length = span.end - span.start
        if length == STEPS_PER_BAR:
            names = [n for n in _COMP_WEIGHTS if not (pushed_until > span.start and _COMP_PATTERNS[n][0][0] < 2)]
            name = rng.choices(names, [_COMP_WEIGHTS[n] for n in names])[0]
            hits = _COMP_PATTERNS[name]
        else:
            name, hits = "", ((0, max(1, min(3, length - 1))),)
            if length >= 8 and rng.random() < 0.4:
                hits += ((6, 2),)
        for i, (offset, duration) in enumerate(hits):
            start, target = span.start + offset, k
            if start < pushed_until:
                continue
            if name == "push" and i == len(hits) - 1:  # the anticipation sounds the next chord early
                if k + 1 >= len(spans) or spans[k + 1].chord.root is None:
                    continue
                target, pushed_until = k + 1, start + duration
            velocity = 64 + 6 * (offset % 4 != 0) + rng.randint(-5, 5)  # off-beat hits a touch louder
            notes += [Note(p, start, duration, velocity) for p in voicing_for(target)]
    return notes
