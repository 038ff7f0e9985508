"""The jazz tokenizer: a solo as events of (pitch or rest, length) on the 48-per-bar grid, with the changes beside.

Every event is two tokens, a *what* (a MIDI pitch, or ``REST``) and a *how long* (1..96 ticks, 12 a beat). An
event lasts until the next one starts, so onsets are exact whatever the rhythm: sixteenths (3 ticks), eighth-note
triplets (4), swung eighths as played (say 7 + 5), quintuplets rounded to the grid as the transcribers put them. A
note that stops an eighth (6 ticks) or more before the next onset is followed by a rest event of the gap, so phrases
breathe; shorter gaps are articulation, not rests, and the note holds to the next onset. A solo starts with
``BOS`` (which also ends the solo before it in a training stream).

Beside the tokens run aligned condition streams (``CONDITIONS``), each entry describing the event the token belongs
to: the chord sounding at its onset (an index of ``CHORD_VOCAB``) and the next chord of the changes, the onset's
place in the bar (0..47) and in the form (bar of the chorus), the ticks until the chord changes, the last note
played before the event (0 none, else MIDI pitch + 1; rests keep it), and per solo its style, its soloist,
whether it is a blues and its tempo (``TEMPO_EDGES``: a ballad and a burner are different lines, 10.6 and 5.1
notes a bar in the validation solos, ``benchmarks/jazz_tempo.py``). A model reads them for the token it predicts,
so it improvises over the changes rather than predicting them.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any, ClassVar

from studio.errors import StudioError
from studio.music.jazz.corpus import STYLES, TICKS_PER_BAR, Solo, SoloNote
from studio.music.theory.chords import CHORD_VOCAB, NO_CHORD, Chord

MAX_TICKS = 2 * TICKS_PER_BAR   # the longest event: two bars (longer silences are several rests)
REST_GAP = 6                    # a note ending an eighth or more before the next onset is followed by a rest
MAX_FORM_BAR = 63
CONDITIONS = ("chords", "next_chords", "positions", "until_change", "form_bars", "styles", "soloists", "forms",
              "last_pitches", "tempos")
FORMS = ("blues", "other")      # the form input: 0 unknown, 1 blues, 2 any other form
# The tempo input, in beats per minute: id 0 unknown, then one id per band between these edges (below the first,
# each band, from the last up); bands some 10-15% wide, about as finely as players change how they phrase.
TEMPO_EDGES = (70, 85, 100, 115, 130, 150, 170, 190, 215, 240, 270, 300)
MIN_TEMPO, MAX_TEMPO = 20.0, 400.0


@dataclass
class JazzEvents:
    """One solo as tokens and aligned condition streams (every list has the tokens' length)."""

    tokens: list[int]
    conditions: dict[str, list[int]] = field(default_factory=dict)
    notes: int = 0  # note events (rests not counted): what nats per note divides by

    def __len__(self) -> int:
        return len(self.tokens)


class JazzTokenizer:
    """Solos <-> tokens. ``low``..``high`` is the pitch range (notes outside move by octaves into it).

    Token ids: ``0`` BOS, ``1`` REST, ``2..`` the pitches low..high, then the lengths 1..MAX_TICKS.
    """

    kind: ClassVar[str] = "jazz"
    BOS, REST = 0, 1

    def __init__(self, low: int = 30, high: int = 103, soloists: list[str] | None = None) -> None:
        if not 0 <= low < high <= 127:
            raise StudioError(f"pitch range must satisfy 0 <= low < high <= 127, got {low}..{high}")
        self.low, self.high = low, high
        self.soloists = list(soloists or [])
        self._soloist_ids = {name: i + 1 for i, name in enumerate(self.soloists)}
        self.first_length = 2 + (high - low + 1)
        self.vocab_size = self.first_length + MAX_TICKS
        self.folded = 0  # notes moved by octaves into range by the last encode

    # -- ids -------------------------------------------------------------------------------------------------------
    def pitch_id(self, pitch: int) -> int:
        return 2 + pitch - self.low

    def length_id(self, ticks: int) -> int:
        if not 1 <= ticks <= MAX_TICKS:
            raise StudioError(f"an event lasts 1..{MAX_TICKS} ticks, got {ticks}")
        return self.first_length + ticks - 1

    def is_length(self, token: int) -> bool:
        return token >= self.first_length

    def length_of(self, token: int) -> int:
        return token - self.first_length + 1

    def pitch_of(self, token: int) -> int | None:
        """The MIDI pitch of a what-token (None for REST)."""
        return None if token == self.REST else token - 2 + self.low

    def style_id(self, style: str | None) -> int:
        """0 for none, else 1 + the index in ``STYLES``; an unknown style names the known ones."""
        if not style:
            return 0
        name = style.strip().upper().replace("-", "").replace(" ", "")
        if name not in STYLES:
            raise StudioError(f"unknown style {style!r}; choose one of {', '.join(s.lower() for s in STYLES)}")
        return 1 + STYLES.index(name)

    @staticmethod
    def tempo_id(tempo: float | None) -> int:
        """0 for none (unknown), else 1 + the band of ``TEMPO_EDGES`` the tempo (bpm) falls in."""
        if tempo is None:
            return 0
        if not MIN_TEMPO <= tempo <= MAX_TEMPO:
            raise StudioError(f"tempo must be {MIN_TEMPO:g}..{MAX_TEMPO:g} beats per minute, got {tempo:g}")
        return 1 + bisect.bisect_right(TEMPO_EDGES, tempo)

    def soloist_id(self, soloist: str | None) -> int:
        """0 for none, else the soloist's id; an unknown name lists the known ones."""
        if not soloist:
            return 0
        wanted = soloist.strip().lower()
        for name, index in self._soloist_ids.items():
            if name.lower() == wanted:
                return index
        raise StudioError(f"unknown soloist {soloist!r}; known soloists: {', '.join(self.soloists)}")

    @property
    def condition_sizes(self) -> dict[str, int]:
        """How many ids each condition stream takes (what the model's embeddings are sized to)."""
        return {"chords": len(CHORD_VOCAB), "next_chords": len(CHORD_VOCAB), "positions": TICKS_PER_BAR,
                "until_change": MAX_TICKS + 1, "form_bars": MAX_FORM_BAR + 1, "styles": len(STYLES) + 1,
                "soloists": len(self.soloists) + 1, "forms": len(FORMS) + 1, "last_pitches": 129,
                "tempos": len(TEMPO_EDGES) + 2}

    # -- events ------------------------------------------------------------------------------------------------------
    def _fold(self, pitch: int) -> int:
        folded = pitch
        while folded < self.low:
            folded += 12
        while folded > self.high:
            folded -= 12
        if folded != pitch:
            self.folded += 1
        return folded

    def events(self, notes: list[SoloNote]) -> list[tuple[int | None, int, int]]:
        """``(pitch or None, onset, ticks)`` events covering the solo from tick 0 to its last note's end."""
        out: list[tuple[int | None, int, int]] = []
        time = 0
        for i, note in enumerate(notes):
            if note.onset < time:
                raise StudioError(f"notes overlap at tick {note.onset}: a solo is one note at a time")
            out += _rests(time, note.onset)
            following = notes[i + 1].onset if i + 1 < len(notes) else note.onset + note.duration
            span = following - note.onset
            sound = min(max(1, note.duration), span)
            held = min(span if span - sound < REST_GAP else sound, MAX_TICKS)  # longer than two bars: then rests
            out.append((self._fold(note.pitch), note.onset, held))
            time = note.onset + held
            if i + 1 < len(notes):
                out += _rests(time, following)
                time = following
        return out

    def encode(self, solo: Solo, style: bool = True, soloist: bool = True, form: bool = True,
               tempo: bool = True) -> JazzEvents:
        """The solo as tokens with its condition streams; ``style``/``soloist``/``form``/``tempo`` False leaves
        that input at 0 (none), as a person who chooses none would."""
        self.folded = 0
        fixed = {"styles": self.style_id(solo.style) if style else 0,
                 "soloists": self._soloist_ids.get(solo.performer, 0) if soloist else 0,
                 "forms": (1 if solo.blues else 2) if form else 0,
                 "tempos": self.tempo_id(min(max(solo.tempo, MIN_TEMPO), MAX_TEMPO)) if tempo else 0}
        changes = ChangeIndex(solo.beats)
        tokens = [self.BOS]
        cond = {name: [0] for name in CONDITIONS}
        for name, value in fixed.items():
            cond[name][0] = value
        notes, last = 0, 0
        for pitch, onset, ticks in self.events(solo.notes):
            tokens += [self.REST if pitch is None else self.pitch_id(pitch), self.length_id(ticks)]
            notes += pitch is not None
            bar = onset // TICKS_PER_BAR
            form_bar = solo.form_bars[bar] if bar < len(solo.form_bars) else bar % max(1, len(solo.form_bars))
            here = changes.at(onset)
            row = {"chords": here[0], "next_chords": here[1], "positions": onset % TICKS_PER_BAR,
                   "until_change": here[2], "form_bars": min(form_bar, MAX_FORM_BAR), "last_pitches": last, **fixed}
            for name in CONDITIONS:
                cond[name] += [row[name], row[name]]
            last = last if pitch is None else pitch + 1
        return JazzEvents(tokens, cond, notes)

    def decode(self, tokens: list[int], start: int = 0) -> list[SoloNote]:
        """Notes from tokens (BOS and a trailing half event are ignored), the first event starting at ``start``."""
        notes, time, pending = [], start, None
        for token in tokens:
            if token == self.BOS:
                continue
            if not self.is_length(token):
                pending = token
                continue
            if pending is None:
                continue  # a length without its what (a sequence cut mid-event)
            ticks = self.length_of(token)
            pitch = self.pitch_of(pending)
            if pitch is not None:
                notes.append(SoloNote(time, ticks, pitch))
            time += ticks
            pending = None
        return notes

    # -- storage -----------------------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "low": self.low, "high": self.high, "soloists": self.soloists,
                "styles": [s.lower() for s in STYLES], "ticks_per_bar": TICKS_PER_BAR, "max_ticks": MAX_TICKS}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JazzTokenizer:
        if data.get("kind") != cls.kind:
            raise StudioError(f"not a jazz tokenizer (kind {data.get('kind')!r}): this is not a jazz soloist model")
        if data.get("ticks_per_bar", TICKS_PER_BAR) != TICKS_PER_BAR or data.get("max_ticks", MAX_TICKS) != MAX_TICKS:
            raise StudioError("the stored jazz tokenizer uses another grid than this Studio's 48 ticks a bar")
        return cls(int(data["low"]), int(data["high"]), list(data.get("soloists", [])))


