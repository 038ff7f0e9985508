"""The lead-sheet tokenizer: exact round trips on 50 Bach chorale melodies (music21's corpus) and on MIDI files the
test writes (type 0 and 1, drums, tempo change), aligned chord/position streams, range folding, key-relative
encoding, augmentation, the generation grammar and JSON storage."""

from __future__ import annotations

import json
import random
import warnings
from pathlib import Path

import mido
import pytest
import torch
from music21 import corpus

from studio.errors import StudioError
from studio.music.io.leadsheet_extract import leadsheet_from_midi, leadsheet_from_music21
from studio.music.io.midi import load_midi
from studio.music.leadsheet.tokenizer import LeadSheetEvents, LeadSheetTokenizer
from studio.music.theory.chords import NO_CHORD, ChordChart, LeadSheet, Note, blues_chart
from studio.music.theory.keys import estimate_tonic, key_offset

NUM_CHORALES = 50


@pytest.fixture(scope="module")
def chorale_sheets() -> list[tuple[LeadSheet, str]]:
    """(soprano lead sheet, music21's key tonic name) for the first 50 readable chorales, parsed once."""
    out = []
    for score in corpus.chorales.Iterator():
        name = str(score.metadata.corpusFilePath)
        try:
            sheet = leadsheet_from_music21(score, name=name)
        except StudioError as err:  # none expected; a broken corpus file is skipped, not a failure of ours
            warnings.warn(f"skipping {name}: {err}", stacklevel=1)
            continue
        out.append((sheet, score.analyze("key").tonic.pitchClass))
        if len(out) == NUM_CHORALES:
            break
    return out


@pytest.fixture(scope="module")
def tok() -> LeadSheetTokenizer:
    return LeadSheetTokenizer()


def as_tuples(notes: list[Note]) -> list[tuple[int, int, int]]:
    return [(n.pitch, n.start, n.duration) for n in notes]


# -- vocabulary ---------------------------------------------------------------------------------------------------
def test_vocabulary(tok: LeadSheetTokenizer) -> None:
    assert tok.vocab_size == 2 + 61
    assert (tok.REST, tok.HOLD, tok.note_on(36), tok.note_on(96)) == (0, 1, 2, 62)
    assert [tok.token_text(i) for i in (0, 1, tok.note_on(60), tok.note_on(61))] == \
        ["REST", "HOLD", "ON 60 (C4)", "ON 61 (Db4)"]
    assert tok.pitch_of(tok.note_on(72)) == 72 and tok.pitch_of(tok.HOLD) is None
    with pytest.raises(StudioError, match="outside"):
        tok.token_text(63)
    with pytest.raises(StudioError, match="outside"):
        tok.note_on(30)
    for bad in ({"low": 60, "high": 65}, {"low": -1}, {"high": 128}, {"low": 40.5}, {"key_relative": "yes"}):
        with pytest.raises(StudioError):
            LeadSheetTokenizer(**bad)


# -- round trips --------------------------------------------------------------------------------------------------
def test_round_trip_on_50_bach_chorale_melodies(tok: LeadSheetTokenizer, chorale_sheets) -> None:
    assert len(chorale_sheets) == NUM_CHORALES
    notes = 0
    for sheet, _ in chorale_sheets:
        events = tok.encode(sheet)
        assert tok.last_out_of_range == {}, sheet.name  # sopranos lie within 36..96
        assert len(events.tokens) == len(events.chords) == len(events.positions) == sheet.num_steps
        assert as_tuples(tok.decode(events.tokens)) == as_tuples(sheet.melody), sheet.name
        notes += len(sheet.melody)
    assert notes > 2000


def test_round_trip_key_relative_on_chorales(chorale_sheets) -> None:
    rel = LeadSheetTokenizer(key_relative=True)
    for sheet, _ in chorale_sheets[:20]:
        events = rel.encode(sheet)
        assert -5 <= events.offset <= 6 and events.offset == rel.last_offset
        assert as_tuples(rel.decode(events.tokens, offset=events.offset)) == as_tuples(sheet.melody), sheet.name


def test_streams_are_aligned_with_chart_and_bar(tok: LeadSheetTokenizer) -> None:
    chart = ChordChart.parse("C7 | F7 | C7 G7 | Dm7 G7 C7 A7")
    sheet = LeadSheet([Note(60, 0, 6), Note(64, 6, 2), Note(67, 12, 10), Note(72, 40, 24)], chart)
    events = tok.encode(sheet)
    assert events.positions == [s % 16 for s in range(64)]
    assert events.chords == [chart.chord_at(s).index for s in range(64)]
    on = tok.note_on
    assert events.tokens[:24] == [on(60), *[1] * 5, on(64), 1, 0, 0, 0, 0, on(67), *[1] * 9, 0, 0]
    assert events.tokens[40:] == [on(72)] + [1] * 23


