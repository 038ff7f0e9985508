"""Frame rolls from real chorales, piano-roll bundles, and composing with them: continue, start, harmonise; the
``studio train rolls`` and ``studio compose --melody`` commands. Real music21 chorales, no ../shared needed."""

from __future__ import annotations

import copy
import json
import warnings
from pathlib import Path

import pretty_midi
import pytest
import torch
from music21 import corpus, stream

from studio.cli import main
from studio.errors import StudioError
from studio.models.piano_roll import KEYS, PianoRollConfig, PianoRollModel, frame_nll
from studio.music.io.midi import score_to_midi
from studio.music.pianoroll.compose import (
    RollModel,
    RollRequest,
    _draw_top_down,
    _melody_loglik,
    compose_rolls,
    input_shift,
    load_roll_model,
)
from studio.music.pianoroll.frames import (
    LOWEST_MIDI,
    estimate_roll_tonic,
    frames_to_midi,
    midi_to_frames,
    top_line,
)
from studio.music.pianoroll.training import (
    RollTrainConfig,
    data_profile,
    epoch_batches,
    save_roll_model,
    train_piano_roll,
)

NUM_CHORALES = 12


@pytest.fixture(scope="module")
def chorales() -> list[tuple[str, pretty_midi.PrettyMIDI]]:
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for score in corpus.chorales.Iterator():
            out.append((str(score.metadata.title if score.metadata else len(out)), score_to_midi(score)))
            if len(out) == NUM_CHORALES:
                return out
    return out


