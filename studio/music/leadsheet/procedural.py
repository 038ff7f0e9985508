"""A procedural blues improvisation corpus: the training data of the shipped blues improviser.

Each lead sheet is one to three choruses of a horn-like solo over a blues form (``chords.BLUES_FORMS``) in one of
the twelve keys, at a tempo between 80 and 200. The solo is built the way blues players are taught to build one:

* phrases live in two-bar windows, paired as a call and an answer with a breath between them; in a 12-bar chorus
  the call of bars 1-2 comes back, varied, in bars 5-6 (the AAB shape of a blues lyric), and bars 9-12 bring a new
  call and a resolving answer;
* the phrases come from a vocabulary of blues and pentatonic licks (``blues_licks``) or from a line generator that
  walks the blues scale in idiomatic rhythm cells (8th-note lines, 3+1 swing, triplet approximations, syncopated
  entries), always ending on a held chord tone;
* licks are written relative to a chord root, so the same lick is right in every key and over every chord it is
  played on; minor-pentatonic licks go anywhere, major-third licks only over dominant and major chords;
* after the notes are placed, the first note of every beat that starts a new chord, and most notes on beats 1 and 3
  or held ones, are nudged to the nearest chord tone, so the line "makes the changes" (measured by
  ``metrics.chord_tone_share``); bends are one-step grace notes from the b3 into the 3 or the b5 into the 5;
* the register sits in an alto/tenor saxophone range (MIDI 50-84) and climbs a little with each chorus; the last
  chorus ends on the tonic.

Everything draws from one ``random.Random(seed)``, so a seed gives the same corpus on every machine, and a larger
corpus with the same seed starts with the smaller one's sheets.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace

from studio.errors import StudioError
from studio.music.io.leadsheet_midi import read_corpus, write_corpus
from studio.music.leadsheet.licks import BLUES_SCALE, LICKS, MAJOR_PENTATONIC, Lick, LickNote
from studio.music.theory.chords import (
    BLUES_FORMS,
    NOTE_NAMES,
    STEPS_PER_BAR,
    Chord,
    ChordChart,
    LeadSheet,
    Note,
    blues_chart,
    pitch_class,
)

__all__ = ["DEFAULT_FORMS", "HIGHEST", "LOWEST", "generate_blues_corpus", "read_corpus", "write_corpus"]

LOWEST, HIGHEST = 50, 84                    # alto and tenor saxophone, sounding pitches
DEFAULT_FORMS = ("12-bar", "quick-change", "jazz", "minor", "8-bar")
TEMPO_RANGE = (80, 200)
WINDOW = 2 * STEPS_PER_BAR                  # a phrase window: two bars
BREATH = 2                                  # steps of silence a phrase leaves before the next window
# Chords over which a lick with a major third, sixth or ninth sounds right (never over minor or diminished ones).
_MAJOR_FRIENDLY = frozenset({"7", "maj", "maj7", "6", "7sus4", "sus4", "aug"})
# Two-bar windows of a chorus: the AAB shape for 12 bars, AA'B' for 8; other lengths alternate call and answer.
_PLANS = {12: ("call", "answer", "repeat", "answer", "call", "answer"), 8: ("call", "answer", "repeat", "answer")}
# Rhythm cells of one beat for the line generator (16th steps; negative = a rest, so the next note is syncopated).
# Raw notes are lists [pitch, start, duration, velocity, flag] while a solo is built; the flag marks grace notes and
# notes that chord-tone targeting must leave alone.
_PLAIN, _GRACE, _KEEP = 0, 1, 2
_CELLS = ((2, 2), (2, 2), (2, 2), (3, 1), (3, 1), (1, 1, 2), (2, 1, 1), (4,), (-2, 2), (-1, 3), (1, 1, 1, 1))


@dataclass(frozen=True)
class _Phrase:
    """A lick placed on a reference root: ``notes`` are intervals above ``root`` (a pitch class)."""

    notes: tuple[LickNote, ...]
    root: int
    mood: str


def generate_blues_corpus(choruses: int, seed: int = 0, forms: Sequence[str] = DEFAULT_FORMS,
                          keys: Sequence[int | str] = tuple(range(12))) -> list[LeadSheet]:
    """Generate ``choruses`` choruses of blues improvisation, grouped into lead sheets of one to three choruses.

    Parameters
    ----------
    choruses : int
        Total number of choruses over all sheets (>= 0).
    seed : int
        Seed of the one random generator everything draws from; the same seed gives the same corpus.
    forms : sequence of str
        Blues forms to use, in turn (keys of ``chords.BLUES_FORMS``).
    keys : sequence of int or str
        Keys to draw from, as pitch classes (0 = C) or names ("Bb").

    Returns
    -------
    list of LeadSheet
        Each with a chart that covers every bar of its melody (the form repeated once per chorus), non-overlapping
        notes in MIDI 50-84 on the 16th-note grid, an integer tempo in [80, 200] and a descriptive name.
    """
    if isinstance(choruses, bool) or not isinstance(choruses, int) or choruses < 0:
        raise StudioError(f"choruses must be a whole number >= 0, got {choruses!r}")
    unknown = [f for f in forms if f not in BLUES_FORMS]
    if unknown or not forms:
        raise StudioError(f"unknown blues form(s) {unknown or forms!r}; choose from {', '.join(BLUES_FORMS)}")
    tonics = [k % 12 if isinstance(k, int) else pitch_class(k) for k in keys]
    if not tonics:
        raise StudioError("keys is empty: give at least one key, e.g. keys=('C', 'F', 'Bb')")
    rng = random.Random(seed)
    sheets: list[LeadSheet] = []
    remaining = choruses
    while remaining > 0:
        count = min(remaining, rng.choice((1, 1, 2, 2, 3)))
        form = forms[len(sheets) % len(forms)]            # forms in turn, so every form is equally represented
        key = tonics[rng.randrange(len(tonics))]
        tempo = rng.randint(*TEMPO_RANGE)
        name = f"procedural-blues-s{seed}-{len(sheets):05d}-{form}-{NOTE_NAMES[key]}"
        sheets.append(_sheet(form, key, count, tempo, name, rng))
        remaining -= count
    return sheets


def _sheet(form: str, key: int, count: int, tempo: int, name: str, rng: random.Random) -> LeadSheet:
    chorus = blues_chart(form, key)
    chart = ChordChart([list(bar) for _ in range(count) for bar in chorus.bars])
    centre = rng.uniform(60.0, 65.0)
    raw: list[list[int]] = []
    for index in range(count):
        # Each chorus climbs a little: solos build intensity by register as much as by density.
        raw += _chorus(chart, index * chorus.num_bars, chorus.num_bars, key, centre + 2.5 * index, rng,
                       final=index == count - 1)
    _target_chord_tones(raw, chart, rng)
    return LeadSheet(_resolve_blue_notes(_tidy(raw), chart), chart, float(tempo), name)


def _chorus(chart: ChordChart, first_bar: int, bars: int, key: int, centre: float, rng: random.Random,
            final: bool) -> list[list[int]]:
    """Raw notes of one chorus starting at ``first_bar``."""
    plan = _PLANS.get(bars) or tuple("call" if w % 2 == 0 else "answer" for w in range(bars // 2))
    raw: list[list[int]] = []
    call: _Phrase | None = None
    for window, role in enumerate(plan):
        start = (first_bar + 2 * window) * STEPS_PER_BAR
        beats = [chart.chord_at(s) for s in range(start, start + WINDOW, 4)]
        ending = final and window == len(plan) - 1
        if role == "repeat" and call is not None:
            phrase = _vary(call, rng)
            # Half the time the repeated call follows the new chord's root (a sequence), else it keeps its pitches
            # (the classic same-lick-over-the-IV-chord sound); a major lick only moves onto a chord it fits.
            if beats[0].root is not None and rng.random() < 0.5 and _allows(phrase.mood, beats):
                phrase = replace(phrase, root=beats[0].root)
        elif window > 0 and not ending and rng.random() < 0.08:
            continue                                   # laying out for two bars is part of the music too
        else:
            phrase = _pick("answer" if ending else role, beats, key, rng)
            if role == "call":
                call = phrase
        length = max(n.offset + n.duration for n in phrase.notes)
        room = WINDOW - BREATH - length
        offset = min(max(room, 0), rng.choice((0, 0, 0, 1, 2, 2, 4) if role != "answer" else (0, 0, 2, 4)))
        limit = start + (WINDOW if ending else WINDOW - BREATH)
        notes = _realise(phrase, start + offset, limit, centre, rng)
        if ending:
            _end_on_tonic(notes, key, limit)
        raw += notes
    return raw


def _allows(mood: str, chords: Sequence[Chord]) -> bool:
    """Whether a lick of ``mood`` fits every chord in ``chords`` (major licks need one major-friendly root)."""
    if mood == "minor":
        return True
    roots = {c.root for c in chords if c.root is not None}
    return len(roots) == 1 and all(c.quality in _MAJOR_FRIENDLY for c in chords if c.root is not None)


def _pick(role: str, beats: Sequence[Chord], key: int, rng: random.Random) -> _Phrase:
    """A new phrase for a window whose chords (one per beat) are ``beats``."""
    major_ok = _allows("major", beats)
    mood = "major" if major_ok and rng.random() < 0.4 else "minor"
    root = beats[0].root if beats[0].root is not None else key
    if mood == "minor" and rng.random() < 0.35:
        root = key                                     # tonic minor pentatonic over the changes: the oldest sound
    if rng.random() < 0.35:
        lick = _line(mood, role, rng)
    else:
        choices = [lk for lk in LICKS if lk.mood == mood and (role != "answer" or lk.role == "answer")]
        lick = rng.choice(choices)
        if rng.random() < 0.5:                         # vocabulary is rarely played exactly as learned
            return _vary(_Phrase(lick.notes, root, mood), rng)
    return _Phrase(lick.notes, root, mood)


def _line(mood: str, role: str, rng: random.Random) -> Lick:
    """A generated lick: a scale walk in one-beat rhythm cells, mostly descending, ending on a held chord tone."""
    scale = BLUES_SCALE if mood == "minor" else MAJOR_PENTATONIC
    ladder = sorted({s + 12 * octave for s in scale for octave in (-1, 0, 1)} | {24})
    ladder = [i for i in ladder if -7 <= i <= 19]
    index = rng.choice([i for i, v in enumerate(ladder) if 7 <= v <= 15])
    direction = -1 if rng.random() < 0.65 else 1
    hold = rng.choice((4, 6, 8, 10))
    notes: list[LickNote] = []
    position = rng.choice((0, 0, 1, 2))
    for _ in range(rng.randint(3, 6)):
        cell = rng.choice(_CELLS)
        if position + sum(abs(d) for d in cell) + hold > WINDOW - BREATH:
            break
        for duration in cell:
            if duration < 0:
                position -= duration
                continue
            notes.append(LickNote(ladder[index], position, duration))
            position += duration
            if rng.random() < 0.25:
                direction = -direction
            # A b5 resolves by step; elsewhere an occasional skip keeps the line from sounding like a scale.
            step = 1 if ladder[index] % 12 == 6 or rng.random() < 0.75 else 2
            if not 0 <= index + direction * step < len(ladder):
                direction = -direction
            index = min(max(index + direction * step, 0), len(ladder) - 1)
    tones = (0, 7, 12, -5) if role == "answer" else (0, 7, 12, 10, -2, 3 if mood == "minor" else 4)
    here = ladder[index]
    notes.append(LickNote(min(tones, key=lambda t: (abs(t - here), t)), position, hold))
    if mood == "major" and rng.random() < 0.5:
        notes = _ornament(notes, rng, (4,))            # the b3 -> 3 bend that makes major pentatonic bluesy
    return Lick(tuple(notes), position + hold, mood, role, "generated")


def _vary(phrase: _Phrase, rng: random.Random) -> _Phrase:
    """The same phrase, restated as players restate a riff: exactly, or with one or two small edits."""
    notes = list(phrase.notes)
    for _ in range(rng.choice((0, 1, 1, 2))):
        edit = rng.choice(("shift", "ending", "truncate", "ornament", "merge"))
        if edit == "shift":                            # rhythmic displacement by a 16th or an 8th
            delta = rng.choice((-1, 1, 2))
            if min(n.offset for n in notes) + delta >= 0:
                notes = [replace(n, offset=n.offset + delta) for n in notes]
        elif edit == "ending":                         # land the phrase on a different chord tone
            last = notes[-1]
            notes[-1] = replace(last, interval=rng.choice([t for t in (0, 7, 12, 10, 3) if t != last.interval]))
        elif edit == "truncate" and len(notes) >= 5 and not notes[-2].grace:
            cut = notes.pop()
            notes[-1] = replace(notes[-1], duration=cut.offset + cut.duration - notes[-1].offset)
        elif edit == "ornament":
            notes = _ornament(notes, rng, (0, 7) if phrase.mood == "minor" else (0, 4, 7))
        elif edit == "merge":                          # two short notes become one longer one
            spots = [i for i in range(len(notes) - 2) if not notes[i].grace and not notes[i + 1].grace
                     and notes[i].offset + notes[i].duration == notes[i + 1].offset]
            if spots:
                i = rng.choice(spots)
                notes[i] = replace(notes[i], duration=notes[i].duration + notes[i + 1].duration)
                del notes[i + 1]
    return replace(phrase, notes=tuple(notes))


def _ornament(notes: list[LickNote], rng: random.Random, targets: tuple[int, ...]) -> list[LickNote]:
    """Bend into one note (interval class in ``targets``, at least 3 steps long) from a semitone below."""
    spots = [i for i, n in enumerate(notes) if n.interval % 12 in targets and n.duration >= 3 and not n.grace
             and not (i and notes[i - 1].grace)]
    if not spots:
        return notes
    i = rng.choice(spots)
    n = notes[i]
    return [*notes[:i], LickNote(n.interval - 1, n.offset, 1, grace=True),
            replace(n, offset=n.offset + 1, duration=n.duration - 1), *notes[i + 1:]]


def _realise(phrase: _Phrase, at: int, limit: int, centre: float, rng: random.Random) -> list[list[int]]:
    """Absolute notes for ``phrase`` starting at step ``at``, cut at ``limit``, in the octave nearest ``centre``."""
    intervals = [n.interval for n in phrase.notes]
    low, high, mean = min(intervals), max(intervals), sum(intervals) / len(intervals)
    bases = [phrase.root + 12 * k for k in range(2, 9)]
    fitting = [b for b in bases if b + low >= LOWEST and b + high <= HIGHEST] or bases
    base = min(fitting, key=lambda b: abs(b + mean - centre))
    loudness = rng.randint(78, 92)
    notes = []
    for n in phrase.notes:
        start = at + n.offset
        if start >= limit:
            break
        accent = 8 if start % 8 == 0 else 4 if start % 4 == 0 else 0
        velocity = loudness + accent - (18 if n.grace else 0) + rng.randint(-5, 5)
        notes.append([_fold(base + n.interval), start, min(n.duration, limit - start), velocity,
                      _GRACE if n.grace else _PLAIN])
    return notes


def _end_on_tonic(notes: list[list[int]], key: int, limit: int) -> None:
    """Make the last note of a solo the tonic, held to the end of the form (flagged so targeting keeps it: the
    tonic over the last bar's V7 is the suspended ending players use)."""
    last = notes[-1]
    pitch = min((p for p in range(LOWEST, HIGHEST + 1) if p % 12 == key), key=lambda p: abs(p - last[0]))
    last[0], last[2], last[4] = pitch, limit - last[1], _KEEP
    if len(notes) > 1 and notes[-2][4] == _GRACE and notes[-2][1] == last[1] - 1:
        notes[-2][0] = _fold(pitch - 1)


def _fold(pitch: int) -> int:
    """Move a pitch by octaves into the instrument's range."""
    while pitch < LOWEST:
        pitch += 12
    while pitch > HIGHEST:
        pitch -= 12
    return pitch


def _chord_changes(chart: ChordChart) -> set[int]:
    """Steps at which the sounding chord differs from the one before (step 0 included)."""
    changes, previous, step = set(), None, 0
    for bar in chart.bars:
        for chord in bar:
            if chord != previous:
                changes.add(step)
            previous = chord
            step += STEPS_PER_BAR // len(bar)
    return changes


def _target_chord_tones(raw: list[list[int]], chart: ChordChart, rng: random.Random) -> None:
    """Nudge notes to the nearest chord tone: nearly always the first note of a beat that starts a new chord, often
    notes on beats 1 and 3 and held notes. Grace notes keep bending into their (possibly moved) target."""
    raw.sort(key=lambda n: n[1])
    changes = _chord_changes(chart)
    previous_start = -1
    for i, note in enumerate(raw):
        pitch, start, duration, _, flag = note
        if flag == _GRACE:
            continue
        chord = chart.chord_at(start)
        beat = start - start % 4
        first_of_change = beat in changes and previous_start < beat
        previous_start = start
        chance = 0.95 if first_of_change else 0.9 if duration >= 6 else 0.6 if start % 8 == 0 else 0.0
        if flag == _KEEP or chord.root is None or pitch % 12 in chord.pitch_classes or rng.random() >= chance:
            continue
        note[0] = _nearest_chord_tone(pitch, chord)
        if i and raw[i - 1][4] == _GRACE and raw[i - 1][1] == start - 1:
            raw[i - 1][0] = _fold(note[0] - 1)


def _is_blue(pitch: int, chord: Chord) -> bool:
    """A b5 over any chord, or a b3 over a chord with a major third, that is not itself a chord tone."""
    if chord.root is None or pitch % 12 in chord.pitch_classes:
        return False
    interval = (pitch - chord.root) % 12
    return interval == 6 or (interval == 3 and (chord.root + 4) % 12 in chord.pitch_classes)


def _resolve_blue_notes(melody: list[Note], chart: ChordChart) -> list[Note]:
    """Blue notes lean on a neighbour: a b3 or b5 must move on by step (or fall to the root) within a beat. One that
    does not (a phrase ending, or a skip left by targeting) becomes the note it leans on, a semitone up."""
    out = list(melody)
    for i, note in enumerate(out):
        chord = chart.chord_at(note.start)
        if not _is_blue(note.pitch, chord):
            continue
        after = out[i + 1] if i + 1 < len(out) else None
        if after is not None and after.start - note.end <= 4 and (
                abs(after.pitch - note.pitch) <= 2 or (after.pitch - note.pitch in (-3, -6)
                                                       and after.pitch % 12 == chord.root)):
            continue
        pitch = note.pitch + 1 if note.pitch < HIGHEST else note.pitch - 1
        out[i] = replace(note, pitch=pitch)
    return out


def _nearest_chord_tone(pitch: int, chord: Chord) -> int:
    for delta in (0, -1, 1, -2, 2, -3, 3, -4, 4, -5, 5, 6):
        if (pitch + delta) % 12 in chord.pitch_classes and LOWEST <= pitch + delta <= HIGHEST:
            return pitch + delta
    return pitch


def _tidy(raw: list[list[int]]) -> list[Note]:
    """Sorted notes that never overlap: a note is cut where the next one starts; a second onset on a step is
    dropped."""
    raw.sort(key=lambda n: n[1])
    starts = sorted({n[1] for n in raw})
    following = dict(zip(starts, [*starts[1:], None], strict=True))
    notes: list[Note] = []
    for pitch, start, duration, velocity, _ in raw:
        if notes and start <= notes[-1].start:
            continue
        after = following[start]
        if after is not None:
            duration = min(duration, after - start)
        notes.append(Note(_fold(pitch), start, max(duration, 1), min(max(velocity, 40), 120)))
    return notes