def _write_type(path: Path, midi_type: int) -> Path:
    """A tune with a chord channel, drums and a tempo change, as a type-0 or type-1 file (mido)."""
    melody = [(64 + (i * 5) % 12, i * 240, 240 + (i % 3) * 120) for i in range(0, 24, 2)]
    chords = [(p, b * 1920, 1920) for b in range(4) for p in ((48, 52, 55) if b % 2 == 0 else (53, 57, 60))]
    drums = [(42, b * 480, 60) for b in range(16)]
    events = [(0, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(96)), 0),
              (3840, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(132)), 0)]
    for channel, notes in ((0, melody), (1, chords), (9, drums)):
        for pitch, start, dur in notes:
            events.append((start, mido.Message("note_on", channel=channel, note=pitch, velocity=70), 1))
            events.append((start + dur, mido.Message("note_off", channel=channel, note=pitch), 0))
    groups = [events] if midi_type == 0 else [[e for e in events if e[1].is_meta]] + [
        [e for e in events if not e[1].is_meta and e[1].channel == ch] for ch in (0, 1, 9)]
    mid = mido.MidiFile(type=midi_type, ticks_per_beat=480)
    for group in groups:
        track, now = mido.MidiTrack(), 0
        for tick, msg, _ in sorted(group, key=lambda e: (e[0], e[2])):
            track.append(msg.copy(time=tick - now))
            now = tick
        mid.tracks.append(track)
    mid.save(str(path))
    return path


@pytest.mark.parametrize("midi_type", [0, 1])
def test_round_trip_on_written_midi_files(tok: LeadSheetTokenizer, tmp_path: Path, midi_type: int) -> None:
    sheet = leadsheet_from_midi(load_midi(_write_type(tmp_path / "t.mid", midi_type)))
    assert len(sheet.melody) == 12 and sheet.tempo == pytest.approx(96.0)
    assert sheet.chart.text() == "C | F | C | F"
    events = tok.encode(sheet)
    assert as_tuples(tok.decode(events.tokens)) == as_tuples(sheet.melody)
    assert as_tuples(sheet.melody)[-1] == (64 + 22 * 5 % 12, 22 * 2, 2 + 22 % 3)


def test_decode_from_an_offset_and_of_any_sequence(tok: LeadSheetTokenizer) -> None:
    on = tok.note_on
    # HOLD first or after a REST has nothing to hold: read as a rest, never an error
    assert as_tuples(tok.decode([1, 1, on(60), 1, 0, 1, on(62)], start=32)) == [(60, 34, 2), (62, 38, 1)]
    assert tok.decode(torch.tensor([on(50), on(50), 1])) == [Note(50, 0, 1), Note(50, 1, 2)]
    with pytest.raises(StudioError, match="token id 99 is outside"):
        tok.decode([0, 99])


def test_overlapping_and_bad_notes() -> None:
    tok = LeadSheetTokenizer()
    sheet = LeadSheet([Note(60, 0, 8), Note(62, 4, 2)], ChordChart([[NO_CHORD]]))
    # a malformed (overlapping) melody: the later onset cuts the earlier note
    assert as_tuples(tok.decode(tok.encode(sheet).tokens)) == [(60, 0, 4), (62, 4, 2)]
    with pytest.raises(StudioError, match="before the sheet"):
        tok.encode(LeadSheet([Note(60, -2, 4)], ChordChart([[NO_CHORD]])))


def test_empty_melody_gives_conditioning_streams(tok: LeadSheetTokenizer) -> None:
    chart = blues_chart("12-bar", "F")
    events = tok.encode(LeadSheet([], chart))
    assert set(events.tokens) == {tok.REST} and len(events) == 12 * 16
    assert events.chords[16 * 4] == chart.bars[4][0].index


# -- range and keys -----------------------------------------------------------------------------------------------
def test_out_of_range_notes_move_by_octaves_and_are_reported() -> None:
    tok = LeadSheetTokenizer(low=48, high=84)
    sheet = LeadSheet([Note(30, 0, 4), Note(60, 4, 4), Note(100, 8, 4), Note(30, 12, 4)], ChordChart([[NO_CHORD]]))
    events = tok.encode(sheet)
    assert [n.pitch for n in tok.decode(events.tokens)] == [54, 60, 76, 54]
    assert tok.last_out_of_range == {30: 2, 100: 1}
    assert tok.out_of_range_report() == ("3 note(s) outside the range 48..84 were moved by octaves into it "
                                         "(pitch x count: 30x2, 100x1)")
    tok.encode(LeadSheet([Note(60, 0, 4)], ChordChart([[NO_CHORD]])))
    assert tok.out_of_range_report() == ""


@pytest.mark.parametrize("form", ["12-bar", "jazz", "minor", "8-bar", "quick-change"])
def test_tonic_of_blues_charts_in_every_key(form: str) -> None:
    for key in range(12):
        assert estimate_tonic(LeadSheet([], blues_chart(form, key))) == key


def test_tonic_agrees_with_music21_on_most_chorales(chorale_sheets) -> None:
    """Modal chorales (a Phrygian cadence on E in A minor) are ambiguous; most are not."""
    agree = sum(estimate_tonic(sheet) == tonic for sheet, tonic in chorale_sheets)
    assert agree >= 0.7 * len(chorale_sheets)


