"""The drummer: ride-cymbal swing with hi-hat on 2 and 4, feathered kick, comping snare, and a fill into every
chorus (General MIDI percussion keys as pitches, to be played on channel 10)."""

from __future__ import annotations

import random

from studio.music.band.spans import Span
from studio.music.theory.chords import STEPS_PER_BAR, Note

# General MIDI percussion keys (channel 10).
KICK, SIDE_STICK, SNARE, CLOSED_HAT, PEDAL_HAT = 36, 37, 38, 42, 44
FLOOR_TOM, LOW_TOM, MID_TOM, HIGH_TOM, CRASH, RIDE = 41, 45, 47, 50, 49, 51


# Drum fills for the second half of a chorus's last bar: (step, drum) pairs that crescendo into the next chorus.
_FILLS: tuple[tuple[tuple[int, int], ...], ...] = (
    ((8, SNARE), (10, SNARE), (12, HIGH_TOM), (13, MID_TOM), (14, LOW_TOM), (15, FLOOR_TOM)),
    ((8, SNARE), (9, SNARE), (10, SNARE), (11, SNARE), (12, SNARE), (14, FLOOR_TOM), (15, KICK)),
    ((10, SNARE), (12, SNARE), (13, SNARE), (14, LOW_TOM), (15, FLOOR_TOM)),
    ((8, SNARE), (11, SNARE), (12, HIGH_TOM), (14, FLOOR_TOM), (15, FLOOR_TOM)),
)


# -- drums --------------------------------------------------------------------------------------------------------
def swing_drums(spans: list[Span], rng: random.Random) -> list[Note]:
    """Ride on 1, 2, and-of-2, 3, 4, and-of-4, hi-hat foot on 2 and 4, light kick and snare comping, a fill at
    the end of each chorus and a crash into the next one."""
    notes: list[Note] = []
    bar_ends = sorted({span.start - span.start % STEPS_PER_BAR + STEPS_PER_BAR for span in spans})
    fill_bars = {span.start - span.start % STEPS_PER_BAR for span in spans if span.last_in_chorus}
    for bar_end in bar_ends:
        bar = bar_end - STEPS_PER_BAR
        fill = bar in fill_bars
        crash = bar > 0 and bar - STEPS_PER_BAR in fill_bars
        ride = ((0, 82), (4, 92), (6, 58), (8, 82), (12, 92), (14, 58))
        for step, velocity in ride:
            if (fill and step >= 8) or (crash and step == 0):
                continue
            notes.append(Note(RIDE, bar + step, 2, velocity + rng.randint(-6, 6)))
        notes += [Note(PEDAL_HAT, bar + step, 1, 72 + rng.randint(-4, 4)) for step in (4, 12)]
        if crash:
            notes += [Note(CRASH, bar, 4, 100), Note(KICK, bar, 1, 96)]
        else:
            notes.append(Note(KICK, bar, 1, 46 + rng.randint(-6, 6)))  # feathered: felt more than heard
        comp_steps = (2, 6, 10, 14) if not fill else (2, 6)
        for step in comp_steps:  # "dropping bombs": sparse, quiet snare and kick on the off-beats
            roll = rng.random()
            if roll < 0.14:
                notes.append(Note(SNARE, bar + step, 1, rng.randint(40, 60)))
            elif roll < 0.20:
                notes.append(Note(KICK, bar + step, 1, rng.randint(50, 70)))
        if fill:
            pattern = rng.choice(_FILLS)
            for i, (step, drum) in enumerate(pattern):
                velocity = 70 + 30 * i // max(1, len(pattern) - 1)  # crescendo into the next chorus
                notes.append(Note(drum, bar + step, 1, min(127, velocity + rng.randint(-4, 4))))
    return notes
