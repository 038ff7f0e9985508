"""Blues composition end to end: a small chord-conditioned model trained here on the procedural corpus, composing
over charts with a band, and the `studio compose` command with every output format."""

from __future__ import annotations

import json
from pathlib import Path

import pretty_midi
import pytest

from studio.cli import main
from studio.config import GenerationConfig, TrainConfig
from studio.errors import StudioError
from studio.music.leadsheet.composer import Composer, ComposeRequest
from studio.music.leadsheet.procedural import generate_blues_corpus
from studio.music.leadsheet.tokenizer import LeadSheetTokenizer
from studio.music.leadsheet.training import sheets_to_streams, train_leadsheets
from studio.music.theory.chords import STEPS_PER_BAR, blues_chart


@pytest.fixture(scope="module")
def blues_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("blues") / "run"
    sheets = generate_blues_corpus(40, seed=3)
    train_leadsheets(sheets, out, {"hidden_size": 64, "num_layers": 1, "embedding_size": 16},
                     TrainConfig(batch_size=8, seq_len=96, max_steps=60, eval_every=30, warmup_steps=5, lr=5e-3),
                     command="test")
    return out / "best"


def test_streams_align_events_with_chords_and_positions() -> None:
    sheet = generate_blues_corpus(1, seed=0)[0]
    tok = LeadSheetTokenizer()
    streams = sheets_to_streams([sheet], tok)
    n = streams["tokens"].numel()
    assert n == STEPS_PER_BAR + sheet.num_steps
    assert streams["chords"].numel() == n and streams["positions"].numel() == n
    assert streams["positions"][:STEPS_PER_BAR].tolist() == list(range(STEPS_PER_BAR))
    first_chord = sheet.chart.chord_at(0).index
    assert int(streams["chords"][STEPS_PER_BAR]) == first_chord  # the piece starts after its bar of rest


def test_composer_follows_the_chart_and_the_grammar(blues_model: Path) -> None:
    composer = Composer(blues_model)
    chart = blues_chart("12-bar", "Bb")
    pieces = composer.compose(ComposeRequest(chart, choruses=2, tempo=140,
                                             config=GenerationConfig(temperature=0.9, num_samples=3, seed=4)))
    assert len(pieces) == 3
    for piece in pieces:
        assert piece.sheet.chart.num_bars == 24
        assert all(n.end <= 24 * STEPS_PER_BAR for n in piece.sheet.melody)
        starts = [n.start for n in piece.sheet.melody]
        assert starts == sorted(starts)
        assert all(a.end <= b.start for a, b in zip(piece.sheet.melody, piece.sheet.melody[1:], strict=False))
        assert piece.params["seed"] == 4 and piece.params["chart"] == chart.text()
    again = composer.compose(ComposeRequest(chart, choruses=2, tempo=140,
                                            config=GenerationConfig(temperature=0.9, num_samples=3, seed=4)))
    assert [p.sheet.melody for p in again] == [p.sheet.melody for p in pieces]  # seeded


def test_key_lock_and_range_hold(blues_model: Path) -> None:
    composer = Composer(blues_model)
    lock = [0, 3, 5, 6, 7, 10]  # C blues scale
    pieces = composer.compose(ComposeRequest(blues_chart("12-bar", "C"), config=GenerationConfig(
        temperature=1.5, num_samples=4, seed=1), low=55, high=79, key_lock=lock))
    notes = [n for p in pieces for n in p.sheet.melody]
    assert notes
    assert all(55 <= n.pitch <= 79 and n.pitch % 12 in lock for n in notes)
    with pytest.raises(StudioError, match="pitch range"):
        composer.compose(ComposeRequest(blues_chart(), low=10, high=20))


def test_beam_search_composes_too(blues_model: Path) -> None:
    composer = Composer(blues_model)
    pieces = composer.compose(ComposeRequest(blues_chart("8-bar", "F"), config=GenerationConfig(beams=3,
                                                                                               num_samples=2)))
    assert len(pieces) == 2 and pieces[0].logprob >= pieces[1].logprob - 1e-6


