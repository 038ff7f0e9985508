"""Phrase pairs from real solos: a call of ``bars`` bars and the answer the same player went on to play.

Windows start on the form's own phrase boundaries (a bar of the chorus divisible by ``bars``), so a 4-bar call is
bars 1-4 of a blues chorus and its answer bars 5-8, as players trade. A note that sounds past its window's end is
cut there. A pair needs at least ``MIN_NOTES`` notes on each side (a call of one held note says little, an answer
of silence teaches laying out). Each side is tokenized by the soloist's tokenizer and filled with rests to its
window's end, so an answer ends with its bars; the call's tokens carry their chord, place in the bar and onset in
the phrase, the answer's every input the decoder reads (and their onsets, which an aligned attention reads).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch

from studio.music.jazz.corpus import BEATS_PER_BAR, TICKS_PER_BAR, Solo, SoloNote
from studio.music.jazz.tokenizer import MAX_TICKS, ChangeIndex, JazzTokenizer
from studio.music.theory.chords import Chord

MIN_NOTES = 3
DECODER_INPUTS = ("chords", "next_chords", "positions", "until_change")


@dataclass
class PhrasePair:
    """A call and its answer, each as notes from its own window's start (ticks), with the chords of both windows
    (one a beat)."""

    solo_id: str
    call: list[SoloNote]
    answer: list[SoloNote]
    call_beats: list[Chord]
    answer_beats: list[Chord]
    bars: int

    def transpose(self, semitones: int) -> PhrasePair:
        def shift(notes: list[SoloNote]) -> list[SoloNote]:
            return [SoloNote(n.onset, n.duration, n.pitch + semitones) for n in notes]

        return PhrasePair(self.solo_id, shift(self.call), shift(self.answer),
                          [c.transpose(semitones) for c in self.call_beats],
                          [c.transpose(semitones) for c in self.answer_beats], self.bars)


def window(notes: Sequence[SoloNote], start: int, end: int) -> list[SoloNote]:
    """The notes starting in [start, end) moved to start at 0, each cut at ``end``."""
    return [SoloNote(n.onset - start, min(n.duration, end - n.onset), n.pitch) for n in notes if start <= n.onset < end]


def phrase_pairs(solos: Iterable[Solo], bars: int = 4) -> list[PhrasePair]:
    """Every pair of consecutive ``bars``-bar windows of every solo, on the form's phrase boundaries."""
    out = []
    for solo in solos:
        for bar in range(solo.num_bars - 2 * bars + 1):
            if solo.form_bars[bar] % bars:
                continue
            call_start, answer_start = bar * TICKS_PER_BAR, (bar + bars) * TICKS_PER_BAR
            call = window(solo.notes, call_start, answer_start)
            answer = window(solo.notes, answer_start, answer_start + bars * TICKS_PER_BAR)
            if len(call) >= MIN_NOTES and len(answer) >= MIN_NOTES:
                beats = solo.beats
                out.append(PhrasePair(solo.id, call, answer,
                                      beats[bar * BEATS_PER_BAR:(bar + bars) * BEATS_PER_BAR],
                                      beats[(bar + bars) * BEATS_PER_BAR:(bar + 2 * bars) * BEATS_PER_BAR], bars))
    return out


@dataclass
class EncodedPair:
    """A pair as token lists: the call with its chords and positions, the answer with the decoder's inputs."""

    call: list[int]
    call_chords: list[int]
    call_positions: list[int]
    call_onsets: list[int]               # each call token's onset, ticks from the call's start
    answer: list[int]                    # BOS, then the answer's events
    answer_conditions: dict[str, list[int]]  # aligned with ``answer``: each describes the token it sits under
    notes: int                           # notes in the answer (what nats per note divides by)


