"""Read Impro-Visor lead sheets (``.ls``) into Studio's ``LeadSheet``.

An Impro-Visor lead sheet is a sequence of s-expressions and bare tokens. Directives such as ``(title ...)``,
``(meter 4 4)``, ``(key -1)`` (sharps, or flats when negative), ``(tempo 160.0)``, ``(transpose 2)`` and
``(part (type chords|melody) ...)`` are lists; everything outside the lists is music, classified as Impro-Visor
classifies it, by its first character:

* ``|`` or ``,`` ends a bar of the chord part; ``/`` repeats the previous chord for one slot of the bar;
* a capitalised token is a chord symbol (``F13``, ``Bbm7``, ``Eo7``, ``C7/E``, ``NC``); the chords of a bar share it
  equally;
* a lowercase token is a melody note or rest: a pitch letter, ``#`` or ``b``, octave shifts ``+``/``-`` (``c`` is
  middle C), then a duration: ``1 2 4 8 16 32`` for whole to 32nd, ``.`` dotted, ``/3`` a triplet, and ``+`` tying
  values into one note (``c+4+8`` is the C above middle C for a dotted quarter); ``r`` is a rest (``r2``).

Each ``(part (type melody))`` after the first melody starts a new chorus, played over the chord part again. Times
are counted in Impro-Visor's slots (480 to a whole note) and rounded to Studio's 16th-note grid; triplets land on
the nearest 16th, and a note that would share a grid step with the one before (a 16th-note triplet) is dropped and
counted in ``ImproVisorSheet.dropped``. Bars with 3 or more than 4 chords keep the chord sounding at each beat.

Studio's lead sheets are 4/4: a sheet in another meter is refused with a ``StudioError`` naming the file, as is a
sheet with unbalanced parentheses, an unreadable note or chord, or nothing to read.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from studio.errors import StudioError
from studio.music.theory.chords import NO_CHORD, STEPS_PER_BAR, Chord, ChordChart, LeadSheet, Note, parse_chord

SLOTS_PER_WHOLE = 480                     # Impro-Visor's time unit: 120 slots to a quarter note
SLOTS_PER_STEP = SLOTS_PER_WHOLE // STEPS_PER_BAR
SLOTS_PER_BAR = SLOTS_PER_WHOLE           # 4/4 only
MIDDLE_C = 60                             # Impro-Visor's unshifted "c"
DEFAULT_TEMPO = 160.0                     # Impro-Visor's default when a sheet gives none
_NOTE = re.compile(r"^([a-g])([#bs]?)([-+u]*)(.*)$")
_DURATION_PART = re.compile(r"^(\d*)(?:/(\d+))?(\.*)$")
_PITCH = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}
# Impro-Visor chord spellings that chords.parse_chord does not know, mapped to ones it does.
_SUFFIX_FIXES = (("M69", "69"), ("m69", "m6"), ("m+", "m"), ("m#5", "m"), ("mM7", "mmaj7"))


@dataclass
class ImproVisorSheet:
    """A parsed Impro-Visor file: the lead sheet plus what the file said about itself.

    Attributes
    ----------
    sheet : LeadSheet
        Melody (all choruses, one after another) over the chord part repeated once per chorus.
    title, composer : str
        From ``(title ...)`` and ``(composer ...)``.
    key : int
        Key signature in sharps (> 0) or flats (< 0); Impro-Visor spells notes explicitly, so it does not change
        pitches.
    transpose : int
        Semitones from ``(transpose ...)``, already applied to notes and chords.
    chorus_bars : int
        Bars in the chord part (0 when the sheet has no chords).
    choruses : int
        Melody parts read (each a chorus over the chord part).
    dropped : int
        Notes too short for the 16th-note grid that were dropped (16th-note triplets, grace-length notes).
    """

    sheet: LeadSheet
    title: str = ""
    composer: str = ""
    key: int = 0
    transpose: int = 0
    chorus_bars: int = 0
    choruses: int = 0
    dropped: int = 0


def read_impro_visor(path: str | os.PathLike) -> LeadSheet:
    """The LeadSheet of an Impro-Visor ``.ls`` file; raises StudioError naming the file and the reason."""
    return read_impro_visor_details(path).sheet


def read_impro_visor_details(path: str | os.PathLike) -> ImproVisorSheet:
    """Like ``read_impro_visor``, with the file's title, key, chorus count and grid losses."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        raise StudioError(f"{file}: cannot read the lead sheet ({error.strerror or error})") from None
    return parse_impro_visor(text, str(file))


