"""The lead-sheet tokenizer: a melody as one event per 16th-note step, aligned with its chords and bar positions.

Events (Magenta's melody encoding, Eck & Schmidhuber's grid): ``0 = REST`` (nothing sounds), ``1 = HOLD`` (the
note sounding goes on), ``2 + (pitch - low) = NOTE_ON`` for every MIDI pitch in ``[low, high]``. A lead sheet of
``T`` steps gives three aligned integer streams of length ``T`` (``LeadSheetEvents``): ``tokens``, ``chords`` (the
``CHORD_VOCAB`` index sounding at each step) and ``positions`` (the step within its bar, 0..15). A model reads the
chord and position of every step, so it improvises *over* the chart rather than having to predict it.

Notes outside the range are moved by octaves into it and counted (``last_out_of_range``), as the text tokenizers
count unknown symbols. With ``key_relative=True`` every sheet is transposed so its tonic is C (the smallest shift,
-5..+6 semitones) and ``LeadSheetEvents.offset`` records the shift, which ``decode(..., offset=)`` undoes.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch

from studio.errors import StudioError
from studio.music.theory.chords import NOTE_NAMES, STEPS_PER_BAR, LeadSheet, Note
from studio.music.theory.keys import estimate_tonic, key_offset


@dataclass
class LeadSheetEvents:
    """One lead sheet as three aligned streams, one entry per grid step (all the same length ``T``).

    Attributes
    ----------
    tokens : list of int
        Melody events: REST, HOLD or NOTE_ON ids, shape (T,).
    chords : list of int
        ``CHORD_VOCAB`` index of the chord sounding at each step, shape (T,).
    positions : list of int
        Step within the bar, 0..15, shape (T,).
    offset : int
        Semitones the sheet was transposed before encoding (key-relative mode; 0 otherwise). Pass it to
        ``decode`` to get the original key back.
    """

    tokens: list[int]
    chords: list[int]
    positions: list[int]
    offset: int = 0

    def __len__(self) -> int:
        return len(self.tokens)


@dataclass
class LeadSheetTokenizer:
    """Melody events on the 16th-note grid, for chord-conditioned lead-sheet models.

    Parameters
    ----------
    low, high : int
        MIDI pitch range of NOTE_ON events (at least an octave, so any note can be folded into it).
    key_relative : bool
        Transpose every sheet so its tonic (``estimate_tonic``) is C before encoding.

    Attributes
    ----------
    last_out_of_range : collections.Counter
        Original pitches the most recent ``encode`` moved by octaves into range, with counts.
    last_offset : int
        The transposition the most recent ``encode`` applied (key-relative mode).
    """

    low: int = 36
    high: int = 96
    key_relative: bool = False
    last_out_of_range: Counter[int] = field(default_factory=Counter, init=False, repr=False, compare=False)
    last_offset: int = field(default=0, init=False, repr=False, compare=False)

    kind: ClassVar[str] = "leadsheet"
    REST: ClassVar[int] = 0
    HOLD: ClassVar[int] = 1
    FIRST_NOTE: ClassVar[int] = 2

    def __post_init__(self) -> None:
        for name, value in (("low", self.low), ("high", self.high)):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 127:
                raise StudioError(f"lead-sheet tokenizer {name} must be a MIDI pitch 0..127, got {value!r}")
        if self.high - self.low < 11:
            raise StudioError(f"lead-sheet tokenizer range {self.low}..{self.high} must span at least an octave "
                              "(e.g. low=36, high=96)")
        if not isinstance(self.key_relative, bool):
            raise StudioError(f"key_relative must be true or false, got {self.key_relative!r}")
        self._masks: dict[tuple[Any, ...], torch.Tensor] = {}

    # -- vocabulary ---------------------------------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        """REST, HOLD and one NOTE_ON per pitch in [low, high]."""
        return self.FIRST_NOTE + self.high - self.low + 1

    def note_on(self, pitch: int) -> int:
        """The NOTE_ON id of an in-range MIDI pitch."""
        if not self.low <= pitch <= self.high:
            raise StudioError(f"pitch {pitch} is outside this tokenizer's range {self.low}..{self.high}")
        return self.FIRST_NOTE + pitch - self.low

    def pitch_of(self, token_id: int) -> int | None:
        """The MIDI pitch of a NOTE_ON id; None for REST and HOLD."""
        return None if token_id < self.FIRST_NOTE else self.low + token_id - self.FIRST_NOTE

    def token_text(self, token_id: int) -> str:
        """"REST", "HOLD" or e.g. "ON 60 (C4)"."""
        self._check_ids([token_id])
        pitch = self.pitch_of(token_id)
        if pitch is None:
            return "REST" if token_id == self.REST else "HOLD"
        return f"ON {pitch} ({NOTE_NAMES[pitch % 12]}{pitch // 12 - 1})"

    # -- encoding -----------------------------------------------------------------------------------------------
    def fold(self, pitch: int) -> int:
        """``pitch`` moved by whole octaves into [low, high]."""
        while pitch < self.low:
            pitch += 12
        while pitch > self.high:
            pitch -= 12
        return pitch

    def key_offset(self, sheet: LeadSheet) -> int:
        """The shift that key-relative mode applies to ``sheet`` (tonic to C, -5..+6)."""
        return key_offset(estimate_tonic(sheet))

    def encode(self, sheet: LeadSheet) -> LeadSheetEvents:
        """Events, chords and bar positions of every step of ``sheet`` (``sheet.num_steps`` of each).

        A sheet with no melody gives all RESTs: the conditioning streams for generating over a chart. Where notes
        overlap (a malformed melody), a later onset cuts the note before it.

        Raises
        ------
        StudioError
            When a note starts before step 0.
        """
        offset = self.key_offset(sheet) if self.key_relative else 0
        if offset:
            sheet = sheet.transpose(offset)
        steps = sheet.num_steps
        tokens = [self.REST] * steps
        moved: Counter[int] = Counter()
        melody = sorted(sheet.melody, key=lambda n: n.start)
        if melody and melody[0].start < 0:
            raise StudioError(f"{sheet.name or 'lead sheet'}: a note starts at step {melody[0].start}, "
                              "before the sheet's first bar")
        for k, n in enumerate(melody):
            pitch = self.fold(n.pitch)
            if pitch != n.pitch:
                moved[n.pitch - offset] += 1
            end = min(n.start + max(n.duration, 1), melody[k + 1].start if k + 1 < len(melody) else steps)
            tokens[n.start] = self.note_on(pitch)
            tokens[n.start + 1:end] = [self.HOLD] * (end - n.start - 1)
        self.last_out_of_range = moved
        self.last_offset = offset
        chart = sheet.chart
        return LeadSheetEvents(tokens, [chart.chord_at(s).index for s in range(steps)],
                               [s % STEPS_PER_BAR for s in range(steps)], offset)

    def out_of_range_report(self, limit: int = 10) -> str:
        """One line on the notes the last ``encode`` moved into range, or "" when none were."""
        if not self.last_out_of_range:
            return ""
        total = sum(self.last_out_of_range.values())
        shown = ", ".join(f"{p}x{n}" for p, n in self.last_out_of_range.most_common(limit))
        more = "" if len(self.last_out_of_range) <= limit else f" and {len(self.last_out_of_range) - limit} more"
        return (f"{total} note(s) outside the range {self.low}..{self.high} were moved by octaves into it "
                f"(pitch x count: {shown}{more})")

    def decode(self, tokens: Any, start: int = 0, offset: int = 0) -> list[Note]:
        """Notes of an event sequence (a list, numpy array or 1-D tensor of ids).

        Parameters
        ----------
        tokens : sequence of int, shape (T,)
        start : int
            Grid step of the first event (e.g. where a continuation begins).
        offset : int
            The ``LeadSheetEvents.offset`` the events were encoded with; subtracted from every pitch.

        Returns
        -------
        list of Note
            Sorted by start. A HOLD with nothing sounding (after a REST, or first) is read as a REST, so any
            sequence decodes.
        """
        ids = [int(t) for t in tokens]
        self._check_ids(ids)
        notes: list[Note] = []
        pitch, onset = None, 0
        for i, token in enumerate([*ids, self.REST]):
            if token == self.HOLD and pitch is not None:
                continue
            if pitch is not None:
                notes.append(Note(pitch - offset, start + onset, i - onset))
                pitch = None
            if token >= self.FIRST_NOTE:
                pitch, onset = self.pitch_of(token), i
        return notes

    def _check_ids(self, ids: list[int]) -> None:
        bad = [i for i in ids if not 0 <= i < self.vocab_size]
        if bad:
            raise StudioError(f"token id {bad[0]} is outside this lead-sheet tokenizer's range "
                              f"0..{self.vocab_size - 1}")

    def transpositions(self, sheet: LeadSheet, semitones: Any = range(-5, 7)) -> list[tuple[int, LeadSheet]]:
        """``(shift, sheet transposed by shift)`` for every shift in ``semitones`` that keeps the whole melody in
        [low, high] (data augmentation; pointless in key-relative mode, where encoding undoes it)."""
        pitches = [n.pitch for n in sheet.melody]
        lo, hi = min(pitches, default=self.low), max(pitches, default=self.high)
        return [(s, sheet.transpose(s) if s else sheet) for s in semitones
                if self.low <= lo + s and hi + s <= self.high]

    # -- generation ---------------------------------------------------------------------------------------------
    def _note_mask(self, low: int | None, high: int | None, pitch_classes: Any,
                   device: torch.device | str = "cpu") -> torch.Tensor:
        """Bool (vocab,): REST and HOLD, plus NOTE_ONs within [low, high] whose pitch class is allowed. Cached per
        setting and device, since generation asks for it at every step."""
        low = self.low if low is None else int(low)
        high = self.high if high is None else int(high)
        pcs = None if pitch_classes is None else tuple(sorted({int(p) % 12 for p in pitch_classes}))
        key = (low, high, pcs, str(device))
        if key not in self._masks:
            if not self.low <= low <= high <= self.high:
                raise StudioError(f"pitch range {low}..{high} must lie within the tokenizer's range "
                                  f"{self.low}..{self.high}")
            mask = torch.zeros(self.vocab_size, dtype=torch.bool)
            mask[[self.REST, self.HOLD]] = True
            for pitch in range(low, high + 1):
                if pcs is None or pitch % 12 in pcs:
                    mask[self.note_on(pitch)] = True
            self._masks[key] = mask.to(device)
        return self._masks[key]

    def allowed_next(self, prev_token: int | None, low: int | None = None, high: int | None = None,
                     pitch_classes: Any = None) -> list[bool]:
        """Which ids may follow ``prev_token`` (None at the start): HOLD never starts a sequence or follows a REST;
        NOTE_ONs only within [low, high] and, when given, on ``pitch_classes`` (0 = C; in key-relative mode,
        relative to the tonic). REST is always allowed, so some id always is."""
        mask = self._note_mask(low, high, pitch_classes).clone()
        mask[self.HOLD] = prev_token is not None and prev_token != self.REST
        return mask.tolist()

    def grammar_mask(self, tokens: torch.Tensor, low: int | None = None, high: int | None = None,
                     pitch_classes: Any = None) -> torch.Tensor:
        """``allowed_next`` for a batch: tokens LongTensor (batch, t), t >= 0 -> BoolTensor (batch, vocab) on the
        same device."""
        batch = tokens.shape[0]
        mask = self._note_mask(low, high, pitch_classes, tokens.device).expand(batch, -1).clone()
        mask[:, self.HOLD] = tokens[:, -1] != self.REST if tokens.shape[1] else False
        return mask

    # -- storage ------------------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "low": self.low, "high": self.high, "key_relative": self.key_relative,
                "steps_per_bar": STEPS_PER_BAR}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LeadSheetTokenizer:
        """Inverse of ``to_dict``; refuses other kinds and unknown fields (a newer Studio's tokenizer)."""
        if data.get("kind") != cls.kind:
            raise StudioError(f"not a lead-sheet tokenizer (kind {data.get('kind')!r})")
        unknown = sorted(set(data) - {"kind", "low", "high", "key_relative", "steps_per_bar"})
        if unknown:
            raise StudioError(f"the stored lead-sheet tokenizer has unknown fields {unknown}; "
                              "it was written by a newer Studio")
        if data.get("steps_per_bar", STEPS_PER_BAR) != STEPS_PER_BAR:
            raise StudioError(f"the stored lead-sheet tokenizer uses {data['steps_per_bar']} steps per bar; "
                              f"this Studio uses {STEPS_PER_BAR}")
        return cls(low=data.get("low", 36), high=data.get("high", 96), key_relative=data.get("key_relative", False))