def test_metrics_report_novelty_against_the_training_phrases(blues_model: Path) -> None:
    composer = Composer(blues_model)
    assert composer.training_phrases  # stored with the model
    piece = composer.compose(ComposeRequest(blues_chart(), config=GenerationConfig(seed=2)))[0]
    metrics = composer.metrics(piece.sheet)
    for key in ("chord_tone_share", "blues_share", "novelty", "pitch_range", "note_density", "repetition"):
        assert key in metrics


def test_cli_compose_writes_every_format(blues_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "band"
    code = main(["compose", "--model", str(blues_model), "--chart", "jazz", "--key", "Eb", "--tempo", "132",
                 "--swing", "0.66", "--choruses", "1", "-n", "2", "--seed", "7", "--formats",
                 "mid,wav,musicxml,png", "--out", str(out), "--bass", "shuffle", "--no-drums"])
    assert code == 0
    table = capsys.readouterr().out
    assert "chord tones" in table and "novelty" in table
    mids = sorted(out.glob("*.mid"))
    assert len(mids) == 2 and len(list(out.glob("*.wav"))) == 2 and len(list(out.glob("*.musicxml"))) == 2
    assert len(list(out.glob("*.png"))) == 2 and len(list(out.glob("*.json"))) == 2
    midi = pretty_midi.PrettyMIDI(str(mids[0]))
    names = {inst.name for inst in midi.instruments}
    assert "lead" in names and "bass" in names and "drums" not in names
    meta = json.loads(mids[0].with_suffix(".json").read_text())
    assert meta["seed"] == 7 and meta["chart"].startswith("Eb7")


@pytest.mark.parametrize(("argv", "message"), [
    (["--chart", "C7 | Xq7"], "unknown chord symbol 'Xq7'"),
    (["--tempo", "500"], "tempo must be in [20, 400]"),
    (["--swing", "0.9"], "swing must be in [0.5, 0.8]"),
    (["--choruses", "0"], "choruses must be in [1, 64]"),
    (["--formats", "mp3"], "--formats"),
    (["--chart", "nine-bar"], "unknown chord symbol"),
])
def test_cli_compose_refuses_bad_input(blues_model: Path, tmp_path: Path, argv: list[str], message: str,
                                       capsys: pytest.CaptureFixture) -> None:
    code = main(["compose", "--model", str(blues_model), "--out", str(tmp_path / "x"), *argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and message in err[0], err
    assert not (tmp_path / "x").exists()  # nothing written


def test_sparse_lead_sheets_are_left_out_of_training(tmp_path: Path) -> None:
    from studio.music.theory.chords import LeadSheet, Note

    sheets = generate_blues_corpus(6, seed=5)
    placeholder = LeadSheet([Note(60, 0, 4)], blues_chart("12-bar", "C"), 120.0, "chords only")
    result = train_leadsheets([*sheets, placeholder], tmp_path / "run", {"hidden_size": 16, "num_layers": 1},
                              TrainConfig(batch_size=2, seq_len=32, max_steps=2, eval_every=2, warmup_steps=0),
                              command="test")
    card = json.loads((result.best_path / "model.json").read_text())
    assert card["corpus"]["left_out_sparse"] == 1 and card["corpus"]["pieces"] == len(sheets)


def test_finetune_a_blues_model_on_a_folder_of_midi(blues_model: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture) -> None:
    from studio.music.leadsheet.procedural import write_corpus

    folder = tmp_path / "mine"
    write_corpus(generate_blues_corpus(6, seed=9, forms=("minor",)), folder)
    (folder / "broken.mid").write_bytes(b"MThd not really a midi file")
    out = tmp_path / "tuned"
    code = main(["finetune", "--base", str(blues_model), "--corpus", str(folder), "--out", str(out),
                 "--max-steps", "4", "--eval-every", "2", "--batch-size", "2", "--seq-len", "64"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "broken.mid" in err  # reported, not fatal
    card = json.loads((out / "best" / "model.json").read_text())
    assert card["finetuned_from"]["model"] == str(blues_model) and card["model_kind"] == "leadsheet"
    assert Composer(out).compose(ComposeRequest(blues_chart("minor", "A")))[0].sheet.chart.num_bars == 12