def parse_impro_visor(text: str, name: str = "<lead sheet>") -> ImproVisorSheet:
    """Parse the text of an Impro-Visor lead sheet; ``name`` (the file) heads every error message."""
    try:
        return _Reader(name).read(_tokenise(text))
    except _Bad as bad:
        where = f"line {bad.line}: " if bad.line else ""
        raise StudioError(f"{name}: {where}{bad}") from None


class _Bad(Exception):
    """A reason the sheet cannot be read, with the line it was found on."""

    def __init__(self, reason: str, line: int = 0):
        super().__init__(reason)
        self.line = line


def _tokenise(text: str) -> list:
    """Nested lists of ``(token, line)`` atoms: one list per parenthesised expression."""
    stack: list[list] = [[]]
    opened: list[int] = []
    for number, line in enumerate(text.splitlines(), 1):
        for token in re.findall(r"[()]|[^\s()]+", line):
            if token == "(":
                stack.append([])
                opened.append(number)
            elif token == ")":
                if len(stack) == 1:
                    raise _Bad("unbalanced parentheses: ')' with no '(' before it", number)
                done = stack.pop()
                opened.pop()
                stack[-1].append(done)
            else:
                stack[-1].append((token, number))
    if opened:
        raise _Bad(f"unbalanced parentheses: the '(' opened on line {opened[-1]} is never closed")
    return stack[0]


def _words(expression: list) -> list[str]:
    return [item[0] for item in expression if isinstance(item, tuple)]


def _line_of(expression: list) -> int:
    for item in expression:
        if isinstance(item, tuple):
            return item[1]
        line = _line_of(item)
        if line:
            return line
    return 0


