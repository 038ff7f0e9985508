"""The CP-LSTM and LN-LSTM wherever a cell is chosen: the language model (conditioned as the lead-sheet and jazz
models are: chords, next chords, bar positions, other streams; tying; weight drop), its one-token stepper, the
piano-roll model, checkpoint bundles, and the ``studio`` commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from studio.checkpoint import Bundle, read_bundle, write_bundle
from studio.cli import main
from studio.config import ModelConfig
from studio.errors import StudioError
from studio.loading import build_model, model_weights
from studio.models import PianoRollConfig, PianoRollModel, RNNLanguageModel, SingleStepper

NEW = ("cplstm", "lnlstm")


def _model(cell: str, **overrides) -> RNNLanguageModel:
    torch.manual_seed(0)
    fields = {"vocab_size": 30, "cell": cell, "num_layers": 2, "embedding_size": 8, "hidden_size": 16,
              "chord_vocab_size": 5, "chord_features": 7, "chord_embedding": 4, "bar_positions": 16,
              "position_embedding": 3, "next_chord": True, "conditions": (("styles", 3, 2),)} | overrides
    model = RNNLanguageModel(ModelConfig(**fields))
    with torch.no_grad():  # away from the init, so gains of 1 and zero shifts cannot hide a mistake
        for param in model.rnn.parameters():
            param.add_(0.2 * torch.randn_like(param))
    if model.config.chord_vocab_size:
        model.set_chord_features(torch.rand(5, 7))
    return model.eval()


def _streams(batch: int = 3, steps: int = 6, seed: int = 1) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return {"tokens": torch.randint(30, (batch, steps), generator=gen),
            "chords": torch.randint(5, (batch, steps), generator=gen),
            "next_chords": torch.randint(5, (batch, steps), generator=gen),
            "positions": torch.randint(16, (batch, steps), generator=gen),
            "styles": torch.randint(3, (batch, steps), generator=gen)}


@pytest.mark.parametrize("cell", NEW)
def test_conditioned_language_model_state_is_h_and_c_and_carries(cell: str) -> None:
    model = _model(cell)
    s = _streams(steps=8)
    with torch.no_grad():
        whole, state = model(**s)
        first, mid = model(**{k: v[:, :3] for k, v in s.items()})
        second, _ = model(**{k: v[:, 3:] for k, v in s.items()}, state=mid)
        other_chords, _ = model(**(s | {"chords": (s["chords"] + 1) % 5}))
    assert whole.shape == (3, 8, 30) and len(state) == 2 and state[1].shape == (2, 3, 16)
    torch.testing.assert_close(torch.cat([first, second], dim=1), whole, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(other_chords, whole)  # the chords reach the cell


@pytest.mark.parametrize("cell", NEW)
@pytest.mark.parametrize("tie", [False, True])
def test_single_stepper_gives_the_modules_logits(cell: str, tie: bool) -> None:
    model = _model(cell, tie_weights=tie, embedding_size=16 if tie else 8)
    s = _streams()
    with torch.no_grad():
        expected, _ = model(**s)
        _, state = model(**{k: v[:, :1] for k, v in s.items()})
        stepper = SingleStepper(model)
        for t in range(1, 6):
            logits, state = stepper(s["tokens"][:, t:t + 1], state, s["chords"][:, t:t + 1],
                                    s["positions"][:, t:t + 1], styles=s["styles"][:, t:t + 1],
                                    next_chords=s["next_chords"][:, t:t + 1])
            torch.testing.assert_close(logits, expected[:, t], rtol=1e-5, atol=1e-5)
        fast = SingleStepper(model, torch.bfloat16)
        _, state = model(**{k: v[:, :1] for k, v in s.items()})
        logits, _ = fast(s["tokens"][:, 1:2], fast.convert_state(state), s["chords"][:, 1:2], s["positions"][:, 1:2],
                         styles=s["styles"][:, 1:2], next_chords=s["next_chords"][:, 1:2])
        assert torch.allclose(logits, expected[:, 1], atol=0.1)


@pytest.mark.parametrize("cell", NEW)
def test_weight_drop_in_the_language_model_only_while_training(cell: str) -> None:
    model = _model(cell, weight_drop=0.5, chord_vocab_size=0, chord_features=0, chord_embedding=0,
                   bar_positions=0, position_embedding=0, next_chord=False, conditions=())
    tokens = _streams()["tokens"]
    with torch.no_grad():
        assert torch.equal(model(tokens)[0], model(tokens)[0])  # evaluation reads the weights as they are
    model.train()
    first = model(tokens)[0]
    assert not torch.allclose(first, model(tokens)[0])  # a fresh mask each forward pass
    first.sum().backward()
    assert 0.3 < (model.rnn.weight_hh_l0.grad == 0).float().mean() < 0.7


@pytest.mark.parametrize("cell", NEW)
def test_language_model_bundle_round_trip_and_lean_card(cell: str, tmp_path: Path) -> None:
    model = _model(cell)
    card = {"model_config": model.config.to_dict()}
    assert card["model_config"]["cell"] == cell and "weight_drop" not in card["model_config"]
    write_bundle(tmp_path / "m", Bundle(card, model_weights(model)))
    again = build_model(ModelConfig.from_dict(read_bundle(tmp_path / "m").card["model_config"]),
                        read_bundle(tmp_path / "m").weights).eval()
    s = _streams()
    with torch.no_grad():
        assert torch.equal(again(**s)[0], model(**s)[0])
    lstm_weights = model_weights(_model("lstm"))
    with pytest.raises(StudioError, match="do not fit"):  # an LSTM's tensors under a card that says otherwise
        build_model(model.config, lstm_weights)


@pytest.mark.parametrize("cell", NEW)
def test_piano_roll_model_with_the_new_cells(cell: str) -> None:
    torch.manual_seed(0)
    model = PianoRollModel(PianoRollConfig(cell=cell, hidden_size=12, num_layers=2, dropout_between=0.1,
                                           within_frame="top_down", frame_hidden=6)).eval()
    rolls = (torch.rand(2, 9, 88) < 0.05).float()
    with torch.no_grad():
        logits = model(rolls)
        # Reading frame by frame (as composing does) gives what one call gives.
        context, state = model.read(model.shifted_inputs(rolls)[:, :4])
        rest, _ = model.read(rolls[:, 3:8], state, start=4)
    assert logits.shape == (2, 9, 88)
    torch.testing.assert_close(model.frame_logits(torch.cat([context, rest], 1), rolls[:, :9]), logits,
                               rtol=1e-5, atol=1e-5)
    assert isinstance(state, tuple) and len(state) == 2


@pytest.mark.parametrize(("config", "field"), [(ModelConfig, "cell"), (PianoRollConfig, "cell")])
def test_an_unknown_cell_is_refused_naming_the_choices(config, field) -> None:
    with pytest.raises(StudioError, match="cell must be one of rnn, lstm, gru, cplstm, lnlstm; got 'peephole'"):
        config(**{field: "peephole"})


# -- the commands ----------------------------------------------------------------------------------------------------
def test_train_write_and_eval_a_text_model_with_the_lnlstm(tmp_path: Path, capsys) -> None:
    corpus = tmp_path / "verse.txt"
    corpus.write_text("Shall I compare thee to a summer's day? Thou art more lovely and more temperate.\n" * 40)
    out = tmp_path / "run"
    assert main(["train", "text", "--corpus", str(corpus), "--out", str(out), "--cell", "lnlstm", "--tokenizer", "char",
                 "--hidden", "16", "--layers", "2", "--embedding", "8", "--batch-size", "4", "--seq-len", "16",
                 "--max-steps", "4", "--eval-every", "4", "--warmup", "0", "--weight-drop", "0.2",
                 "--device", "cpu"]) == 0
    card = json.loads((out / "best" / "model.json").read_text())
    assert card["model_config"]["cell"] == "lnlstm" and card["model_config"]["weight_drop"] == 0.2
    capsys.readouterr()
    assert main(["write", "--model", str(out / "best"), "--prompt", "Shall", "--length", "20", "--seed", "3",
                 "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["texts"][0].startswith("Shall") and len(result["texts"][0]) == 25
    assert main(["eval", "--model", str(out / "best"), "--corpus", str(corpus), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["nats_per_token"] > 0


def test_train_rolls_with_the_cplstm_and_compose(tmp_path: Path, capsys) -> None:
    chords = [[60, 64, 67], [62, 65, 69], [59, 62, 67], [60, 64, 67]]
    pieces = [[chords[(i + j) % 4] for j in range(12)] for i in range(4)]
    data = tmp_path / "tiny.json"
    data.write_text(json.dumps({"train": pieces[:3], "valid": pieces[3:], "test": pieces[3:]}))
    out = tmp_path / "rolls"
    assert main(["train", "rolls", "--data", str(data), "--out", str(out), "--cell", "cplstm", "--hidden", "8",
                 "--max-epochs", "2", "--minutes", "0", "--threads", "1"]) == 0
    assert json.loads((out / "best" / "model.json").read_text())["model_config"]["cell"] == "cplstm"
    assert main(["compose", "--model", str(out / "best"), "--frames", "6", "--seed", "1", "--formats", "mid",
                 "--out", str(tmp_path / "music")]) == 0
    assert len(list((tmp_path / "music").glob("*.mid"))) == 1


@pytest.mark.parametrize("command", [["train", "text", "--corpus", "x.txt"], ["train", "rolls", "--data", "x.json"]])
def test_cli_refuses_an_unknown_cell_in_one_line(command: list[str], capsys) -> None:
    assert main([*command, "--cell", "peephole"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cplstm, lnlstm" in err and "Traceback" not in err
