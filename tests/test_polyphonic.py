"""The polyphonic (REMI) tokenizer: exact round trips on 50 Bach chorales (music21 -> MIDI), a piano file with a
tempo change and drums, grammar-safe decoding of broken sequences, BPE, and JSON storage."""

from __future__ import annotations

import json
import random
import warnings
from pathlib import Path

import pretty_midi
import pytest
from music21 import corpus

from studio.errors import StudioError
from studio.music.io.midi import score_to_midi
from studio.music.remi.tokenizer import PolyTokenizer

NUM_CHORALES = 50
GRID = 8  # REMI positions per beat in this configuration (32nd notes)


@pytest.fixture(scope="module")
def chorale_midis() -> list[tuple[str, pretty_midi.PrettyMIDI]]:
    """The first 50 chorales as MIDI through music21 (badly formed repeats are read once, with a warning)."""
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for score in corpus.chorales.Iterator():
            out.append((str(score.metadata.corpusFilePath), score_to_midi(score)))
            if len(out) == NUM_CHORALES:
                break
    return out


@pytest.fixture(scope="module")
def tok() -> PolyTokenizer:
    return PolyTokenizer()


def notes_in_beats(pm: pretty_midi.PrettyMIDI, drums: bool = False) -> list[tuple[int, float, float]]:
    """Distinct (pitch, onset, duration) of every note, in beats, rounded to the tokenizer's grid. Distinct: two
    voices striking one pitch together are one piano key."""
    out = set()
    for inst in pm.instruments:
        if inst.is_drum and not drums:
            continue
        for n in inst.notes:
            start, end = pm.time_to_tick(n.start) / pm.resolution, pm.time_to_tick(n.end) / pm.resolution
            out.add((n.pitch, round(start * GRID) / GRID, round((end - start) * GRID) / GRID))
    return sorted(out)


def test_round_trip_on_50_bach_chorales(tok: PolyTokenizer, chorale_midis) -> None:
    assert len(chorale_midis) == NUM_CHORALES
    total = 0
    for name, pm in chorale_midis:
        ids = tok.encode(pm)
        assert ids[0] == tok.bos_id and ids[-1] == tok.eos_id
        assert all(0 <= i < tok.vocab_size for i in ids)
        out = tok.decode(ids)
        assert tok.last_dropped == 0, name
        assert notes_in_beats(out) == notes_in_beats(pm), name
        total += len(notes_in_beats(pm))
    assert total > 10_000


def test_unisons_survive_as_separate_notes(tok: PolyTokenizer) -> None:
    """Two voices on one pitch, overlapping: a MIDI track cannot hold both, so decoding spreads them over tracks."""
    pm = pretty_midi.PrettyMIDI(initial_tempo=120)
    for start, end in ((0.0, 1.0), (0.5, 1.5)):
        inst = pretty_midi.Instrument(0)
        inst.notes.append(pretty_midi.Note(80, 67, start, end))
        pm.instruments.append(inst)
    out = tok.decode(tok.encode(pm))
    assert notes_in_beats(out) == [(67, 0.0, 2.0), (67, 1.0, 2.0)]


def test_piano_file_with_tempo_change_and_drums(tok: PolyTokenizer, tmp_path: Path) -> None:
    """Written with mido: the grid follows the beats across a tempo change; drums are left out; long notes up to
    12 beats keep their length on the coarser (16th) grid."""
    import mido

    mid = mido.MidiFile(type=1, ticks_per_beat=480)
    conductor = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(100)),
                                mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(70), time=480 * 8)])
    notes = [(60, 0, 240), (64, 0, 480), (67, 240, 120), (72, 480 * 8 + 60, 60), (48, 480 * 9, 480 * 10 + 120)]
    events = sorted([(s, 1, p) for p, s, _ in notes] + [(s + d, 0, p) for p, s, d in notes])
    piano, now = mido.MidiTrack(), 0
    for tick, on, pitch in events:
        kind = "note_on" if on else "note_off"
        piano.append(mido.Message(kind, note=pitch, velocity=90 if on else 0, time=tick - now))
        now = tick
    drums = mido.MidiTrack([mido.Message("note_on", channel=9, note=36, velocity=100),
                            mido.Message("note_off", channel=9, note=36, time=120)])
    mid.tracks += [conductor, piano, drums]
    path = tmp_path / "piano.mid"
    mid.save(str(path))
    out = tok.decode(tok.encode(path))
    assert not any(inst.is_drum for inst in out.instruments)
    assert notes_in_beats(out) == sorted((p, s / 480, d / 480) for p, s, d in notes)
    tempos = out.get_tempo_changes()[1]
    assert tempos[0] == pytest.approx(100, rel=0.1) and tempos[-1] == pytest.approx(70, rel=0.1)


def test_drums_only_and_bad_config_raise() -> None:
    pm = pretty_midi.PrettyMIDI()
    drums = pretty_midi.Instrument(0, is_drum=True)
    drums.notes.append(pretty_midi.Note(100, 36, 0, 0.5))
    pm.instruments.append(drums)
    with pytest.raises(StudioError, match="no pitched"):
        PolyTokenizer().encode(pm)
    with pytest.raises(StudioError, match="use_programs"):
        PolyTokenizer({"use_programs": True})
    with pytest.raises(StudioError, match="bad polyphonic tokenizer config"):
        PolyTokenizer({"no_such_option": 1})