class _Reader:
    """Walks the top-level expressions in order, as Impro-Visor's ``Leadsheet.readLeadSheet`` does."""

    def __init__(self, name: str):
        self.name = name
        self.info = ImproVisorSheet(LeadSheet([], ChordChart([[NO_CHORD]])))
        self.tempo = DEFAULT_TEMPO
        self.chords: list[tuple[str, int]] = []          # bar marks, slashes and chord symbols, in order
        self.parts: list[list[tuple[str, int]]] = [[]]   # melody tokens of each melody part

    def read(self, items: list) -> ImproVisorSheet:
        for item in items:
            if isinstance(item, list):
                self._directive(item)
            else:
                self._music(*item)
        bars = self._chord_bars()
        notes, dropped = self._melody(len(bars) * SLOTS_PER_BAR)
        if not bars and not notes:
            raise _Bad("no chords and no melody notes found: is this an Impro-Visor lead sheet?")
        chorus_steps = len(bars) * STEPS_PER_BAR
        end = max((n.end for n in notes), default=0)
        if bars:
            repeats = max(1, -(-end // chorus_steps))
            chart = ChordChart([list(bar) for _ in range(repeats) for bar in bars])
        else:
            chart = ChordChart([[NO_CHORD] for _ in range(max(1, -(-end // STEPS_PER_BAR)))])
        info = self.info
        info.sheet = LeadSheet(notes, chart, self.tempo, info.title or Path(self.name).stem)
        info.chorus_bars, info.dropped = len(bars), dropped
        info.choruses = sum(1 for part in self.parts if part)
        return info

    # -- directives ---------------------------------------------------------------------------------------------
    def _directive(self, expression: list) -> None:
        words = _words(expression)
        if not words:
            return
        head, args, line = words[0], words[1:], _line_of(expression)
        if head in ("title", "composer"):
            setattr(self.info, head, " ".join(args))
        elif head == "meter":
            meter = tuple(args[:2]) if len(args) > 1 else [*args[:1], "4"] if args else ()
            if meter != ("4", "4"):
                raise _Bad(f"meter {'/'.join(meter) or '(empty)'} is not supported: Studio's lead sheets are 4/4",
                           line)
        elif head == "key":
            self.info.key = self._integer(args, "key", line, -7, 7)
        elif head == "transpose":
            self.info.transpose = self._integer(args, "transpose", line, -48, 48)
        elif head == "tempo":
            try:
                self.tempo = float(args[0])
            except (IndexError, ValueError):
                raise _Bad(f"(tempo {' '.join(args)}) must give beats per minute, e.g. (tempo 160.0)", line) from None
            if not 1 <= self.tempo <= 1000:
                raise _Bad(f"tempo {self.tempo:g} is outside 1-1000 beats per minute", line)
        elif head == "part":
            for sub in expression[1:]:
                sub_words = _words(sub) if isinstance(sub, list) else []
                if sub_words[:2] == ["type", "melody"] and self.parts[-1]:
                    self.parts.append([])                # a further melody part is the next chorus
                elif sub_words[:1] == ["key"]:
                    self.info.key = self._integer(sub_words[1:], "key", _line_of(sub), -7, 7)
        # style, section, phrase, layout, volumes, roadmap and the rest only concern playback and display

    def _integer(self, args: list[str], what: str, line: int, low: int, high: int) -> int:
        try:
            value = int(args[0])
        except (IndexError, ValueError):
            raise _Bad(f"({what} {' '.join(args)}) must be a whole number from {low} to {high}", line) from None
        if not low <= value <= high:
            raise _Bad(f"({what} {value}) must be from {low} to {high}", line)
        return value

    def _music(self, token: str, line: int) -> None:
        first = token[0]
        if first in "|,/":
            self.chords.append((first, line))          # Impro-Visor ignores what is glued to a bar line
        elif first.isalpha() and first.isupper():
            self.chords.append((token, line))
        elif first.isalpha():
            self.parts[-1].append((token, line))
        else:
            raise _Bad(f"unexpected item {token!r}: not a chord, a note, a rest or a bar line", line)

    # -- chords -------------------------------------------------------------------------------------------------
    def _chord_bars(self) -> list[list[Chord]]:
        marks = self.chords[1:] if self.chords[:1] and self.chords[0][0] in "|," else self.chords
        groups: list[list[tuple[str, int]]] = [[]]
        for token, line in marks:
            if token in "|,":
                groups.append([])
            else:
                groups[-1].append((token, line))
        if not groups[-1]:
            groups.pop()                               # the closing bar line
        bars, previous = [], NO_CHORD
        for group in groups:
            if not group:                              # an empty bar continues the chord before it
                bars.append([previous])
                continue
            if SLOTS_PER_BAR % len(group):
                raise _Bad(f"a bar with {len(group)} chords does not divide evenly", group[0][1])
            slots = []
            for token, line in group:
                previous = previous if token == "/" else self._chord(token, line)
                slots.append(previous)
            # One chord per beat: the chord sounding at each beat's start, merged when the halves agree.
            beats = [slots[b * len(slots) // 4] for b in range(4)]
            bars.append([beats[0]] if len(set(beats)) == 1 else
                        [beats[0], beats[2]] if beats[0] == beats[1] and beats[2] == beats[3] else beats)
        return bars

    def _chord(self, token: str, line: int) -> Chord:
        symbol = token.rstrip("_")                     # a trailing _ marks an alternative voicing in Impro-Visor
        for wrong, right in _SUFFIX_FIXES:
            symbol = re.sub(rf"^([A-G][#b]?){re.escape(wrong)}(?=/|$)", rf"\g<1>{right}", symbol)
        root = re.match(r"^[A-G][#b]?", symbol)
        if root or symbol in ("NC", "N.C."):
            # Fall back on the longest readable prefix ("C7b9#11x" -> "C7b9"): the root and basic quality survive.
            for end in range(len(symbol), root.end() - 1 if root else len(symbol) - 1, -1):
                try:
                    return parse_chord(symbol[:end]).transpose(self.info.transpose)
                except StudioError:
                    continue
        raise _Bad(f"unknown chord symbol {token!r}", line)

    # -- melody -------------------------------------------------------------------------------------------------
    def _melody(self, chorus_slots: int) -> tuple[list[Note], int]:
        timed: list[tuple[int, int, int, int]] = []      # (start slot, end slot, pitch, velocity)
        part_start = 0
        for part in self.parts:
            if not part:
                continue
            position, velocity = part_start, Note.velocity
            for token, line in part:
                if re.fullmatch(r"v\d+", token):       # a volume mark changes the loudness of following notes
                    velocity = min(int(token[1:]), 127)
                    continue
                pitch, duration = self._note(token, line)
                if pitch is not None:
                    timed.append((position, position + duration, pitch, velocity))
                position += duration
            # The next chorus starts at the next pass through the chord part.
            part_start = -(-position // chorus_slots) * chorus_slots if chorus_slots else position
        return _quantise(timed)

    def _note(self, token: str, line: int) -> tuple[int | None, int]:
        if token[0] == "r":
            return None, self._duration(token[1:], token, line)
        match = _NOTE.match(token)
        if not match:
            raise _Bad(f"unreadable note {token!r}: write a pitch a-g, optional # or b, octave + or -, and a "
                       "duration such as 8, 4+8 or 8/3 (or r for a rest)", line)
        letter, accidental, octaves, duration = match.groups()
        pitch = MIDDLE_C + _PITCH[letter] + {"": 0, "#": 1, "s": 1, "b": -1}[accidental]
        pitch += 12 * (octaves.count("+") + octaves.count("u") - octaves.count("-")) + self.info.transpose
        if not 0 <= pitch <= 127:
            raise _Bad(f"note {token!r} is outside the MIDI range", line)
        return pitch, self._duration(duration, token, line)

    def _duration(self, text: str, token: str, line: int) -> int:
        """Slots of a duration such as ``8``, ``4.``, ``8/3`` or ``2+8`` (empty: an eighth, as in Impro-Visor)."""
        total = 0
        for part in (text or "8").split("+"):
            match = _DURATION_PART.match(part)
            if not match or not (match.group(1) or match.group(2)):
                raise _Bad(f"unreadable duration {text!r} in {token!r}: use 1, 2, 4, 8, 16 or 32, with . for "
                           "dotted, /3 for triplets and + to tie values (e.g. 4+8)", line)
            value, tuplet, dots = int(match.group(1) or 8), int(match.group(2) or 1), match.group(3)
            if value == 0 or tuplet == 0:
                raise _Bad(f"zero duration in {token!r}", line)
            # Impro-Visor's rule: an n-tuplet fits n notes into the time of n - 1 (integer slots).
            slots = SLOTS_PER_WHOLE * max(tuplet - 1, 1) // (value * tuplet)
            increment = slots
            for _ in dots:
                increment //= 2
                slots += increment
            total += slots
        if total <= 0:
            raise _Bad(f"duration of {token!r} is shorter than Impro-Visor's time unit", line)
        return total


def _quantise(timed: list[tuple[int, int, int, int]]) -> tuple[list[Note], int]:
    """Notes on the 16th-note grid (onsets and ends rounded half up), never overlapping; notes that would share a
    step with the previous onset are dropped and counted."""
    notes: list[Note] = []
    dropped = 0
    for start, end, pitch, velocity in sorted(timed):
        step = (2 * start + SLOTS_PER_STEP) // (2 * SLOTS_PER_STEP)
        stop = (2 * end + SLOTS_PER_STEP) // (2 * SLOTS_PER_STEP)
        if notes and step <= notes[-1].start:
            dropped += 1
            continue
        if notes and notes[-1].end > step:
            last = notes[-1]
            notes[-1] = Note(last.pitch, last.start, step - last.start, last.velocity)
        notes.append(Note(pitch, step, max(stop - step, 1), velocity))
    return notes, dropped