def _rests(start: int, end: int) -> list[tuple[None, int, int]]:
    out = []
    while end - start > 0:
        ticks = min(MAX_TICKS, end - start)
        out.append((None, start, ticks))
        start += ticks
    return out


class ChangeIndex:
    """For any tick: the chord sounding, the next chord of the changes, and the ticks until it comes (capped at
    ``MAX_TICKS``; a chord that never changes again says MAX_TICKS and itself as the next)."""

    def __init__(self, beats: list[Chord]) -> None:
        self.beats = beats
        self.next_change: list[int] = [len(beats)] * len(beats)  # first beat after b with another chord
        for b in range(len(beats) - 2, -1, -1):
            self.next_change[b] = b + 1 if beats[b + 1] != beats[b] else self.next_change[b + 1]

    def at(self, tick: int) -> tuple[int, int, int]:
        beat = tick // (TICKS_PER_BAR // 4)
        if not 0 <= beat < len(self.beats):
            return NO_CHORD.index, NO_CHORD.index, MAX_TICKS
        chord = self.beats[beat]
        change = self.next_change[beat]
        if change >= len(self.beats):
            return chord.index, chord.index, MAX_TICKS
        until = change * (TICKS_PER_BAR // 4) - tick
        return chord.index, self.beats[change].index, min(until, MAX_TICKS)