def test_key_relative_moves_the_tonic_to_c() -> None:
    g_major = LeadSheet([Note(67, 0, 4), Note(71, 4, 4), Note(74, 8, 4), Note(66, 12, 2), Note(67, 14, 18)],
                        ChordChart.parse("G | D7 G"))
    rel = LeadSheetTokenizer(key_relative=True)
    events = rel.encode(g_major)
    assert events.offset == key_offset(7) == 5
    assert [n.pitch for n in rel.decode(events.tokens)] == [72, 76, 79, 71, 72]  # now in C
    assert [rel.token_text(t) for t in events.tokens[:1]] == ["ON 72 (C5)"]
    assert events.chords[0] == ChordChart.parse("C").bars[0][0].index
    assert rel.decode(events.tokens, offset=events.offset) == [Note(n.pitch, n.start, n.duration)
                                                               for n in g_major.melody]
    assert [key_offset(t) for t in range(12)] == [0, -1, -2, -3, -4, -5, 6, 5, 4, 3, 2, 1]


def test_transpositions_keep_the_melody_in_range() -> None:
    tok = LeadSheetTokenizer(low=48, high=72)
    sheet = LeadSheet([Note(50, 0, 4), Note(69, 4, 4)], ChordChart.parse("D"), name="x")
    shifts = tok.transpositions(sheet)
    assert [s for s, _ in shifts] == [-2, -1, 0, 1, 2, 3]
    for shift, moved in shifts:
        assert [n.pitch for n in moved.melody] == [50 + shift, 69 + shift]
        assert moved.chart.bars[0][0].root == (2 + shift) % 12
        tok.encode(moved)
        assert tok.last_out_of_range == {}


# -- grammar for generation ---------------------------------------------------------------------------------------
def test_grammar_mask(tok: LeadSheetTokenizer) -> None:
    on = tok.note_on
    tokens = torch.tensor([[on(60), 1], [on(60), 0], [0, on(62)]])
    mask = tok.grammar_mask(tokens)
    assert mask.shape == (3, tok.vocab_size) and mask.dtype == torch.bool
    assert mask[:, tok.HOLD].tolist() == [True, False, True]
    assert mask[:, tok.REST].all() and mask[:, 2:].all()
    assert not tok.grammar_mask(torch.zeros(2, 0, dtype=torch.long))[:, tok.HOLD].any()  # nothing to hold yet
    for row, prev in zip(mask.tolist(), (1, 0, on(62)), strict=True):
        assert row == tok.allowed_next(prev)
    assert tok.allowed_next(None)[tok.HOLD] is False


def test_grammar_mask_range_and_key_lock(tok: LeadSheetTokenizer) -> None:
    c_major = [0, 2, 4, 5, 7, 9, 11]
    mask = tok.grammar_mask(torch.tensor([[0]]), low=55, high=79, pitch_classes=c_major)[0]
    allowed = {tok.pitch_of(i) for i in range(2, tok.vocab_size) if mask[i]}
    assert allowed == {p for p in range(55, 80) if p % 12 in c_major}
    assert mask[tok.REST] and not mask[tok.HOLD]
    with pytest.raises(StudioError, match="must lie within"):
        tok.grammar_mask(torch.tensor([[0]]), low=20, high=79)


def test_any_grammatical_sequence_round_trips(tok: LeadSheetTokenizer) -> None:
    """Sample event sequences under the grammar mask: decoding then encoding gives the same events back."""
    rng = random.Random(7)
    for _ in range(30):
        tokens: list[int] = []
        for _ in range(rng.choice([16, 32, 48])):
            allowed = [i for i, ok in enumerate(tok.allowed_next(tokens[-1] if tokens else None, 48, 84)) if ok]
            tokens.append(rng.choice(allowed))
        sheet = LeadSheet(tok.decode(tokens), ChordChart([[NO_CHORD]] * (len(tokens) // 16)))
        assert tok.encode(sheet).tokens == tokens


# -- storage ------------------------------------------------------------------------------------------------------
def test_json_round_trip_and_refusals() -> None:
    tok = LeadSheetTokenizer(low=40, high=88, key_relative=True)
    data = json.loads(json.dumps(tok.to_dict()))
    assert data["kind"] == "leadsheet"
    again = LeadSheetTokenizer.from_dict(data)
    assert again == tok and again.vocab_size == tok.vocab_size
    with pytest.raises(StudioError, match="not a lead-sheet tokenizer"):
        LeadSheetTokenizer.from_dict({**data, "kind": "char"})
    with pytest.raises(StudioError, match="unknown fields"):
        LeadSheetTokenizer.from_dict({**data, "swing": 0.6})
    with pytest.raises(StudioError, match="steps per bar"):
        LeadSheetTokenizer.from_dict({**data, "steps_per_bar": 12})
    assert isinstance(tok.encode(LeadSheet([], ChordChart([[NO_CHORD]]))), LeadSheetEvents)
