"""``studio eval`` for every kind of model: the loss in the kind's own unit, the items scored, the files skipped
with their reasons, one line or JSON; a corpus of the wrong kind says what the model reads; a new family plugs in
with one entry of ``studio.cli.scoring.SCORERS``.

The models are the tiny local ones of ``ui_support`` (trained here in seconds); the corpora are written here.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from ui_support import blues_midis, chord_piece, tiny_runs

from studio.cli import main
from studio.cli.scoring import READS, SCORERS

REPO = Path(__file__).resolve().parent.parent
SHARED_JSB = REPO.parent / "shared" / "corpora" / "polyphonic" / "json" / "jsb_chorales.json"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_runs(tmp_path_factory.getbasetemp())


def _eval(capsys: pytest.CaptureFixture, *args: object) -> tuple[int, str, str]:
    code = main(["eval", *map(str, args), "--device", "cpu"])
    out, err = capsys.readouterr()
    return code, out, err


def _music(folder: Path, broken: bool = True) -> Path:
    folder.mkdir(parents=True)
    for i in range(3):
        chord_piece(i + 5, bars=4).write(str(folder / f"piece{i}.mid"))
    if broken:
        (folder / "broken.mid").write_bytes(b"MThd and nothing a MIDI reader can use")
    return folder


def test_a_piano_roll_model_on_a_json_data_set_scores_its_test_split(runs: Path, tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture) -> None:
    from studio.music.pianoroll.compose import load_roll_model
    from studio.music.pianoroll.training import evaluate_rolls, load_splits

    chords = [[60, 64, 67], [62, 65, 69], [], [59, 62, 67, 74]]
    data = {"train": [chords * 3], "valid": [chords * 2], "test": [chords * 4, chords[::-1] * 2]}
    path = tmp_path / "set.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    code, out, err = _eval(capsys, "--model", runs / "tiny-rolls", "--corpus", path, "--json")
    assert code == 0, err
    report = json.loads(out)
    expected = evaluate_rolls(load_roll_model(runs / "tiny-rolls").model, load_splits(path)["test"])
    assert report["unit"] == "nats_per_frame" and report["nats_per_frame"] == pytest.approx(expected, abs=1e-6)
    assert (report["split"], report["items"], report["item"], report["frames"]) == ("test", 2, "pieces", 24)
    assert report["skipped"] == [] and report["moved_to_model_key"] is False
    code, out, _ = _eval(capsys, "--model", runs / "tiny-rolls", "--corpus", path, "--split", "valid")
    assert code == 0 and "nats/frame over 1 pieces (8 frames; valid split)" in out
    del data["test"]
    path.write_text(json.dumps({**data, "test": []}), encoding="utf-8")
    code, out, _ = _eval(capsys, "--model", runs / "tiny-rolls", "--corpus", path, "--json")
    assert code == 0 and json.loads(out)["split"] == "all" and json.loads(out)["items"] == 2  # no test split


@pytest.mark.parametrize(("model", "unit", "item"), [("tiny-rolls", "nats_per_frame", "pieces"),
                                                     ("tiny-chorale", "nats_per_token", "pieces")])
def test_music_models_score_a_folder_and_list_what_they_skipped(model: str, unit: str, item: str, runs: Path,
                                                                tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    folder = _music(tmp_path / "music")
    code, out, err = _eval(capsys, "--model", runs / model, "--corpus", folder, "--json")
    assert code == 0, err
    report = json.loads(out)
    # A barely trained tiny model: near chance (88 keys x ln 2 = 61 nats a frame; ln of REMI's vocabulary a token).
    assert report["unit"] == unit and 0 < report[unit] < 100 and (report["items"], report["item"]) == (3, item)
    assert [Path(e["file"]).name for e in report["skipped"]] == ["broken.mid"] and report["skipped"][0]["reason"]
    assert "note: skipped" in err and "broken.mid" in err
    code, out, _ = _eval(capsys, "--model", runs / model, "--corpus", folder)
    assert code == 0 and len(out.strip().splitlines()) == 1
    assert f"over 3 {item}" in out and "1 file(s) skipped" in out and unit.replace("nats_per_", "nats/") in out
    code, _, err = _eval(capsys, "--model", runs / model, "--corpus", folder, "--split", "test")
    assert code == 2 and "no 'test' split" in err


def test_a_lead_sheet_model_scores_lead_sheets_per_step_and_per_note(runs: Path, tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture) -> None:
    folder = tmp_path / "sheets"
    sheets = len(blues_midis(folder, 3, seed=8))
    (folder / "empty.mid").write_bytes(b"")
    code, out, err = _eval(capsys, "--model", runs / "tiny-blues", "--corpus", folder, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["unit"] == "nats_per_step" and (report["items"], report["item"]) == (sheets, "lead sheets")
    # The same nats over fewer notes than steps: the per-note figure is the larger.
    assert report["notes"] < report["steps"] and report["nats_per_note"] > report["nats_per_step"] > 0
    assert [Path(e["file"]).name for e in report["skipped"]] == ["empty.mid"]
    code, out, _ = _eval(capsys, "--model", runs / "tiny-blues", "--corpus", folder)
    assert code == 0 and "nats/step, " in out and f"nats/note over {sheets} lead sheets" in out


@pytest.mark.parametrize(("model", "corpus", "says"), [
    ("tiny-rolls", "text", "is a music model (a piano-roll harmoniser) and reads a JSON data set"),
    ("tiny-chorale", "text", "is a music model (polyphonic, REMI) and reads MIDI, MusicXML, ABC or kern files"),
    ("tiny-blues", "text", "reads lead sheets: MIDI with a melody and a chord track"),
    ("tiny-text", "music", "is a text model and reads text files (.txt, .md")])
def test_a_corpus_of_the_wrong_kind_says_what_the_model_reads(model: str, corpus: str, says: str, runs: Path,
                                                              tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    if corpus == "text":
        folder = tmp_path / "poems"
        folder.mkdir()
        (folder / "a.txt").write_text("Shall I compare thee to a summer's day?\n", encoding="utf-8")
    else:
        folder = _music(tmp_path / "music", broken=False)
    code, out, err = _eval(capsys, "--model", runs / model, "--corpus", folder)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert says in err and f"{folder} holds none of those" in err


def test_text_options_are_for_text_models(runs: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    folder = _music(tmp_path / "music", broken=False)
    code, _, err = _eval(capsys, "--model", runs / "tiny-rolls", "--corpus", folder, "--streams", "8")
    assert code == 2 and "--streams is for text models; " in err and "piano-roll harmoniser" in err


def score_toy(model: str, corpus: str, split: str, device: str) -> dict:
    """A family's scorer, as small as the contract allows: the number of files in the corpus, per file."""
    files = sorted(p.name for p in Path(corpus).iterdir())
    return {"unit": "files_per_file", "files_per_file": 1.0, "items": len(files), "item": "files",
            "split": split, "skipped": [["odd.bin", "not a toy file"]]}