@pytest.fixture(scope="module")
def soprano_midi(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The soprano line of BWV 66.6 (F-sharp minor) alone, as a MIDI file: a melody to harmonise."""
    score = corpus.parse("bach/bwv66.6")
    path = tmp_path_factory.mktemp("melody") / "bwv66-soprano.mid"
    score_to_midi(stream.Score([copy.deepcopy(score.parts[0])])).write(str(path))
    return path


@pytest.fixture(scope="module")
def roll_model(tmp_path_factory: pytest.TempPathFactory, chorales) -> Path:
    """A small LSTM trained for a few epochs on chorales moved to C an octave up (as in Boulanger's JSB set)."""
    rolls = []
    for _, midi in chorales:
        roll = midi_to_frames(midi)
        shift = (-estimate_roll_tonic(roll)) % 12
        rolls.append(torch.roll(roll, shift + 12 - (12 if shift > 6 else 0), dims=1))
    config = PianoRollConfig(cell="lstm", hidden_size=32, beat_periods=(4,))  # composing passes frame indexes too
    result = train_piano_roll(config, RollTrainConfig(batch_size=4, lr=2e-2, max_epochs=8, minutes=0, patience=0),
                              rolls[2:7], rolls[:2])  # chorales 7.. stay unseen, for fine-tuning
    path = tmp_path_factory.mktemp("rolls") / "tiny" / "best"
    save_roll_model(result, path, {"name": "tiny", "frames_per_beat": 1, "data": data_profile(rolls)},
                    dtype="float16")
    return path


# -- frames --------------------------------------------------------------------------------------------------------
def test_chorales_round_trip_through_frames(chorales) -> None:
    for name, midi in chorales:
        roll = midi_to_frames(midi)
        assert roll.shape[1] == KEYS and roll.shape[0] >= 16, name
        assert 1 <= int(roll.sum(1).max()) <= 8, name  # four voices, some with instrumental parts beside them
        again = midi_to_frames(frames_to_midi(roll, tempo=100))
        assert torch.equal(again, roll), name


def test_frames_hold_notes_and_skip_drums_and_keys_off_the_piano() -> None:
    midi = pretty_midi.PrettyMIDI(initial_tempo=120)  # a beat is 0.5 s
    piano, drums = pretty_midi.Instrument(0), pretty_midi.Instrument(0, is_drum=True)
    piano.notes += [pretty_midi.Note(90, 60, 0.0, 1.0), pretty_midi.Note(90, 64, 0.5, 1.0),
                    pretty_midi.Note(90, 12, 0.0, 1.0), pretty_midi.Note(90, 67, 0.6, 0.7)]  # 12: below A0
    drums.notes.append(pretty_midi.Note(90, 40, 0.0, 1.0))
    midi.instruments += [piano, drums]
    roll = midi_to_frames(midi)
    assert roll.shape == (2, KEYS)
    assert roll[:, 60 - LOWEST_MIDI].tolist() == [1, 1] and roll[:, 64 - LOWEST_MIDI].tolist() == [0, 1]
    assert roll.sum() == 3  # the 16th G between sampling points vanishes; drums and MIDI 12 are not keys
    assert midi_to_frames(midi, frames_per_beat=4).shape == (8, KEYS)
    back = frames_to_midi(roll, tempo=120)
    assert [(n.pitch, n.start, n.end) for n in back.instruments[0].notes] == [(60, 0.0, 1.0), (64, 0.5, 1.0)]
    assert top_line(roll) == [60 - LOWEST_MIDI, 64 - LOWEST_MIDI]


def test_tonic_estimate_follows_transposition(chorales) -> None:
    roll = midi_to_frames(chorales[0][1])
    tonic = estimate_roll_tonic(roll)
    assert all(estimate_roll_tonic(torch.roll(roll, s, dims=1)) == (tonic + s) % 12 for s in (-3, 2, 5))
    assert estimate_roll_tonic(torch.zeros(4, KEYS)) == 0


def test_bucketed_batches_cover_every_piece_once_with_similar_lengths() -> None:
    lengths = [40, 300, 41, 900, 299, 901, 310, 311]
    generator = torch.Generator().manual_seed(0)
    for bucket in (False, True):
        batches = epoch_batches(lengths, 2, bucket, generator)
        assert sorted(i for b in batches for i in b) == list(range(8))
    spreads = [max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in epoch_batches(lengths, 2, True,
                                                                                               generator)]
    assert max(spreads) <= 2


# -- the model, stepwise, and its bundle ------------------------------------------------------------------------------
@pytest.mark.parametrize(("periods", "within"), [((), "independent"), ((3, 4), "independent"), ((), "top_down")])
def test_stepwise_reading_equals_the_whole_sequence(periods: tuple[int, ...], within: str) -> None:
    torch.manual_seed(0)
    model = PianoRollModel(PianoRollConfig(cell="gru", hidden_size=16, num_layers=2, beat_periods=periods,
                                           within_frame=within, frame_hidden=8 if within == "top_down" else 0)).eval()
    if within == "top_down":  # its frame maps start at zero: give them weights, or the test would not see them
        for param in model.frame.parameters():
            torch.nn.init.normal_(param, std=0.5)
    rolls = (torch.rand(2, 9, KEYS) > 0.9).float()
    whole = model(rolls)
    inputs = model.shifted_inputs(rolls)
    first, state = model.read(inputs[:, :4])
    rest = []
    for t in range(4, 9):
        out, state = model.read(inputs[:, t:t + 1], state, start=t)
        rest.append(out)
    torch.testing.assert_close(model.frame_logits(torch.cat([first, *rest], dim=1), rolls), whole,
                               rtol=1e-5, atol=1e-5)
    if periods:  # the position input matters: reading from the wrong index changes the prediction
        wrong, _ = model.read(inputs[:, 4:5], model.read(inputs[:, :4])[1], start=5)
        assert not torch.allclose(wrong, rest[0])


def test_beat_positions_are_one_hot_per_period() -> None:
    model = PianoRollModel(PianoRollConfig(hidden_size=4, beat_periods=[3, 4]))
    assert model.config.beat_periods == (3, 4) and model.config.position_features == 7
    pos = model.positions(5, 3, 2)  # frames 5, 6, 7
    assert pos.shape == (2, 3, 7)
    assert pos[0, :, :3].argmax(-1).tolist() == [2, 0, 1]
    assert pos[0, :, 3:].argmax(-1).tolist() == [1, 2, 3]
    with pytest.raises(StudioError, match=r"beat period must be in \[2, 64\]"):
        PianoRollConfig(beat_periods=(1,))


def test_bundle_round_trip(roll_model: Path) -> None:
    loaded = load_roll_model(roll_model)
    card = json.loads((roll_model / "model.json").read_text())
    assert card["model_kind"] == "piano_roll" and card["weights"]["dtype"] == "float16"
    assert loaded.tonic == 0 and loaded.concert_shift == -12 and loaded.top_median > 78
    assert not loaded.model.training
    with pytest.raises(StudioError, match="not a piano-roll model"):
        load_roll_model(Path(__file__).resolve().parent.parent / "checkpoints" / "blues")


# -- composing -----------------------------------------------------------------------------------------------------
def test_harmonising_keeps_the_melody_on_top_at_its_own_pitch(roll_model: Path, soprano_midi: Path) -> None:
    model = load_roll_model(roll_model)
    melody = pretty_midi.PrettyMIDI(str(soprano_midi))
    pieces = compose_rolls(model, RollRequest(max_notes=4, num_samples=3, seed=5), melody=melody)
    assert len(pieces) == 3
    written = [(n.pitch, round(n.start, 3)) for n in melody.instruments[0].notes]
    tops = top_line(midi_to_frames(melody))
    # F-sharp minor moves to C (-6 or +6) and up an octave or so to the data's register; the result moves back.
    assert pieces[0].params["transposed_by"] % 12 == 6
    for piece in pieces:
        parts = {i.name: i for i in piece.midi.instruments}
        assert [(n.pitch, round(n.start, 3)) for n in parts["melody"].notes] == written  # as written, eighths too
        assert piece.roll.shape == (len(tops), KEYS)
        for t, top in enumerate(tops):
            frame = piece.roll[t].nonzero().flatten().tolist()
            assert (top is None and frame == []) or frame[-1] == top, f"frame {t}: {frame} under {top}"
            assert len(frame) <= 4
        assert parts["harmony"].notes, "no harmony at all"
    assert len({tuple(p.roll.flatten().nonzero().flatten().tolist()) for p in pieces}) > 1  # three different draws
    again = compose_rolls(model, RollRequest(max_notes=4, num_samples=3, seed=5), melody=melody)
    assert all(torch.equal(a.roll, b.roll) for a, b in zip(pieces, again, strict=True))  # the seed repeats it


def test_continuing_keeps_the_primer_and_adds_frames(roll_model: Path, chorales) -> None:
    model = load_roll_model(roll_model)
    primer = chorales[3][1]
    given = midi_to_frames(primer)
    piece = compose_rolls(model, RollRequest(frames=24, max_notes=0, seed=1), primer=primer)[0]
    assert piece.roll.shape == (given.shape[0] + 24, KEYS) and piece.new_frames == 24
    assert torch.equal(piece.roll[:given.shape[0]], given.bool())
    assert piece.params["mode"] == "continue" and piece.logprob < 0
    assert input_shift(model, given) == piece.params["transposed_by"]


def test_a_fresh_piece_sounds_at_concert_pitch(roll_model: Path) -> None:
    model = load_roll_model(roll_model)
    piece = compose_rolls(model, RollRequest(frames=48, seed=2))[0]
    tops = [k + LOWEST_MIDI for k in top_line(piece.roll) if k is not None]
    assert tops and 55 <= sorted(tops)[len(tops) // 2] <= 84  # around a soprano's range, not the data's octave up
    assert piece.params["mode"] == "start"


def test_moving_back_drops_only_what_falls_off_the_keyboard() -> None:
    from studio.music.pianoroll.compose import shift_roll

    roll = torch.zeros(2, KEYS, dtype=torch.bool)
    roll[0, 3], roll[1, 40] = True, True
    with pytest.raises(StudioError, match="off the piano"):
        shift_roll(roll, -5)
    moved = shift_roll(roll, -5, drop=True)
    assert moved.nonzero().tolist() == [[1, 35]]
    assert torch.equal(shift_roll(moved, 5), torch.roll(moved, 5, dims=1))


def test_bad_requests_name_the_range(roll_model: Path, soprano_midi: Path) -> None:
    model = load_roll_model(roll_model)
    melody = pretty_midi.PrettyMIDI(str(soprano_midi))
    with pytest.raises(StudioError, match=r"temperature must be in \(0, 10\]"):
        compose_rolls(model, RollRequest(temperature=0), melody=melody)
    with pytest.raises(StudioError, match=r"frames must be in \[1, 4000\]"):
        compose_rolls(model, RollRequest(frames=0))
    with pytest.raises(StudioError, match="at most 8192"):
        compose_rolls(model, RollRequest(num_samples=256, particles=64), melody=melody)
    with pytest.raises(StudioError, match="not both"):
        compose_rolls(model, RollRequest(), primer=melody, melody=melody)
    with pytest.raises(StudioError, match="no notes"):
        compose_rolls(model, RollRequest(), melody=pretty_midi.PrettyMIDI())


# -- the commands --------------------------------------------------------------------------------------------------
def test_train_rolls_on_a_folder_then_harmonise(tmp_path: Path, chorales, soprano_midi: Path, capsys) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    for i, (_, midi) in enumerate(chorales[:6]):
        midi.write(str(folder / f"chorale-{i}.mid"))
    (folder / "broken.mid").write_bytes(b"MThd\x00\x00\x00\x06garbage")
    out = tmp_path / "run"
    assert main(["train", "rolls", "--data", str(folder), "--out", str(out), "--hidden", "16", "--max-epochs", "3",
                 "--minutes", "0", "--threads", "1", "--within-frame", "top_down", "--frame-hidden", "8"]) == 0
    err = capsys.readouterr().err
    assert "skipped" in err and "broken.mid" in err
    card = json.loads((out / "best" / "model.json").read_text())
    assert card["model_config"]["within_frame"] == "top_down" and card["model_config"]["frame_hidden"] == 8
    assert card["corpus"]["train_pieces"] + card["corpus"]["valid_pieces"] == 6 and card["corpus"]["skipped"] == 1
    assert card["metrics"]["epochs"] == 3 and "test_nats_per_frame" not in card["metrics"]

    comp = tmp_path / "out"
    assert main(["compose", "--model", str(out), "--melody", str(soprano_midi), "--seed", "7", "-n", "2",
                 "--formats", "mid,json", "--out", str(comp)]) == 0
    files = sorted(p.name for p in comp.iterdir())
    assert files == ["run-7-001.json", "run-7-001.mid", "run-7-002.json", "run-7-002.mid"]
    assert json.loads((comp / "run-7-001.json").read_text())["mode"] == "harmonise"
    assert main(["compose", "--model", str(out), "--melody", str(soprano_midi), "--beam", "4"]) == 2
    assert "--beam" in capsys.readouterr().err
    assert main(["compose", "--model", "blues", "--melody", str(soprano_midi)]) == 2
    assert "piano-roll" in capsys.readouterr().err


def test_finetune_a_piano_roll_model_on_a_folder(tmp_path: Path, roll_model: Path, chorales, soprano_midi: Path,
                                                 capsys) -> None:
    """studio finetune on a folder of the user's chorales (in their own keys, one file broken): the pieces are moved
    to the base model's key, the base model's loss is the bar to beat, and the result composes like the base."""
    folder = tmp_path / "mine"
    folder.mkdir()
    for i, (_, midi) in enumerate(chorales):
        midi.write(str(folder / f"chorale-{i}.mid"))
    (folder / "notes.mid").write_bytes(b"not a midi file at all")
    out = tmp_path / "tuned"
    assert main(["finetune", "--base", str(roll_model), "--corpus", str(folder), "--out", str(out), "--lr", "1e-2",
                 "--minutes", "0", "--patience", "4", "--batch-size", "4"]) == 0
    captured = capsys.readouterr()
    assert "notes.mid" in captured.err and "validation" in captured.out
    card = json.loads((out / "best" / "model.json").read_text())
    base = json.loads((roll_model / "model.json").read_text())
    assert card["finetuned_from"]["weights_sha256"] == base["weights"]["sha256"]
    assert card["data"] == base["data"] and card["corpus"]["skipped"] == 1
    history = json.loads((out / "history.json").read_text())
    assert history[0]["epoch"] == 0 and history[0]["valid"] == card["finetuned_from"]["valid_nats_per_frame"]
    assert card["metrics"]["valid_nats_per_frame"] < card["finetuned_from"]["valid_nats_per_frame"]  # it learned
    piece = compose_rolls(load_roll_model(out), RollRequest(seed=1), melody=pretty_midi.PrettyMIDI(str(soprano_midi)))
    assert piece[0].params["mode"] == "harmonise"


# -- inputs people actually have (from the review of the first version) ----------------------------------------------
def _line(numerator: int, denominator: int, tempo: float = 120.0, notes: int = 12,
          chords: bool = False) -> pretty_midi.PrettyMIDI:
    """Quarter notes in the given meter (one track); with ``chords`` a low C sounds under every other note."""
    midi = pretty_midi.PrettyMIDI(initial_tempo=tempo)
    midi.time_signature_changes.append(pretty_midi.TimeSignature(numerator, denominator, 0))
    beat = 60.0 / tempo
    track = pretty_midi.Instrument(0)
    for k in range(notes):
        track.notes.append(pretty_midi.Note(80, 67 + (k % 5), k * beat, (k + 1) * beat))
        if chords and k % 2 == 0:
            track.notes.append(pretty_midi.Note(70, 48, k * beat, (k + 2) * beat))
    midi.instruments.append(track)
    return midi


@pytest.mark.parametrize("meter", [(4, 4), (3, 4), (6, 8), (2, 2), (3, 2), (3, 8), (12, 8)])
def test_a_frame_is_a_quarter_note_in_every_meter(meter: tuple[int, int]) -> None:
    midi = _line(*meter)
    assert midi_to_frames(midi).shape[0] == 12 and midi_to_frames(midi, 2).shape[0] == 24


def test_frames_follow_tempo_changes_and_very_short_files(tmp_path: Path) -> None:
    """A real file whose tempo halves after six quarter notes (written with mido): frames stay quarter notes."""
    import mido

    from studio.music.pianoroll.frames import frame_times

    file = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500_000, time=0)])
    for k in range(12):
        if k == 6:
            track.append(mido.MetaMessage("set_tempo", tempo=1_000_000, time=0))
        track += [mido.Message("note_on", note=67 + k % 5, velocity=80, time=0),
                  mido.Message("note_off", note=67 + k % 5, velocity=0, time=480)]
    file.tracks.append(track)
    file.save(str(tmp_path / "slower.mid"))
    midi = pretty_midi.PrettyMIDI(str(tmp_path / "slower.mid"))
    times = frame_times(midi, 2)
    assert len(times) == 24
    assert numpy_close(times, [midi.tick_to_time(240 * k) for k in range(24)])
    assert numpy_close(times[:3], [0.0, 0.25, 0.5]) and numpy_close(times[-2:], [8.0, 8.5])
    short = pretty_midi.PrettyMIDI(initial_tempo=100)
    line = pretty_midi.Instrument(0)
    line.notes.append(pretty_midi.Note(80, 60, 0.0, 0.2))
    short.instruments.append(line)
    assert midi_to_frames(short).shape == (1, KEYS)


