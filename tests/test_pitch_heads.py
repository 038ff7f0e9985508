"""The pitch heads of a music model (``ModelConfig.pitch_heads``): key-free scores of each pitch by its interval above
the chord's root and from the last note, what they add to the logits, the one-step path, the soloist's stream of
last notes, and a jazz model given heads it lacked (``studio train jazz --init-from``) starting where it was."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
from jazz_support import write_jazz_folder

from studio.cli import main
from studio.config import GenerationConfig, ModelConfig
from studio.errors import StudioError
from studio.models import RNNLanguageModel, SingleStepper
from studio.music.jazz.corpus import Solo, SoloNote
from studio.music.jazz.soloist import Soloist, SoloRequest
from studio.music.jazz.streams import chord_feature_table
from studio.music.jazz.tokenizer import JazzTokenizer
from studio.music.theory.chords import CHORD_VOCAB, NO_CHORD, blues_chart, parse_chord

ROOT = Path(__file__).resolve().parent.parent
LOW, COUNT, FIRST = 40, 30, 2  # pitches 40..69 are tokens 2..31 of a 40-token vocabulary


def _config(**extra) -> ModelConfig:
    return ModelConfig(vocab_size=40, cell="lstm", num_layers=2, embedding_size=6, hidden_size=10,
                       chord_vocab_size=len(CHORD_VOCAB), chord_features=37, chord_embedding=4, bar_positions=48,
                       position_embedding=3, pitch_tokens=(FIRST, COUNT, LOW), **extra)


def _model(heads: tuple[str, ...]) -> RNNLanguageModel:
    torch.manual_seed(0)
    model = RNNLanguageModel(_config(pitch_heads=heads)).eval()
    model.set_chord_features(chord_feature_table())
    return model


def _inputs(batch: int = 3, time: int = 7) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    generator = torch.Generator().manual_seed(1)
    tokens = torch.randint(0, 40, (batch, time), generator=generator)
    cond = {"chords": torch.randint(0, len(CHORD_VOCAB), (batch, time), generator=generator),
            "positions": torch.randint(0, 48, (batch, time), generator=generator),
            "last_pitches": torch.randint(0, 129, (batch, time), generator=generator)}
    cond["last_pitches"][:, 0] = 0  # no note yet
    return tokens, cond


def test_heads_start_at_zero_so_a_model_plays_as_it_did() -> None:
    plain, headed = _model(()), _model(("chord", "interval"))
    headed.load_state_dict({**headed.state_dict(), **plain.state_dict()})
    tokens, cond = _inputs()
    assert torch.equal(plain(tokens, **cond)[0], headed(tokens, **cond)[0])


def test_the_one_step_path_adds_the_same_scores() -> None:
    model = _model(("chord", "interval"))
    torch.nn.init.normal_(model.chord_head.weight)
    torch.nn.init.normal_(model.interval_head.weight)
    tokens, cond = _inputs()
    full, _ = model(tokens, **cond)
    stepper = SingleStepper(model)
    state = model.initial_state(tokens.shape[0])
    for t in range(tokens.shape[1]):
        logits, state = stepper(tokens[:, t:t + 1], state, **{k: v[:, t:t + 1] for k, v in cond.items()})
        assert torch.allclose(logits, full[:, t], atol=1e-5)


def test_the_chord_head_scores_a_pitch_by_its_interval_above_the_root() -> None:
    model = _model(("chord",))
    with torch.no_grad():
        model.chord_head.bias[4] = 3.0  # the major third above the root
    hidden = torch.zeros(2, 10)
    chords = torch.tensor([parse_chord("D7").index, NO_CHORD.index])
    scores = model.pitch_scores(hidden, chords, None)
    assert scores.shape == (2, 40)
    scored = [FIRST + i for i in range(COUNT) if (LOW + i) % 12 == 6]  # every F sharp, the third of D7
    assert torch.nonzero(scores[0]).flatten().tolist() == scored and torch.all(scores[0, scored] == 3.0)
    assert not scores[1].any()  # no chord, no root: nothing


def test_the_interval_head_scores_from_the_last_note_and_not_before_the_first() -> None:
    model = _model(("interval",))
    with torch.no_grad():
        model.interval_head.bias[24 - 2] = 1.0  # a whole step down
        model.interval_head.bias[49] = -5.0  # further than two octaves
    hidden = torch.zeros(3, 10)
    scores = model.pitch_scores(hidden, None, torch.tensor([64 + 1, 0, 41 + 1]))
    assert scores[0, FIRST + 62 - LOW] == 1.0 and (scores[0] == 1.0).sum() == 1
    assert not scores[1].any()  # no note played yet
    assert scores[2, FIRST + 65 - LOW] == 0.0 and scores[2, FIRST + 66 - LOW] == -5.0  # two octaves up, then further
    far = ModelConfig.from_dict({**_config().to_dict(), "vocab_size": 70, "pitch_tokens": [2, 60, 10],
                                 "pitch_heads": ["interval"]})
    wide = RNNLanguageModel(far)
    with torch.no_grad():
        wide.interval_head.bias[49] = -5.0
    assert wide.pitch_scores(torch.zeros(1, 10), None, torch.tensor([10 + 1]))[0, 2 + 25] == -5.0  # 25 up


def test_bad_pitch_head_settings_name_what_is_wrong() -> None:
    with pytest.raises(StudioError, match="pitch head must be one of chord, interval"):
        _config(pitch_heads=("melody",))
    with pytest.raises(StudioError, match="pitch_tokens"):
        ModelConfig(vocab_size=40, pitch_heads=("interval",))
    with pytest.raises(StudioError, match="needs chord conditioning"):
        ModelConfig(vocab_size=40, pitch_heads=("chord",), pitch_tokens=(2, 30, 40))
    with pytest.raises(StudioError, match="first id"):
        ModelConfig(vocab_size=40, pitch_heads=("interval",), pitch_tokens=(20, 30, 40))
    with pytest.raises(ValueError, match="last_pitches"):
        tokens, cond = _inputs()
        _model(("interval",))(tokens, **{k: v for k, v in cond.items() if k != "last_pitches"})


def test_a_card_names_the_heads_only_when_a_model_has_them() -> None:
    assert "pitch_heads" not in _config().to_dict() and "pitch_tokens" in _config().to_dict()
    data = json.loads(json.dumps(_config(pitch_heads=("chord",)).to_dict()))
    assert ModelConfig.from_dict(data) == _config(pitch_heads=("chord",))


def test_the_soloist_stream_carries_the_last_note_over_rests() -> None:
    tok = JazzTokenizer()
    beats = [parse_chord("C7")] * 8
    solo = Solo("x", "Test", "t", "BEBOP", 160.0, False,
                [SoloNote(0, 6, 60), SoloNote(6, 6, 62), SoloNote(24, 6, 65)], beats, [0, 1])
    events = tok.encode(solo)
    # BOS, then (60), (62), a rest, (65): each event's two tokens carry the note before it
    assert events.conditions["last_pitches"] == [0, 0, 0, 61, 61, 63, 63, 63, 63]


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return write_jazz_folder(tmp_path_factory.mktemp("jazz"), solos=8)


def test_init_from_adds_heads_to_a_model_and_starts_where_it_was(folder, tmp_path, capsys) -> None:
    """studio train jazz --init-from BASE: the base's shape, tokenizer and weights, the heads added at zero, so the
    base's validation loss is the run's first figure; then it trains and plays."""
    common = ["--corpus", str(folder), "--batch-size", "4", "--seq-len", "32", "--warmup", "2", "--device", "cpu",
              "--seed", "3"]
    base = tmp_path / "plain"
    assert main(["train", "jazz", *common, "--out", str(base), "--hidden", "16", "--embedding", "8",
                 "--max-steps", "6", "--eval-every", "6", "--pitch-heads", "none"]) == 0
    base_card = json.loads((base / "best" / "model.json").read_text())
    assert "pitch_heads" not in base_card["model_config"]
    capsys.readouterr()
    headed = tmp_path / "headed"
    assert main(["train", "jazz", *common, "--out", str(headed), "--init-from", str(base / "best"),
                 "--pitch-heads", "chord,interval", "--max-steps", "4", "--eval-every", "4", "--hidden", "99"]) == 0
    captured = capsys.readouterr()
    out = captured.out + captured.err
    card = json.loads((headed / "best" / "model.json").read_text())
    config = card["model_config"]
    assert config["pitch_heads"] == ["chord", "interval"] and config["hidden_size"] == 16  # the base's shape
    assert config["pitch_tokens"] == [2, 74, 30]
    assert card["finetuned_from"]["model"] == str(base / "best")
    assert f"{base_card['metrics']['valid_nats_per_token']:.4f}" in out  # the base's figure, measured first
    soloist = Soloist(headed / "best")
    assert soloist.loaded.model.interval_head.weight.abs().sum() > 0  # it learned
    solos = soloist.improvise(SoloRequest(blues_chart("12-bar", "F"), 1, 160, config=GenerationConfig(seed=1)))
    assert solos[0].notes
    assert main(["train", "jazz", *common, "--out", str(tmp_path / "x"), "--pitch-heads", "melody"]) == 2
    # from a model that has heads, asking for none keeps them (and its weights)
    again = tmp_path / "again"
    assert main(["train", "jazz", *common, "--out", str(again), "--init-from", str(headed / "best"),
                 "--max-steps", "2", "--eval-every", "2"]) == 0
    assert json.loads((again / "best" / "model.json").read_text())["model_config"]["pitch_heads"] == ["chord",
                                                                                                     "interval"]
    # benchmarks/jazz_chord_tones.py: the chord tones it expects before each real note, beside the players' share
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import jazz_chord_tones
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    shares = jazz_chord_tones.chord_tone_shares(str(headed / "best"), str(folder), "train", 3)
    assert shares["solos"] == 3 and shares["notes"] > 100
    assert 0.0 < shares["expected_chord_tones"] < 1.0 and 0.0 < shares["real_chord_tones"] <= 1.0
