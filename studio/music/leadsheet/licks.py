"""The lick vocabulary of the procedural blues corpus: interval/rhythm templates relative to a chord root.

A lick is written as space-separated events on the 16th-note grid:

* ``7/4``    the note 7 semitones above the reference root (the fifth), held 4 steps (a quarter note);
* ``r2``     a rest of 2 steps;
* ``3~4/4``  a bend approximated by a grace note: the b3 for one step, then the major third for the other 3.

Intervals may be negative (below the root) or above 12 (the next octave). Rhythms use the idioms of a blues horn
player on a straight 16th grid: 8th-note lines (2+2), swung pairs (3+1, the nearest grid shape to a 2:1 triplet
swing), triplet approximations (1+1+2 for three notes in a beat, 5+5+6 for quarter-note triplets), syncopated
anticipations (a note entering on the last 16th of a beat), and long held endings.

Licks are tagged ``minor`` when they use only the blues scale of the root (1 b3 4 b5 5 b7), so they fit every chord
of every form, or ``major`` when they use the major third, sixth or ninth, so they fit only dominant and major chords.
"""

from __future__ import annotations

from dataclasses import dataclass

from studio.errors import StudioError

BLUES_SCALE = (0, 3, 5, 6, 7, 10)              # 1 b3 4 b5 5 b7: fits over any chord of a blues
MAJOR_PENTATONIC = (0, 2, 4, 7, 9)             # over dominant and major chords only
MINOR_PENTATONIC = (0, 3, 5, 7, 10)


@dataclass(frozen=True)
class LickNote:
    """One note of a lick: ``interval`` semitones above the reference root, ``offset`` and ``duration`` in steps
    from the lick's start; ``grace`` marks the one-step grace note of an approximated bend."""

    interval: int
    offset: int
    duration: int
    grace: bool = False


@dataclass(frozen=True)
class Lick:
    """A parsed lick: its notes, total length in steps (rests included), mood (``minor``/``major``) and role
    (``call``: may end anywhere; ``answer``: ends on the root or fifth, so it closes a call-and-response pair)."""

    notes: tuple[LickNote, ...]
    length: int
    mood: str
    role: str
    text: str


def parse_lick(text: str, mood: str = "minor", role: str = "call") -> Lick:
    """Read a lick template (see the module docstring); raises StudioError naming the bad event."""
    notes: list[LickNote] = []
    position = 0
    for event in text.split():
        try:
            if event.startswith("r"):
                position += int(event[1:])
                continue
            pitch, duration_text = event.split("/")
            duration = int(duration_text)
            if "~" in pitch:
                grace, target = (int(p) for p in pitch.split("~"))
                if duration < 2:
                    raise ValueError("a bend needs at least 2 steps")
                notes.append(LickNote(grace, position, 1, grace=True))
                notes.append(LickNote(target, position + 1, duration - 1))
            else:
                notes.append(LickNote(int(pitch), position, duration))
            position += duration
        except ValueError as error:
            raise StudioError(f"bad lick event {event!r} in {text!r}: write INTERVAL/STEPS, GRACE~TARGET/STEPS "
                              f"or rSTEPS ({error})") from None
    if not notes:
        raise StudioError(f"lick {text!r} has no notes")
    return Lick(tuple(notes), position, mood, role, text)


# (template, mood, role). Every lick fits in one two-bar window (32 steps) with at least 2 steps of breath after it.
_VOCABULARY: tuple[tuple[str, str, str], ...] = (
    # minor pentatonic / blues scale: fits over every chord of every form
    ("r2 10/2 12/2 10/2 7/2 5/2 3/2 0/10", "minor", "answer"),
    ("7/2 10/2 7/2 5/2 6/1 5/1 3/2 0/4 r4 -2/2 0/6", "minor", "answer"),
    ("r4 12/3 10/1 7/3 5/1 6/2 5/2 3/4 0/8", "minor", "answer"),
    ("0/1 3/1 5/2 6/1 7/3 r2 10/2 7/4 5/2 3/2 5/6", "minor", "call"),
    ("12/4 12/2 10/2 12/8 r2 10/2 7/4", "minor", "call"),
    ("15/2 12/2 10/2 12/2 10/2 7/2 10/2 7/2 5/4 3/2 0/6", "minor", "answer"),
    ("7/4 r2 7/2 10/3 7/1 5/4 3/2 5/6", "minor", "call"),
    ("r3 5/1 6/2 7/6 r4 10/2 12/6", "minor", "call"),
    ("0/2 3/2 0/2 3/2 5/2 6/2 7/8 r2 10/4", "minor", "call"),
    ("19/1 17/1 15/2 12/2 10/2 12/4 r4 7/8", "minor", "call"),
    ("10/1 12/3 10/2 7/2 10/1 12/3 10/2 7/2 5/2 3/2 0/6", "minor", "answer"),
    ("r8 12/2 12/2 10/2 12/6 10/2 7/4 0/4", "minor", "answer"),
    ("-5/2 -2/2 0/2 3/2 5/2 3/2 0/4 r4 0/4 -2/2 0/4", "minor", "answer"),
    ("7/6 6/2 5/4 3/4 0/12", "minor", "answer"),
    ("r4 3/3 5/1 6/3 5/1 3/4 0/2 -2/2 0/8", "minor", "answer"),
    ("12/5 10/5 7/6 5/2 3/2 0/8", "minor", "answer"),
    ("r4 7/1 7/1 7/2 7/1 7/1 7/2 10/2 7/2 5/8", "minor", "call"),
    ("r3 10/5 r2 10/2 12/4 r2 7/8", "minor", "call"),
    ("5~7/4 5/2 3/2 0/2 3/2 5/2 6/2 7/12", "minor", "call"),
    ("r2 10/1 12/1 15/2 12/2 10/1 12/3 10/2 7/10", "minor", "call"),
    ("17/2 15/2 12/2 10/2 12/2 10/2 7/2 6/2 5/2 3/2 5/8", "minor", "call"),
    ("3/2 5/2 3/2 0/2 r2 3/2 5/2 6/1 7/11", "minor", "call"),
    # major pentatonic with the b3 -> 3 bend: dominant and major chords only
    ("r2 3~4/4 7/2 9/2 7/2 4/2 2/2 0/8", "major", "answer"),
    ("9/2 7/2 4/2 2/2 3~4/4 0/4 r4 -3/2 0/6", "major", "answer"),
    ("0/2 2/2 3~4/4 7/4 9/2 10/2 9/2 7/2 4/8", "major", "call"),
    ("r2 12/2 9/2 7/2 9/2 7/2 3~4/4 2/2 0/10", "major", "answer"),
    ("4/1 7/1 9/2 10/4 9/2 7/2 4/4 3~4/4 0/8", "major", "answer"),
    ("r4 7/2 9/2 12/4 9/2 12/2 r2 9/2 7/2 4/2 7/6", "major", "call"),
    ("2/2 3/2 4/2 7/2 4/2 3/2 2/2 0/4 r2 -3/2 -1/2 0/6", "major", "answer"),
    ("r2 15~16/6 14/2 12/2 9/2 12/6 r2 9/2 7/4", "major", "call"),
    ("7/3 9/1 10/3 9/1 7/2 4/2 3~4/4 7/12", "major", "call"),
    ("r4 4/2 7/2 9/5 7/5 4/6 0/4", "major", "answer"),
)

LICKS: tuple[Lick, ...] = tuple(parse_lick(text, mood, role) for text, mood, role in _VOCABULARY)