def numpy_close(a, b) -> bool:
    return bool(torch.allclose(torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64),
                               atol=1e-9))


def test_harmonising_a_compound_meter_tune_keeps_voices_in_time(roll_model: Path) -> None:
    tune = _line(6, 8, tempo=90)
    piece = compose_rolls(load_roll_model(roll_model), RollRequest(seed=4, particles=4), melody=tune)[0]
    parts = {i.name: i for i in piece.midi.instruments}
    melody_end = max(n.end for n in parts["melody"].notes)
    assert melody_end == pytest.approx(tune.get_end_time())
    assert max(n.end for n in parts["harmony"].notes) <= melody_end + 1e-6


def test_only_a_single_line_at_the_same_tempo_is_copied_as_written(roll_model: Path) -> None:
    model = load_roll_model(roll_model)
    with_chords = _line(4, 4, chords=True)
    parts = {i.name: i for i in compose_rolls(model, RollRequest(seed=1, particles=2),
                                              melody=with_chords)[0].midi.instruments}
    assert 48 not in {n.pitch for n in parts["melody"].notes}  # the accompaniment is not "the melody"
    assert 48 in {n.pitch for n in with_chords.instruments[0].notes}
    slower = compose_rolls(model, RollRequest(seed=1, particles=2, tempo=60), melody=_line(4, 4))[0].midi
    ends = {i.name: max(n.end for n in i.notes) for i in slower.instruments}
    assert ends["melody"] == pytest.approx(12.0)  # 12 quarters at 60: the grid's line, not the 6 s original


