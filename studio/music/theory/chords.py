"""Chords, chord charts and blues forms: the harmony every music module shares.

A ``Chord`` is a root pitch class and a quality from ``QUALITIES``; ``parse_chord`` reads lead-sheet symbols ("C7",
"Bbm7", "F#m7b5", "Ebmaj7", "G7/B", "N.C."), the Weimar Jazz Database's spellings ("D-7", "Fj7", "C79b", "F79#",
"Fsus7913", "Ebj7911#", "Co7", "NC") and anything music21's ``ChordSymbol`` understands. A ``ChordChart``
is a list of bars, each holding one or more chords that share the bar equally; it is written as text with ``|``
between bars and spaces between the chords of a bar. ``blues_chart(form, key)`` builds the named blues forms in any
key. Music time is counted in grid steps (16th notes by default: ``STEPS_PER_BEAT = 4``, 4/4 bars of 16 steps).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from studio.errors import StudioError

STEPS_PER_BEAT = 4      # the metric grid: 16th notes
BEATS_PER_BAR = 4       # blues and most lead sheets here are in 4/4
STEPS_PER_BAR = STEPS_PER_BEAT * BEATS_PER_BAR

NOTE_NAMES = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_LETTER = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}

# Chord qualities and their intervals above the root (semitones). Extended chords fold into these for the model's
# vocabulary (a 9th or 13th chord is still a dominant seventh to an improviser choosing chord tones).
QUALITIES: dict[str, tuple[int, ...]] = {
    "maj": (0, 4, 7), "min": (0, 3, 7), "7": (0, 4, 7, 10), "maj7": (0, 4, 7, 11), "m7": (0, 3, 7, 10),
    "6": (0, 4, 7, 9), "m6": (0, 3, 7, 9), "dim": (0, 3, 6), "dim7": (0, 3, 6, 9), "m7b5": (0, 3, 6, 10),
    "aug": (0, 4, 8), "sus4": (0, 5, 7), "7sus4": (0, 5, 7, 10), "mmaj7": (0, 3, 7, 11),
}
# Suffixes as written on lead sheets -> quality. Longest match wins.
_SUFFIXES: dict[str, str] = {
    "": "maj", "maj": "maj", "M": "maj", "m": "min", "min": "min", "-": "min",
    "7": "7", "9": "7", "13": "7", "11": "7", "7b9": "7", "7#9": "7", "7#11": "7", "7b5": "7", "7#5": "7",
    "9#11": "7", "13b9": "7", "7alt": "7", "dom7": "7",
    "maj7": "maj7", "M7": "maj7", "Δ": "maj7", "Δ7": "maj7", "maj9": "maj7", "M9": "maj7", "maj13": "maj7",
    "m7": "m7", "min7": "m7", "-7": "m7", "m9": "m7", "min9": "m7", "-9": "m7", "m11": "m7", "m13": "m7",
    "6": "6", "69": "6", "6/9": "6", "m6": "m6", "min6": "m6", "-6": "m6",
    "dim": "dim", "o": "dim", "°": "dim", "dim7": "dim7", "o7": "dim7", "°7": "dim7",
    "m7b5": "m7b5", "ø": "m7b5", "ø7": "m7b5", "h7": "m7b5", "-7b5": "m7b5", "min7b5": "m7b5",
    "aug": "aug", "+": "aug", "#5": "aug", "sus": "sus4", "sus4": "sus4", "7sus4": "7sus4", "7sus": "7sus4",
    "9sus4": "7sus4", "mmaj7": "mmaj7", "m(maj7)": "mmaj7", "-maj7": "mmaj7",
}
_SYMBOL = re.compile(r"^([A-G])([#b]*)(.*?)(?:/([A-G][#b]*))?$")
# The Weimar Jazz Database's spellings: a base (``-`` minor, ``j7`` major seventh, ``o`` diminished, ``+`` augmented,
# ``sus``), then tensions as digits with their alterations after them (``79b`` = 7(b9), ``7911#`` = 7(9, #11)).
# Tensions colour a chord without changing its function, so they fold into the base's quality, as above.
_WJD_BASES: dict[str, str] = {
    "": "maj", "-": "min", "+": "aug", "o": "dim", "o7": "dim7", "m7b5": "m7b5", "sus": "sus4", "sus7": "7sus4",
    "j7": "maj7", "7": "7", "6": "6", "69": "6", "-6": "m6", "-69": "m6", "-7": "m7", "-j7": "mmaj7",
    "+7": "7", "+j7": "maj7",
}
_WJD_TENSIONS = re.compile(r"^(?:(?:9|11|13)[#b]?)*$")
NO_CHORD_SYMBOLS = {"N.C.", "NC", "N.C", "n.c.", "nc", "-", "x"}


def pitch_class(name: str) -> int:
    """0-11 for a note name such as "C", "F#", "Bb", "Eb", "B-" (music21's flat) or "Cb"."""
    name = name.strip()
    if not name or name[0].upper() not in _LETTER:
        raise StudioError(f"unknown note name {name!r}: use a letter A-G with optional # or b (e.g. Bb, F#)")
    pc = _LETTER[name[0].upper()]
    for accidental in name[1:]:
        if accidental == "#":
            pc += 1
        elif accidental in "b-":
            pc -= 1
        else:
            raise StudioError(f"unknown note name {name!r}: use a letter A-G with optional # or b (e.g. Bb, F#)")
    return pc % 12


@dataclass(frozen=True)
class Chord:
    """A chord: root pitch class (0 = C) and quality (a key of ``QUALITIES``); ``root=None`` is "no chord"."""

    root: int | None
    quality: str = "maj"

    @property
    def is_rest(self) -> bool:
        return self.root is None

    @property
    def pitch_classes(self) -> frozenset[int]:
        """The chord tones as pitch classes (empty for no chord)."""
        if self.root is None:
            return frozenset()
        return frozenset((self.root + i) % 12 for i in QUALITIES[self.quality])

    @property
    def index(self) -> int:
        """Position in ``CHORD_VOCAB``: what the model's chord input reads."""
        return chord_vocab_index(self)

    def transpose(self, semitones: int) -> Chord:
        return self if self.root is None else Chord((self.root + semitones) % 12, self.quality)

    @property
    def symbol(self) -> str:
        """Lead-sheet symbol, e.g. "Bb7", "Dm7b5", "N.C."."""
        if self.root is None:
            return "N.C."
        suffix = {"maj": "", "min": "m"}.get(self.quality, self.quality)
        return NOTE_NAMES[self.root] + suffix

    def __str__(self) -> str:
        return self.symbol


NO_CHORD = Chord(None)
# The model's chord vocabulary: "no chord" first, then every root with every quality.
CHORD_VOCAB: tuple[Chord, ...] = (NO_CHORD, *(Chord(r, q) for r in range(12) for q in QUALITIES))


@cache
def _vocab_positions() -> dict[Chord, int]:
    return {c: i for i, c in enumerate(CHORD_VOCAB)}


def chord_vocab_index(chord: Chord) -> int:
    return _vocab_positions()[chord]


def chord_features(chord: Chord, intervals: bool = False) -> list[float]:
    """A description of a chord for a model: root one-hot (12), chord-tone pitch classes (12), with ``intervals``
    its tones as intervals above the root (12: the quality, the same in every key), and a "no chord" flag last;
    25 or 37 numbers. Chords that share tones share features, so a model generalises across roots and qualities."""
    width = 37 if intervals else 25
    out = [0.0] * width
    if chord.root is None:
        out[width - 1] = 1.0
        return out
    out[chord.root] = 1.0
    for pc in chord.pitch_classes:
        out[12 + pc] = 1.0
        if intervals:
            out[24 + (pc - chord.root) % 12] = 1.0
    return out


def parse_chord(symbol: str) -> Chord:
    """A Chord from a lead-sheet symbol; raises StudioError naming the symbol and the accepted forms."""
    text = symbol.strip()
    if text in NO_CHORD_SYMBOLS:
        return NO_CHORD
    match = _SYMBOL.match(text)
    if match:
        letter, accidentals, suffix, _bass = match.groups()
        suffix = suffix.replace("(", "").replace(")", "") if suffix not in _SUFFIXES else suffix
        if suffix in _SUFFIXES:
            return Chord(pitch_class(letter + accidentals), _SUFFIXES[suffix])
        quality = _wjd_quality(suffix)
        if quality is not None:
            return Chord(pitch_class(letter + accidentals), quality)
    chord = _parse_with_music21(text)
    if chord is not None:
        return chord
    raise StudioError(f"unknown chord symbol {symbol!r}: write a root (A-G, optional # or b) and a quality such as "
                      "C, Cm, C7, Cmaj7, Cm7, C6, Cm6, Cdim, Cdim7, Cm7b5, Caug, Csus4, C9, C13, optionally /bass; "
                      "the Weimar Jazz Database's C-7, Cj7, C79b, C7911#, Co7, Csus7913; or N.C. (NC) for no chord")


def _wjd_quality(suffix: str) -> str | None:
    """The quality of a Weimar Jazz Database suffix (base + tensions), or None when it is not one."""
    for base in sorted(_WJD_BASES, key=len, reverse=True):
        if suffix.startswith(base) and _WJD_TENSIONS.match(suffix[len(base):]):
            return _WJD_BASES[base]
    return None


def _parse_with_music21(text: str) -> Chord | None:
    """Fall back on music21's chord-symbol parser, then pick the quality whose tones match best."""
    try:
        from music21 import harmony

        cs = harmony.ChordSymbol(text.replace("b", "-") if re.match(r"^[A-G]b", text) else text)
        if cs.root() is None:
            return None
        root = cs.root().pitchClass
        tones = {p.pitchClass for p in cs.pitches}
    except Exception:  # music21 raises many exception types for unparsable symbols
        return None
    if not tones:
        return None
    best = max(QUALITIES, key=lambda q: (len(tones & {(root + i) % 12 for i in QUALITIES[q]})
                                         - len({(root + i) % 12 for i in QUALITIES[q]} - tones)))
    return Chord(root, best)


@dataclass
class ChordChart:
    """Bars of chords. ``bars[i]`` lists the chords of bar i, which share it equally (1, 2 or 4 per bar)."""

    bars: list[list[Chord]]

    @classmethod
    def parse(cls, text: str) -> ChordChart:
        """Read "C7 | F7 | C7 | C7 G7 | ..." (bars split by ``|``, chords in a bar by spaces; newlines are bars
        too when they end a line without ``|``)."""
        cells = [cell for line in text.strip().splitlines() for cell in line.split("|")]
        bars = [[parse_chord(sym) for sym in cell.split()] for cell in cells if cell.strip()]
        if not bars:
            raise StudioError("the chord chart is empty: write bars of chord symbols separated by |, "
                              "e.g. 'C7 | F7 | C7 | C7'")
        for i, bar in enumerate(bars):
            if len(bar) not in (1, 2, 4):
                raise StudioError(f"bar {i + 1} of the chord chart has {len(bar)} chords; a bar holds 1, 2 or 4 "
                                  "(repeat a symbol to make uneven splits, e.g. 'C7 C7 C7 F7')")
        return cls(bars)

    @property
    def num_bars(self) -> int:
        return len(self.bars)

    def chord_at(self, step: int, steps_per_bar: int = STEPS_PER_BAR) -> Chord:
        """The chord sounding at grid ``step`` (the chart repeats, so any step >= 0 has one)."""
        bar = self.bars[(step // steps_per_bar) % self.num_bars]
        within = step % steps_per_bar
        return bar[within * len(bar) // steps_per_bar]

    def chords_per_step(self, steps: int, steps_per_bar: int = STEPS_PER_BAR) -> list[Chord]:
        return [self.chord_at(s, steps_per_bar) for s in range(steps)]

    def transpose(self, semitones: int) -> ChordChart:
        return ChordChart([[c.transpose(semitones) for c in bar] for bar in self.bars])

    def text(self) -> str:
        return " | ".join(" ".join(c.symbol for c in bar) for bar in self.bars)

    def __str__(self) -> str:
        return self.text()


# -- blues forms --------------------------------------------------------------------------------------------------
_DEGREES = {"I": 0, "II": 2, "III": 4, "IV": 5, "V": 7, "VI": 9, "VII": 11}
_ROMAN = re.compile(r"^([b#]?)(VII|VI|IV|V|III|II|I)(.*)$")

# Roman-numeral forms (bars separated by |). Qualities after the numeral use the suffixes above.
BLUES_FORMS: dict[str, str] = {
    "12-bar": "I7 | I7 | I7 | I7 | IV7 | IV7 | I7 | I7 | V7 | IV7 | I7 | V7",
    "quick-change": "I7 | IV7 | I7 | I7 | IV7 | IV7 | I7 | I7 | V7 | IV7 | I7 | V7",
    "jazz": "I7 | IV7 | I7 | Vm7 I7 | IV7 | #IVdim7 | I7 | VI7 | IIm7 | V7 | I7 VI7 | IIm7 V7",
    "minor": "Im7 | Im7 | Im7 | Im7 | IVm7 | IVm7 | Im7 | Im7 | bVI7 | V7 | Im7 | V7",
    "8-bar": "I7 | V7 | IV7 | IV7 | I7 | V7 | I7 | V7",
}


def _roman_chord(symbol: str, key: int) -> Chord:
    match = _ROMAN.match(symbol)
    if not match:
        raise StudioError(f"bad roman numeral {symbol!r} in a blues form")
    accidental, numeral, suffix = match.groups()
    offset = _DEGREES[numeral] + {"": 0, "b": -1, "#": 1}[accidental]
    return Chord((key + offset) % 12, _SUFFIXES[suffix])


def blues_chart(form: str = "12-bar", key: str | int = "C") -> ChordChart:
    """A named blues form in a key ("C", "Bb", "F#"... or a pitch class)."""
    if form not in BLUES_FORMS:
        raise StudioError(f"unknown blues form {form!r}; choose one of {', '.join(BLUES_FORMS)}, "
                          "or give your own chart as 'C7 | F7 | ...'")
    tonic = key if isinstance(key, int) else pitch_class(key)
    bars = [[_roman_chord(s, tonic) for s in cell.split()] for cell in BLUES_FORMS[form].split("|")]
    return ChordChart(bars)


def chart_from_text_or_form(text: str, key: str = "C") -> ChordChart:
    """A named form ("12-bar", "jazz"...) in ``key``, or a chart written out (then ``key`` transposes it from C
    only if the chart is itself a named form)."""
    return blues_chart(text, key) if text.strip() in BLUES_FORMS else ChordChart.parse(text)


def blues_scale(chord: Chord) -> frozenset[int]:
    """Pitch classes a blues improviser treats as "in" over ``chord``: its chord tones plus the blues scale of its
    root (1, b3, 3, 4, b5, 5, b7; minor chords without the major third)."""
    if chord.root is None:
        return frozenset(range(12))
    intervals = (0, 3, 5, 6, 7, 10) if chord.quality in ("min", "m7", "m6", "m7b5", "mmaj7", "dim", "dim7") \
        else (0, 3, 4, 5, 6, 7, 9, 10)
    return chord.pitch_classes | {(chord.root + i) % 12 for i in intervals}


@dataclass(frozen=True)
class Note:
    """A note on the grid: MIDI ``pitch``, ``start`` and ``duration`` in grid steps, MIDI ``velocity``."""

    pitch: int
    start: int
    duration: int
    velocity: int = 90

    @property
    def end(self) -> int:
        return self.start + self.duration


@dataclass
class LeadSheet:
    """A monophonic melody over a chord chart: what the lead-sheet tokenizer reads and the blues model writes.

    Attributes
    ----------
    melody : list of Note
        Non-overlapping notes on the grid (16th-note steps from the start of bar 1), sorted by start.
    chart : ChordChart
        One entry per bar of the piece (a blues chorus repeats its 12 bars).
    tempo : float
        Beats per minute (quarter notes).
    name : str
        Where it came from (file name, corpus id), for reports.
    """

    melody: list[Note]
    chart: ChordChart
    tempo: float = 120.0
    name: str = ""

    @property
    def num_steps(self) -> int:
        """Length in grid steps: the chart's bars, or more if the melody runs past them (whole bars)."""
        end = max((n.end for n in self.melody), default=0)
        bars = max(self.chart.num_bars, -(-end // STEPS_PER_BAR))
        return bars * STEPS_PER_BAR

    def transpose(self, semitones: int) -> LeadSheet:
        return LeadSheet([Note(n.pitch + semitones, n.start, n.duration, n.velocity) for n in self.melody],
                         self.chart.transpose(semitones), self.tempo, self.name)