def test_a_new_family_plugs_in_with_one_entry(runs: Path, tmp_path: Path, capsys: pytest.CaptureFixture,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    toy = tmp_path / "toy-model"
    shutil.copytree(runs / "tiny-text" / "best", toy)
    card = json.loads((toy / "model.json").read_text(encoding="utf-8"))
    (toy / "model.json").write_text(json.dumps({**card, "model_kind": "toy"}), encoding="utf-8")
    code, _, err = _eval(capsys, "--model", toy, "--corpus", tmp_path)
    assert code == 2 and "no scorer for that kind" in err and "piano_roll" in err
    monkeypatch.setitem(SCORERS, "toy", ("test_eval", "score_toy"))
    code, out, err = _eval(capsys, "--model", toy, "--corpus", tmp_path, "--split", "test")
    assert code == 0, err
    assert out.strip() == "1.0000 files/file over 1 files (test split; 1 file(s) skipped)"
    assert "note: skipped odd.bin: not a toy file" in err
    code, _, err = _eval(capsys, "--model", toy, "--corpus", tmp_path, "--valid-fraction", "0.2")
    assert code == 2 and "--valid-fraction is for text models; " in err and "a toy model" in err


def test_every_kind_has_a_scorer_and_says_what_it_reads() -> None:
    from studio.music.io.file_types import IMPRO_VISOR_SUFFIXES, MIDI_SUFFIXES, MUSIC21_SUFFIXES
    from studio.text.corpus import TEXT_SUFFIXES
    from studio.ui.model_cache import KINDS

    assert {"text", "leadsheet", "polyphonic", "piano_roll"} <= set(KINDS) & set(SCORERS)
    assert set(SCORERS) <= set(READS)  # every kind that can be scored says what it reads
    assert set(READS["text"][2]) == {*TEXT_SUFFIXES, ".zip"}
    assert set(READS["leadsheet"][2]) == {*MIDI_SUFFIXES, *MUSIC21_SUFFIXES, *IMPRO_VISOR_SUFFIXES}


@pytest.mark.skipif(not SHARED_JSB.exists(), reason="../shared/corpora is not here (a fresh clone)")
def test_the_shipped_jsb_card_figure_comes_back_from_studio_eval(capsys: pytest.CaptureFixture) -> None:
    from studio.loading import read_card

    code, out, err = _eval(capsys, "--model", "jsb", "--corpus", SHARED_JSB, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["split"] == "test" and report["items"] == 77
    card = read_card(REPO / "checkpoints" / "jsb")
    assert report["nats_per_frame"] == pytest.approx(card["metrics"]["test_nats_per_frame"], abs=1e-3)