def test_a_tune_spanning_the_keyboard_still_composes(roll_model: Path) -> None:
    model = load_roll_model(roll_model)
    wide = _line(4, 4)
    wide.instruments[0].notes += [pretty_midi.Note(60, 21, 0.0, 0.5), pretty_midi.Note(60, 108, 0.5, 1.0)]
    roll = midi_to_frames(wide)
    shift = input_shift(model, roll)
    keys = roll.any(0).nonzero().flatten()
    assert int(keys.min()) + shift >= 0 and int(keys.max()) + shift < KEYS
    assert compose_rolls(model, RollRequest(seed=2, particles=2), melody=wide)[0].params["mode"] == "harmonise"


def test_unzipping_keeps_music_only_caps_the_size_and_starts_fresh(tmp_path: Path) -> None:
    import zipfile

    from studio.music.io.corpus import unzipped_corpus

    archive = tmp_path / "mine.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("a.mid", b"MThd")
        z.writestr("../escape.mid", b"MThd")
        z.writestr("filler.bin", b"\0" * 3_000_000)
        z.writestr("sub/b.musicxml", b"<score-partwise/>")
    out = tmp_path / "run"
    stale = tmp_path / ".run-corpus" / "old.mid"
    stale.parent.mkdir()
    stale.write_bytes(b"MThd")
    folder = unzipped_corpus(archive, out, max_bytes=1000)
    assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) == ["a.mid",
                                                                                         "sub/b.musicxml"]
    big = tmp_path / "big.zip"
    with zipfile.ZipFile(big, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("huge.mid", b"\0" * 3_000_000)
    with pytest.raises(StudioError, match="unpacks to more than 1 MB"):
        unzipped_corpus(big, out, max_bytes=1_000_000)


def test_compose_and_train_options_for_piano_roll_models(tmp_path: Path, roll_model: Path, soprano_midi: Path,
                                                         capsys) -> None:
    out = tmp_path / "c"
    assert main(["compose", "--model", str(roll_model), "--melody", str(soprano_midi), "--tempo", "60",
                 "--formats", "mid,json,musicxml", "--seed", "1", "--out", str(out)]) == 0
    assert "no MusicXML" in capsys.readouterr().err
    sidecar = json.loads(next(out.glob("*.json")).read_text())
    assert sidecar["tempo"] == 60.0 and not list(out.glob("*.musicxml"))
    assert main(["compose", "--model", "blues", "--frames", "32"]) == 2
    assert "piano-roll" in capsys.readouterr().err
    assert main(["train", "rolls", "--data", str(soprano_midi), "--out", str(tmp_path / "r"), "--save-dtype", "fp16"]
                ) == 2
    assert "--save-dtype" in capsys.readouterr().err and not (tmp_path / "r").exists()
    assert main(["train", "rolls", "--data", str(soprano_midi), "--out", str(tmp_path / "r"), "--within-frame",
                 "sideways"]) == 2
    assert "within_frame must be one of independent, top_down" in capsys.readouterr().err
    assert main(["train", "rolls", "--data", str(soprano_midi), "--out", str(tmp_path / "r"), "--frame-hidden",
                 "8"]) == 2
    assert "frame_hidden needs within_frame 'top_down'" in capsys.readouterr().err


def test_the_split_does_not_depend_on_where_the_folder_is(tmp_path: Path, chorales) -> None:
    from studio.music.pianoroll.training import rolls_from_music

    splits = []
    for where in ("a", "deeper/b"):
        folder = tmp_path / where / "songs"
        folder.mkdir(parents=True)
        for i, (_, midi) in enumerate(chorales):
            midi.write(str(folder / f"chorale-{i}.mid"))
        splits.append(rolls_from_music([folder], 1)[0])
    for part in ("train", "valid"):
        assert len(splits[0][part]) == len(splits[1][part])
        assert all(torch.equal(x, y) for x, y in zip(splits[0][part], splits[1][part], strict=True))


def test_a_voice_floor_gives_every_melody_note_its_parts(soprano_midi: Path) -> None:
    model = load_roll_model("jsb")  # the shipped harmoniser: its likeliest extra voices sit in a choir's range
    melody = pretty_midi.PrettyMIDI(str(soprano_midi))
    tops = top_line(midi_to_frames(melody))
    for piece in compose_rolls(model, RollRequest(seed=3, num_samples=2, particles=4, max_notes=4, min_notes=4),
                               melody=melody):
        counts = piece.roll.sum(1).tolist()
        assert all(c == 4 for c, top in zip(counts, tops, strict=True) if top is not None)  # SATB, every beat
        assert all(c == 0 for c, top in zip(counts, tops, strict=True) if top is None)
    with pytest.raises(StudioError, match=r"min_notes \(5\) must not exceed max_notes \(4\)"):
        compose_rolls(model, RollRequest(max_notes=4, min_notes=5), melody=melody)


# -- top-down models: a frame drawn from its highest key down ---------------------------------------------------------
def _hand_set_top_down(bias: dict[int, float], above: dict[tuple[int, int], float]) -> RollModel:
    """A top-down model whose logits are set by hand: key biases (others -20) and weights from a higher key to a
    lower one in the same frame; the recurrent part reads nothing (its output weights are zero)."""
    model = PianoRollModel(PianoRollConfig(cell="gru", hidden_size=4, within_frame="top_down")).eval()
    with torch.no_grad():
        model.decoder.weight.zero_()
        model.decoder.bias.fill_(-20.0)
        for key, value in bias.items():
            model.decoder.bias[key] = value
        for (lower, higher), weight in above.items():
            model.frame.above.weight[lower, higher] = weight
    return RollModel(model, {}, Path("hand-set"))


def test_a_top_down_frame_is_drawn_knowing_the_keys_above() -> None:
    # Key 60 is a coin; key 50 sounds exactly when key 60 does not: "one or the other", which independent keys
    # cannot say.
    model = _hand_set_top_down({60: 0.0, 50: 20.0}, {(50, 60): -40.0})
    pieces = compose_rolls(model, RollRequest(frames=100, max_notes=0, num_samples=4, seed=0))
    roll = torch.cat([p.roll for p in pieces])
    assert torch.equal(roll[:, 50] ^ roll[:, 60], torch.ones(400, dtype=torch.bool))
    assert 150 < int(roll[:, 60].sum()) < 250
    assert int(roll.sum()) == 400  # nothing else
    for piece in pieces:  # the reported log-probability is the model's, read back over the whole roll at once
        with torch.no_grad():
            nll, _ = frame_nll(model.model(piece.roll.float()[None]), piece.roll.float()[None])
        assert piece.logprob == pytest.approx(-float(nll), abs=1e-3)


def test_a_top_down_harmoniser_hears_the_melody_note_it_harmonises() -> None:
    # Every key pulls up the key a major third below it: the only second voice this model writes is a third under
    # the tune, which it can only do if it reads the tune's note in the same frame.
    model = _hand_set_top_down({}, {(k - 4, k): 40.0 for k in range(4, KEYS)})
    tune = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    voice = pretty_midi.Instrument(0, name="melody")
    voice.notes = [pretty_midi.Note(90, p, i * 0.5, i * 0.5 + 0.5) for i, p in enumerate([72, 74, 76, 77, 79, 77])]
    tune.instruments.append(voice)
    for piece in compose_rolls(model, RollRequest(num_samples=2, particles=4, max_notes=2, seed=1), melody=tune):
        pairs = [tuple(piece.roll[t].nonzero().flatten().tolist()) for t in range(piece.roll.shape[0])]
        assert pairs == [(p - 4 - LOWEST_MIDI, p - LOWEST_MIDI) for p in [72, 74, 76, 77, 79, 77]]


@pytest.mark.parametrize("within", ["independent", "top_down"])
def test_the_melody_likelihood_is_a_distribution_over_top_keys(within: str) -> None:
    # Sequential Monte Carlo weighs candidates by p(the top sounding key is k | past). Over every k and silence
    # those events cover all frames exactly once, so the probabilities must sum to one, for any weights.
    torch.manual_seed(0)
    model = PianoRollModel(PianoRollConfig(cell="gru", hidden_size=8, within_frame=within,
                                           frame_hidden=16 if within == "top_down" else 0)).eval()
    for param in model.parameters():
        torch.nn.init.normal_(param, std=0.4)
    with torch.no_grad():
        model.decoder.bias.fill_(-1.5)  # sparse frames, as music is
    context = torch.randn(3, 8)
    with torch.no_grad():
        logs = torch.stack([_melody_loglik(model, context, key) for key in [*range(KEYS), None]])
    torch.testing.assert_close(logs.exp().sum(0), torch.ones(3), rtol=1e-4, atol=1e-4)


def test_drawing_top_down_uses_the_logits_training_scores() -> None:
    # Key-by-key drawing keeps its own running sums for the hidden layer; what each key is drawn from must be the
    # logit frame_logits gives for the drawn frame, the one training and the reported log-probability use.
    torch.manual_seed(1)
    model = PianoRollModel(PianoRollConfig(cell="lstm", hidden_size=12, within_frame="top_down",
                                           frame_hidden=40)).eval()
    for param in model.frame.parameters():
        torch.nn.init.normal_(param, std=0.5)
    context = torch.randn(6, 12)
    seen = torch.zeros(6, KEYS)

    def choose(key: int, logit: torch.Tensor) -> torch.Tensor:
        seen[:, key] = logit
        return torch.rand(6) < torch.sigmoid(logit)

    with torch.no_grad():
        frame = model.draw_frame(context, choose)
        torch.testing.assert_close(seen, model.frame_logits(context, frame), rtol=1e-5, atol=1e-5)
    assert 0 < int(frame.sum()) < 6 * KEYS


def test_a_top_down_cap_keeps_the_upper_voices() -> None:
    # Five keys are certain to sound; with at most three, a top-down draw stops after the highest three.
    model = _hand_set_top_down({k: 20.0 for k in (40, 44, 47, 52, 56)}, {})
    piece = compose_rolls(model, RollRequest(frames=8, max_notes=3, seed=0))[0]
    assert all(piece.roll[t].nonzero().flatten().tolist() == [47, 52, 56] for t in range(8))
    free = compose_rolls(model, RollRequest(frames=8, max_notes=0, seed=0))[0]
    assert all(free.roll[t].nonzero().flatten().tolist() == [40, 44, 47, 52, 56] for t in range(8))


def test_top_down_coins_come_in_drawing_order() -> None:
    # A frame's coins are drawn at once; they must be the very coins one draw per key, from the top, would give,
    # so a seed means the same music whatever the batching (and as before the coins were drawn at once).
    torch.manual_seed(2)
    net = PianoRollModel(PianoRollConfig(cell="gru", hidden_size=8, within_frame="top_down", frame_hidden=16)).eval()
    for param in net.parameters():
        torch.nn.init.normal_(param, std=0.5)
    context = torch.randn(5, 8)
    melody = torch.tensor([70, -1, 60, 87, 30])
    drawn = _draw_top_down(net, context, 1.3, 3, torch.Generator().manual_seed(9), melody)
    reference = torch.Generator().manual_seed(9)
    count = torch.zeros(5, dtype=torch.long)

    def one_coin_per_key(key: int, logit: torch.Tensor) -> torch.Tensor:
        on = torch.rand(5, generator=reference) < torch.sigmoid(logit / 1.3)
        on = (melody == key) | (on & (key < melody))
        on &= (count < 3) | (melody == key)
        count.add_(on)
        return on

    with torch.no_grad():
        expected = net.draw_frame(context, one_coin_per_key).bool()
    assert torch.equal(drawn, expected)
    assert drawn[1].sum() == 0 and drawn[3, 87] and drawn[0, 70] and not drawn[0, 71:].any()


def test_the_key_can_be_given_when_the_notes_mislead(tmp_path: Path) -> None:
    # "The Ranting Highlandman" (K:G) ends on its third, B, and the estimate from its notes says B: its chords come
    # out in B minor. Given the key, it is harmonised in G.
    from music21 import corpus

    tune = score_to_midi(corpus.parse("airdsAirs/book1.abc", number=1))
    model = load_roll_model("folk")
    estimated = compose_rolls(model, RollRequest(seed=1, particles=8), melody=tune)[0]
    given = compose_rolls(model, RollRequest(seed=1, particles=8, key="G"), melody=tune)[0]
    assert estimated.params["transposed_by"] % 12 == 1 and "key" not in estimated.params  # heard in B
    assert given.params["transposed_by"] % 12 == 5 and given.params["key"] == "G"           # G moved to C
    g_major = {7, 9, 11, 0, 2, 4, 6}
    chords = [n.pitch % 12 for i in given.midi.instruments if i.name == "harmony" for n in i.notes]
    assert sum(pc in g_major for pc in chords) >= 0.9 * len(chords)
    for bad in ("H", "G dorian", ""):
        with pytest.raises(StudioError, match="write a note name"):
            compose_rolls(model, RollRequest(key=bad), melody=tune)
    tune.write(str(tmp_path / "reel.mid"))  # the same from the command line
    assert main(["compose", "--model", "folk", "--melody", str(tmp_path / "reel.mid"), "--key", "Gmaj", "--seed",
                 "1", "--formats", "json", "--out", str(tmp_path / "out")]) == 0
    sidecar = json.loads(next((tmp_path / "out").glob("*.json")).read_text())
    assert sidecar["key"] == "Gmaj" and sidecar["transposed_by"] % 12 == 5