# -- grammar-safe decoding ----------------------------------------------------------------------------------------
def test_valid_sequence_is_kept_whole(tok: PolyTokenizer, chorale_midis) -> None:
    ids = tok.encode(chorale_midis[0][1], bos_eos=False)
    assert tok.valid_tokens(ids) == [tok.token_text(i) for i in ids]
    assert tok.last_dropped == 0


def test_broken_sequences_decode_to_their_valid_part(tok: PolyTokenizer, chorale_midis) -> None:
    """Deleting, inserting and cutting tokens never crashes; what comes out is notes of the original piece (same
    pitch, a duration it had) and the damage is counted."""
    rng = random.Random(3)
    pm = chorale_midis[1][1]
    ids = tok.encode(pm, bos_eos=False)
    original = notes_in_beats(pm)
    pitches_and_durations = {(p, d) for p, _, d in original}
    dropped = 0
    for trial in range(40):
        broken = list(ids)
        edits = rng.randint(1, 12)
        for _ in range(edits):
            k = rng.randrange(len(broken))
            if rng.random() < 0.5:
                del broken[k]
            else:
                broken.insert(k, rng.randrange(tok.vocab_size))
        broken = broken[:rng.randint(len(broken) // 2, len(broken))]
        decoded = notes_in_beats(tok.decode(broken))
        dropped += tok.last_dropped
        assert 0 < len(decoded) <= len(original) + edits, trial
        kept = sum((p, d) in pitches_and_durations for p, _, d in decoded)
        assert kept >= 0.8 * len(decoded), trial
    assert dropped >= 40


def test_random_and_degenerate_sequences_never_crash(tok: PolyTokenizer) -> None:
    rng = random.Random(0)
    for _ in range(100):
        ids = [rng.randrange(-5, tok.vocab_size + 5) for _ in range(rng.randrange(0, 200))]
        assert isinstance(tok.decode(ids), pretty_midi.PrettyMIDI)
    assert tok.decode([]).instruments == []
    bar, pos = tok._tok["Bar_None"], tok._tok["Position_0"]
    pitch, vel, dur = tok._tok["Pitch_60"], tok._tok["Velocity_95"], tok._tok["Duration_1.0.8"]
    # a note without a bar, a bare pitch, a position going backwards: all dropped
    assert tok.decode([pos, pitch, vel, dur]).instruments == []
    assert tok.decode([bar, pos, pitch, dur, vel]).instruments == []
    later = tok._tok["Position_8"]
    assert notes_in_beats(tok.decode([bar, later, pitch, vel, dur, pos, pitch, vel, dur])) == [(60, 1.0, 1.0)]
    assert tok.last_dropped == 4
    # reading stops at EOS; PAD and BOS are skipped
    seq = [tok.bos_id, bar, tok.pad_id, pos, pitch, vel, dur, tok.eos_id, bar, later, pitch, vel, dur]
    assert notes_in_beats(tok.decode(seq)) == [(60, 0.0, 1.0)]
    assert tok.last_dropped == 5  # the five tokens after EOS


# -- vocabulary, BPE, storage -------------------------------------------------------------------------------------
def test_vocabulary_and_special_ids(tok: PolyTokenizer) -> None:
    assert (tok.pad_id, tok.bos_id, tok.eos_id) == (0, 1, 2)
    assert tok.vocab_size == len(tok._tok.vocab) > 300
    assert tok.token_text(tok.bos_id) == "BOS_None"
    assert tok.token_text(tok._tok["Pitch_60"]) == "Pitch_60"


def test_json_round_trip_rebuilds_the_same_tokenizer(tok: PolyTokenizer, chorale_midis) -> None:
    data = json.loads(json.dumps(tok.to_dict()))
    assert data["kind"] == "polyphonic"
    again = PolyTokenizer.from_dict(data)
    pm = chorale_midis[2][1]
    assert again.vocab_size == tok.vocab_size and again.encode(pm) == tok.encode(pm)
    with pytest.raises(StudioError, match="not a polyphonic tokenizer"):
        PolyTokenizer.from_dict({"kind": "char"})
    with pytest.raises(StudioError, match="REMI"):
        PolyTokenizer.from_dict({"kind": "polyphonic", "miditok": {**data["miditok"], "tokenization": "TSD"}})


def test_bpe_shortens_sequences_and_still_round_trips(chorale_midis) -> None:
    bpe = PolyTokenizer()
    bpe.train_bpe([pm for _, pm in chorale_midis[:10]], vocab_size=600)
    assert bpe.is_trained and bpe.vocab_size == 600
    plain = PolyTokenizer()
    for name, pm in chorale_midis[10:16]:
        ids = bpe.encode(pm)
        assert len(ids) < 0.8 * len(plain.encode(pm)), name
        assert notes_in_beats(bpe.decode(ids)) == notes_in_beats(pm), name
    stored = PolyTokenizer.from_dict(json.loads(json.dumps(bpe.to_dict())))
    pm = chorale_midis[20][1]
    assert stored.encode(pm) == bpe.encode(pm)
    assert len(stored.token_text(max(stored.encode(pm))).split()) >= 1
    with pytest.raises(StudioError, match="above the base vocabulary"):
        PolyTokenizer().train_bpe([pm], vocab_size=100)