def encode_side(tokenizer: JazzTokenizer, notes: Sequence[SoloNote], beats: Sequence[Chord], ticks: int
                ) -> tuple[list[int], dict[str, list[int]], int]:
    """One side of a pair: BOS, then (what, length) events up to ``ticks`` (rests fill the end), and the decoder's
    conditions for every token (those of the event it belongs to; BOS gets the window's start), and ``onsets``:
    each token's event's onset in ticks from the window's start."""
    events = tokenizer.events(list(notes))
    time = events[-1][1] + events[-1][2] if events else 0
    while time < ticks:
        length = min(MAX_TICKS, ticks - time)
        events.append((None, time, length))
        time += length
    changes = ChangeIndex(list(beats))
    tokens = [tokenizer.BOS]
    first = changes.at(0)
    cond = {"chords": [first[0]], "next_chords": [first[1]], "positions": [0], "until_change": [first[2]],
            "onsets": [0]}
    for pitch, onset, length in events:
        tokens += [tokenizer.REST if pitch is None else tokenizer.pitch_id(pitch), tokenizer.length_id(length)]
        chord, following, until = changes.at(onset)
        for name, value in zip(DECODER_INPUTS, (chord, following, onset % TICKS_PER_BAR, until), strict=True):
            cond[name] += [value, value]
        cond["onsets"] += [onset, onset]
    return tokens, cond, sum(p is not None for p, _, _ in events)


def encode_pair(tokenizer: JazzTokenizer, pair: PhrasePair) -> EncodedPair:
    ticks = pair.bars * TICKS_PER_BAR
    call, call_cond, _ = encode_side(tokenizer, pair.call, pair.call_beats, ticks)
    answer, answer_cond, notes = encode_side(tokenizer, pair.answer, pair.answer_beats, ticks)
    return EncodedPair(call, call_cond["chords"], call_cond["positions"], call_cond["onsets"], answer, answer_cond,
                       notes)


def collate(pairs: Sequence[EncodedPair]) -> dict[str, torch.Tensor]:
    """Padded batch tensors: ``call`` and ``call_mask`` (B, Tc), ``call_chords``/``call_positions``/``call_onsets``
    (B, Tc), ``inputs`` and ``targets`` (B, Ta - 1) with ``target_mask``, and each decoder condition and ``onsets``
    (B, Ta - 1) aligned with the targets (the token read at step t is ``answer[t]``, the one predicted
    ``answer[t + 1]``)."""
    tc = max(len(p.call) for p in pairs)
    ta = max(len(p.answer) for p in pairs)
    batch = len(pairs)

    def pad(rows: list[list[int]], width: int) -> torch.Tensor:
        out = torch.zeros(batch, width, dtype=torch.long)
        for i, row in enumerate(rows):
            out[i, :len(row)] = torch.tensor(row)
        return out

    answer = pad([p.answer for p in pairs], ta)
    out = {"call": pad([p.call for p in pairs], tc), "call_chords": pad([p.call_chords for p in pairs], tc),
           "call_positions": pad([p.call_positions for p in pairs], tc),
           "call_onsets": pad([p.call_onsets for p in pairs], tc),
           "call_mask": pad([[1] * len(p.call) for p in pairs], tc).bool(),
           "inputs": answer[:, :-1], "targets": answer[:, 1:],
           "target_mask": pad([[1] * (len(p.answer) - 1) for p in pairs], ta - 1).float(),
           "notes": torch.tensor([p.notes for p in pairs])}
    for name in (*DECODER_INPUTS, "onsets"):
        out[name] = pad([p.answer_conditions[name] for p in pairs], ta)[:, 1:]
    return out


def model_arguments(batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor],
                                                             torch.Tensor, dict[str, torch.Tensor]]:
    """``CallResponseModel.forward``'s arguments from a collated batch: the call, its mask, its conditions, the
    answer tokens read and the conditions of the tokens predicted."""
    call_conditions = {"chords": batch["call_chords"], "positions": batch["call_positions"],
                       "onsets": batch["call_onsets"]}
    answer_conditions = {name: batch[name] for name in (*DECODER_INPUTS, "onsets")}
    return batch["call"], batch["call_mask"], call_conditions, batch["inputs"], answer_conditions
