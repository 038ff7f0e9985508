"""The backing band: a walking or shuffle bass, comping chords and a swing drummer for any chord chart.

Everything is written on the straight 16th-note grid of ``studio.music.theory.chords`` (swing is applied only when
``studio.music.band.render`` turns steps into seconds). Drum notes use General MIDI percussion key numbers as pitches.
Each part draws from its own seeded random stream, so switching one part off leaves the others note-for-note the
same, and the same seed always gives the same band.

A "chord" here is a run of equal chords inside one bar (``C7 C7 C7 F7`` is C7 for three beats, then F7); a chord
that lasts several bars starts again at every bar line, as a bassist plays it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from itertools import pairwise

from studio.config import check_range
from studio.errors import StudioError
from studio.music.theory.chords import QUALITIES, STEPS_PER_BAR, STEPS_PER_BEAT, Chord, ChordChart, Note

BASS_STYLES = ("walking", "shuffle")
BASS_PROGRAMS = {"walking": 32, "shuffle": 33}     # GM acoustic bass; electric bass (finger)
COMPING_PROGRAMS = {"piano": 0, "guitar": 26}      # GM acoustic grand; electric guitar (jazz)
BASS_RANGE = (28, 55)                              # E1..G3: the four-string bass's useful compass
COMPING_RANGE = (50, 77)                           # shell voicings sit around middle C, above the bass's mud
MAX_CHORUSES = 1000

# General MIDI percussion keys (channel 10).
KICK, SIDE_STICK, SNARE, CLOSED_HAT, PEDAL_HAT = 36, 37, 38, 42, 44
FLOOR_TOM, LOW_TOM, MID_TOM, HIGH_TOM, CRASH, RIDE = 41, 45, 47, 50, 49, 51

# Scales the walking line passes through, by chord quality (semitones above the root).
_SCALES: dict[str, tuple[int, ...]] = {
    "maj": (0, 2, 4, 5, 7, 9, 11), "6": (0, 2, 4, 5, 7, 9, 11), "maj7": (0, 2, 4, 5, 7, 9, 11),
    "7": (0, 2, 4, 5, 7, 9, 10), "min": (0, 2, 3, 5, 7, 9, 10), "m7": (0, 2, 3, 5, 7, 9, 10),
    "m6": (0, 2, 3, 5, 7, 9, 10), "mmaj7": (0, 2, 3, 5, 7, 9, 11), "m7b5": (0, 1, 3, 5, 6, 8, 10),
    "dim": (0, 2, 3, 5, 6, 8, 9, 11), "dim7": (0, 2, 3, 5, 6, 8, 9, 11), "aug": (0, 2, 4, 6, 8, 10),
    "sus4": (0, 2, 5, 7, 9, 10), "7sus4": (0, 2, 5, 7, 9, 10),
}
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
# Drum fills for the second half of a chorus's last bar: (step, drum) pairs that crescendo into the next chorus.
_FILLS: tuple[tuple[tuple[int, int], ...], ...] = (
    ((8, SNARE), (10, SNARE), (12, HIGH_TOM), (13, MID_TOM), (14, LOW_TOM), (15, FLOOR_TOM)),
    ((8, SNARE), (9, SNARE), (10, SNARE), (11, SNARE), (12, SNARE), (14, FLOOR_TOM), (15, KICK)),
    ((10, SNARE), (12, SNARE), (13, SNARE), (14, LOW_TOM), (15, FLOOR_TOM)),
    ((8, SNARE), (11, SNARE), (12, HIGH_TOM), (14, FLOOR_TOM), (15, FLOOR_TOM)),
)


@dataclass(frozen=True)
class Span:
    """One chord's stretch of the piece in grid steps (never longer than a bar); ``last_in_chorus`` marks the
    final span of a chorus, where the drummer fills."""

    start: int
    end: int
    chord: Chord
    last_in_chorus: bool = False

    @property
    def beats(self) -> int:
        return (self.end - self.start) // STEPS_PER_BEAT


def chord_spans(chart: ChordChart, choruses: int) -> list[Span]:
    """The chart played ``choruses`` times as spans: equal neighbouring chords inside a bar are merged."""
    spans: list[Span] = []
    for chorus in range(choruses):
        for bar_index, bar in enumerate(chart.bars):
            bar_start = (chorus * chart.num_bars + bar_index) * STEPS_PER_BAR
            step = STEPS_PER_BAR // len(bar)
            for i, chord in enumerate(bar):
                start = bar_start + i * step
                if i and spans and spans[-1].chord == chord:
                    spans[-1] = Span(spans[-1].start, start + step, chord)
                else:
                    spans.append(Span(start, start + step, chord))
        spans[-1] = Span(spans[-1].start, spans[-1].end, spans[-1].chord, last_in_chorus=True)
    return spans


def backing_band(chart: ChordChart, choruses: int, bass: str | None = "walking", comping: bool = True,
                 drums: bool = True, seed: int = 0) -> dict[str, list[Note]]:
    """A rhythm section for ``choruses`` times through ``chart``.

    Parameters
    ----------
    chart : ChordChart
        The form; it is played ``choruses`` times back to back.
    choruses : int
        How many times through the form, 1 to 1000.
    bass : {"walking", "shuffle"} or None
        Walking quarter notes (root on each chord's first beat, approach notes into the next root) or a boogie
        shuffle in 8ths (to be swung at rendering); None leaves the bass out.
    comping, drums : bool
        Include chord voicings (Charleston, 2-and-4 and pushed rhythms) and the swing drum kit.
    seed : int
        The same seed gives the same band, note for note.

    Returns
    -------
    dict of str to list of Note
        ``"bass"``, ``"comping"`` and ``"drums"`` (those switched on), each sorted by start; times in grid steps,
        drum pitches are General MIDI percussion keys (play them on channel 10).
    """
    if not isinstance(chart, ChordChart) or not chart.bars:
        raise StudioError("the backing band needs a chord chart with at least one bar, e.g. blues_chart('12-bar')")
    for i, bar in enumerate(chart.bars):
        if len(bar) not in (1, 2, 4):  # whole beats per chord, as ChordChart.parse guarantees
            raise StudioError(f"bar {i + 1} of the chart has {len(bar)} chords; the band plays bars of 1, 2 or 4")
    check_range("choruses", choruses, 1, MAX_CHORUSES, integer=True)
    check_range("seed", seed, 0, None, integer=True)
    if bass is not None and bass not in BASS_STYLES:
        raise StudioError(f"bass must be one of {', '.join(BASS_STYLES)} or None (no bass); got {bass!r}")
    spans = chord_spans(chart, choruses)
    parts: dict[str, list[Note]] = {}
    if bass == "walking":
        parts["bass"] = walking_bass(spans, _rng(seed, "bass"))
    elif bass == "shuffle":
        parts["bass"] = shuffle_bass(spans, _rng(seed, "bass"))
    if comping:
        parts["comping"] = comp(spans, _rng(seed, "comping"))
    if drums:
        parts["drums"] = swing_drums(spans, _rng(seed, "drums"))
    return {name: sorted(notes, key=lambda n: (n.start, n.pitch)) for name, notes in parts.items()}


def _rng(seed: int, part: str) -> random.Random:
    # A string seed is hashed with SHA-512 by ``random``: stable across runs and Python versions, one stream a part.
    return random.Random(f"studio-band:{part}:{seed}")


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
