"""The soloist's tempo input: the tokenizer's tempo bands, a base soloist trained before the input grown into one that
reads it (``studio train jazz --init-from``) and starting where it was, and the soloist passing the tempo asked."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
from jazz_support import write_jazz_folder

from studio.checkpoint import Bundle, read_bundle, write_bundle
from studio.cli import main
from studio.config import GenerationConfig, ModelConfig
from studio.errors import StudioError
from studio.loading import grown_weights
from studio.models import RNNLanguageModel
from studio.music.jazz.corpus import Solo, SoloNote
from studio.music.jazz.soloist import Soloist, SoloRequest
from studio.music.jazz.tokenizer import TEMPO_EDGES, JazzTokenizer
from studio.music.theory.chords import NO_CHORD, blues_chart

ROOT = Path(__file__).resolve().parent.parent


def test_tempo_bands_from_ballad_to_burner() -> None:
    tempo_id = JazzTokenizer.tempo_id
    assert tempo_id(None) == 0
    assert tempo_id(60) == 1 and tempo_id(TEMPO_EDGES[0]) == 2 and tempo_id(400) == len(TEMPO_EDGES) + 1
    ids = [tempo_id(t) for t in range(20, 401)]
    assert ids == sorted(ids) and set(ids) == set(range(1, len(TEMPO_EDGES) + 2))
    assert JazzTokenizer().condition_sizes["tempos"] == len(TEMPO_EDGES) + 2
    with pytest.raises(StudioError, match=r"20\.\.400"):
        tempo_id(500)


def test_every_event_of_a_solo_reads_its_tempo() -> None:
    solo = Solo("s", "P", "t", "BEBOP", 250.0, False, [SoloNote(0, 6, 60), SoloNote(12, 6, 62)], [NO_CHORD] * 4,
                [0], "wjd")
    tok = JazzTokenizer()
    assert set(tok.encode(solo).conditions["tempos"][1:]) == {tok.tempo_id(250.0)}
    assert set(tok.encode(solo, tempo=False).conditions["tempos"]) == {0}


def _config(conditions: tuple) -> ModelConfig:
    return ModelConfig(vocab_size=20, cell="lstm", num_layers=2, embedding_size=6, hidden_size=10,
                       conditions=conditions)


def test_grown_weights_compute_what_the_base_did_and_can_learn_the_new_input() -> None:
    torch.manual_seed(0)
    base = RNNLanguageModel(_config((("styles", 9, 2),))).eval()
    grown = RNNLanguageModel(_config((("styles", 9, 2), ("tempos", 14, 3)))).eval()
    grown.load_state_dict(grown_weights(grown.state_dict(), base.state_dict()))
    tokens = torch.randint(0, 20, (2, 5))
    styles = torch.randint(0, 9, (2, 5))
    want = base(tokens, styles=styles)[0]
    for tempo in (0, 5, 13):
        assert torch.allclose(grown(tokens, styles=styles, tempos=torch.full((2, 5), tempo))[0], want)
    # the new input's table is a fresh one (not zero), so its columns get a gradient and it learns
    grown.train()
    grown(tokens, styles=styles, tempos=torch.full((2, 5), 4))[0].sum().backward()
    assert grown.rnn.weight_ih_l0.grad[:, -3:].abs().sum() > 0
    with pytest.raises(StudioError, match="does not fit"):
        grown_weights(base.state_dict(), grown.state_dict())


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return write_jazz_folder(tmp_path_factory.mktemp("jazz"), solos=8)


def _without_tempo(model: Path, out: Path) -> Path:
    """The bundle as a soloist trained before the tempo input: no tempo table, no tempo columns."""
    bundle = read_bundle(model)
    config = bundle.card["model_config"]
    width = next(w for name, _, w in config["conditions"] if name == "tempos")
    config["conditions"] = [entry for entry in config["conditions"] if entry[0] != "tempos"]
    weights = {k: v for k, v in bundle.weights.items() if "tempos" not in k}
    weights["rnn.weight_ih_l0"] = weights["rnn.weight_ih_l0"][:, :-width].contiguous()
    write_bundle(out, Bundle(bundle.card, weights, extras=bundle.extras))
    return out


def test_init_from_a_soloist_without_tempo_adds_it_and_starts_where_it_was(folder, tmp_path, capsys) -> None:
    common = ["--corpus", str(folder), "--batch-size", "4", "--seq-len", "32", "--warmup", "2", "--device", "cpu",
              "--seed", "3"]
    first = tmp_path / "first"
    assert main(["train", "jazz", *common, "--out", str(first), "--hidden", "16", "--embedding", "8",
                 "--max-steps", "6", "--eval-every", "6"]) == 0
    card = json.loads((first / "best" / "model.json").read_text())
    assert ["tempos", len(TEMPO_EDGES) + 2, 8] in card["model_config"]["conditions"]  # a new soloist reads it
    old = _without_tempo(first / "best", tmp_path / "old")
    old_model = Soloist(old).loaded.model
    assert "tempos" not in old_model.condition_tables
    capsys.readouterr()
    grown = tmp_path / "grown"
    assert main(["train", "jazz", *common, "--out", str(grown), "--init-from", str(old), "--max-steps", "4",
                 "--eval-every", "4", "--lr", "1e-2", "--add-inputs", "tempos"]) == 0
    out = "".join(capsys.readouterr())
    assert "base model on this validation data" in out  # measured first (the grown model computes the base's)
    config = json.loads((grown / "best" / "model.json").read_text())["model_config"]
    assert config["conditions"][-1] == ["tempos", len(TEMPO_EDGES) + 2, 8]
    model = Soloist(grown / "best").loaded.model
    assert model.rnn.weight_ih_l0[:, -8:].abs().sum() > 0  # it learned to read the tempo
    same = tmp_path / "same"  # without --add-inputs the base's inputs are kept (the control of a comparison)
    assert main(["train", "jazz", *common, "--out", str(same), "--init-from", str(old), "--max-steps", "2",
                 "--eval-every", "2"]) == 0
    assert "tempos" not in Soloist(same / "best").loaded.model.condition_tables
    assert main(["train", "jazz", *common, "--out", str(tmp_path / "x"), "--init-from", str(old),
                 "--add-inputs", "tempo"]) == 2  # names the inputs it knows


def test_the_soloist_plays_at_the_tempo_asked(folder, tmp_path) -> None:
    run = tmp_path / "run"
    assert main(["train", "jazz", "--corpus", str(folder), "--out", str(run), "--hidden", "16", "--embedding", "8",
                 "--batch-size", "4", "--seq-len", "32", "--max-steps", "4", "--eval-every", "4", "--warmup", "2",
                 "--device", "cpu", "--seed", "3"]) == 0
    soloist = Soloist(run / "best")
    config = GenerationConfig(seed=5, num_samples=2)
    slow, fast = (soloist.improvise(SoloRequest(blues_chart("12-bar", "F"), 1, tempo, config=config))
                  for tempo in (70, 280))
    assert [s.notes for s in slow] != [s.notes for s in fast]  # the same seed, another tempo: another line
    with pytest.raises(StudioError, match="tempo"):
        soloist.improvise(SoloRequest(blues_chart("12-bar", "F"), 1, 500, config=config))
    # benchmarks/jazz_tempo.py: the lines by tempo band beside the real solos'
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import jazz_tempo
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    out = tmp_path / "tempo.json"
    assert jazz_tempo.main(["--corpus", str(folder), "--split", "valid", "--model", str(run / "best"),
                            "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    real = [row for row in report["table"]["real solos"].values() if row]
    assert real and all(row["notes_per_bar"] > 0 for row in real)
    assert set(report["mean_relative_error"][str(run / "best")]) == set(jazz_tempo.SHOWN)
