"""Config dataclasses: range checks with actionable messages, and lossless to_dict/from_dict round trips."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from studio.config import (
    MAX_GENERATION_LENGTH,
    GenerationConfig,
    ModelConfig,
    TokenizerConfig,
    TrainConfig,
    check_choice,
    check_range,
)
from studio.errors import StudioError

CONFIGS = (ModelConfig, TokenizerConfig, TrainConfig, GenerationConfig)

# (config class, bad settings, the field name the message must contain, the valid range it must state)
BAD = [
    (ModelConfig, {"vocab_size": 1}, "vocab_size", "[2,"),
    (ModelConfig, {"vocab_size": 20_000_000}, "vocab_size", "[2,"),
    (ModelConfig, {"cell": "transformer"}, "cell", "rnn, lstm, gru"),
    (ModelConfig, {"num_layers": 0}, "num_layers", "[1, 16]"),
    (ModelConfig, {"num_layers": 17}, "num_layers", "[1, 16]"),
    (ModelConfig, {"embedding_size": 0}, "embedding_size", "[1, 65536]"),
    (ModelConfig, {"hidden_size": 0}, "hidden_size", "[1, 65536]"),
    (ModelConfig, {"hidden_size": 70_000}, "hidden_size", "[1, 65536]"),
    (ModelConfig, {"dropout_embedding": -0.1}, "dropout_embedding", "[0, 0.95]"),
    (ModelConfig, {"dropout_between": 0.96}, "dropout_between", "[0, 0.95]"),
    (ModelConfig, {"dropout_output": 1.0}, "dropout_output", "[0, 0.95]"),
    (ModelConfig, {"forget_bias": 11.0}, "forget_bias", "[-10, 10]"),
    (ModelConfig, {"forget_bias": -10.5}, "forget_bias", "[-10, 10]"),
    (TokenizerConfig, {"kind": "sentencepiece"}, "tokenizer", "char, word, bpe"),
    (TokenizerConfig, {"vocab_size": 259}, "vocab_size", "[260,"),
    (TokenizerConfig, {"min_count": 0}, "min_count", "[1,"),
    (TrainConfig, {"batch_size": 0}, "batch_size", "[1, 65536]"),
    (TrainConfig, {"seq_len": 0}, "seq_len", "[1, 100000]"),
    (TrainConfig, {"lr": 0.0}, "lr", "(0, 100]"),
    (TrainConfig, {"lr": 101.0}, "lr", "(0, 100]"),
    (TrainConfig, {"optimizer": "adam"}, "optimizer", "adamw, sgd"),
    (TrainConfig, {"momentum": 1.0}, "momentum", "[0, 0.999]"),
    (TrainConfig, {"decay_every": 0}, "decay_every", "[1,"),
    (TrainConfig, {"decay_factor": 0.0}, "decay_factor", "(0, 1]"),
    (TrainConfig, {"weight_decay": -0.01}, "weight_decay", "[0, 10]"),
    (TrainConfig, {"betas": (0.9, 1.5)}, "beta", "[0, 1]"),
    (TrainConfig, {"betas": (-0.1, 0.99)}, "beta", "[0, 1]"),
    (TrainConfig, {"grad_clip": -1.0}, "grad_clip", "[0,"),
    (TrainConfig, {"warmup_steps": -1}, "warmup_steps", "[0,"),
    (TrainConfig, {"schedule": "linear"}, "schedule", "cosine, plateau, step, constant"),
    (TrainConfig, {"min_lr_ratio": 1.5}, "min_lr_ratio", "[0, 1]"),
    (TrainConfig, {"plateau_factor": 0.0}, "plateau_factor", "(0, 1]"),
    (TrainConfig, {"plateau_patience": -1}, "plateau_patience", "[0, 1000]"),
    (TrainConfig, {"max_steps": 0}, "max_steps", "[1,"),
    (TrainConfig, {"minutes": -1.0}, "minutes", "[0,"),
    (TrainConfig, {"eval_every": 0}, "eval_every", "[1,"),
    (TrainConfig, {"eval_tokens": -1}, "eval_tokens", "[0,"),
    (TrainConfig, {"patience": -1}, "patience", "[0, 100000]"),
    (TrainConfig, {"valid_fraction": 0.0}, "valid_fraction", "(0, 0.5]"),
    (TrainConfig, {"valid_fraction": 0.6}, "valid_fraction", "(0, 0.5]"),
    (TrainConfig, {"seed": -1}, "seed", "[0,"),
    (TrainConfig, {"device": "tpu"}, "device", "auto, cpu, cuda, mps"),
    (GenerationConfig, {"length": 0}, "length", "[1, 100000]"),
    (GenerationConfig, {"length": MAX_GENERATION_LENGTH + 1}, "length", "[1, 100000]"),
    (GenerationConfig, {"temperature": 0.0}, "temperature", "(0, 100]"),
    (GenerationConfig, {"temperature": -1.0}, "temperature", "(0, 100]"),
    (GenerationConfig, {"temperature": 100.5}, "temperature", "(0, 100]"),
    (GenerationConfig, {"num_samples": 0}, "num_samples", "[1, 4096]"),
    (GenerationConfig, {"num_samples": 5000}, "num_samples", "[1, 4096]"),
    (GenerationConfig, {"seed": -5}, "seed", "[0,"),
]


@pytest.mark.parametrize(("cls", "bad", "name", "valid"), BAD,
                         ids=[f"{c.__name__}-{next(iter(b))}={next(iter(b.values()))}" for c, b, _, _ in BAD])
def test_out_of_range_values_are_refused_with_field_and_range(cls, bad, name, valid):
    with pytest.raises(StudioError) as info:
        cls(**bad)
    message = str(info.value)
    assert message.startswith(name), message
    assert valid in message, message


# (config class, settings at the edge of the valid range, all of which must be accepted)
EDGES = [
    (ModelConfig, {"vocab_size": 2, "num_layers": 16, "embedding_size": 1, "hidden_size": 1, "dropout_embedding": 0.95,
                   "dropout_between": 0.0, "forget_bias": -10.0}),
    (ModelConfig, {"num_layers": 1, "forget_bias": 10.0, "cell": "gru"}),
    (TokenizerConfig, {"kind": "bpe", "vocab_size": 260, "min_count": 1}),
    (TrainConfig, {"lr": 10.0, "betas": (0.0, 1.0), "grad_clip": 0.0, "warmup_steps": 0, "min_lr_ratio": 1.0,
                   "plateau_factor": 1.0, "valid_fraction": 0.5, "seed": 0, "minutes": 0.0, "schedule": "plateau"}),
    (GenerationConfig, {"length": 1, "temperature": 100.0, "num_samples": 4096, "seed": 0}),
    (GenerationConfig, {"length": MAX_GENERATION_LENGTH, "temperature": 1e-6}),
]


@pytest.mark.parametrize(("cls", "edge"), EDGES)
def test_edge_values_are_accepted(cls, edge):
    config = cls(**edge)
    for key, value in edge.items():
        assert getattr(config, key) == value


@pytest.mark.parametrize(("cls", "name"), [(ModelConfig, "num_layers"), (ModelConfig, "vocab_size"),
                                           (TrainConfig, "batch_size"), (GenerationConfig, "length")])
@pytest.mark.parametrize("value", [2.0, 2.5, True, "3"])
def test_integer_fields_refuse_non_integers(cls, name, value):
    with pytest.raises(StudioError, match=rf"^{name} must be a whole number"):
        cls(**{name: value})


@pytest.mark.parametrize(("cls", "name"), [(GenerationConfig, "repetition_penalty"), (TrainConfig, "lr"),
                                           (ModelConfig, "dropout_output"), (TrainConfig, "valid_fraction")])
@pytest.mark.parametrize("value", [math.nan, "0.5", None, True])
def test_float_fields_refuse_non_numbers(cls, name, value):
    with pytest.raises(StudioError, match=rf"^{name} must be a number"):
        cls(**{name: value})


def test_betas_must_be_a_pair():
    with pytest.raises(StudioError, match="betas must be two numbers"):
        TrainConfig(betas=(0.9,))


@given(st.floats(allow_nan=False, allow_infinity=True, width=64))
def test_temperature_accepted_exactly_in_its_range(temperature):
    if 0 < temperature <= 100:
        assert GenerationConfig(temperature=temperature).temperature == temperature
    else:
        with pytest.raises(StudioError, match=r"temperature must be in \(0, 100\]"):
            GenerationConfig(temperature=temperature)


@given(st.integers(min_value=-10, max_value=30))
def test_num_layers_accepted_exactly_in_its_range(num_layers):
    if 1 <= num_layers <= 16:
        assert ModelConfig(num_layers=num_layers).num_layers == num_layers
    else:
        with pytest.raises(StudioError, match=r"num_layers must be in \[1, 16\]"):
            ModelConfig(num_layers=num_layers)


def test_check_helpers_state_open_and_closed_bounds():
    with pytest.raises(StudioError, match=r"^x must be in \(0, 1\], got 0$"):
        check_range("x", 0, 0, 1, low_open=True)
    with pytest.raises(StudioError, match=r"^x must be in \[-inf, 3\], got 4$"):
        check_range("x", 4, high=3)
    check_range("x", 0, 0, 1)  # a closed bound admits its end point
    with pytest.raises(StudioError, match="mode must be one of a, b; got 'c'"):
        check_choice("mode", "c", ("a", "b"))


NON_DEFAULT = {
    ModelConfig: {"vocab_size": 99, "cell": "gru", "num_layers": 3, "embedding_size": 7, "hidden_size": 9,
                  "dropout_embedding": 0.1, "dropout_between": 0.2, "dropout_output": 0.3, "tie_weights": True,
                  "forget_bias": 2.0, "weight_drop": 0.25, "chord_vocab_size": 5, "chord_features": 3,
                  "chord_embedding": 2, "next_chord": True, "conditions": (("styles", 9, 4), ("forms", 3, 2)),
                  "pitch_tokens": (2, 60, 30), "pitch_heads": ("interval",)},
    TokenizerConfig: {"kind": "word", "vocab_size": 500, "min_count": 3},
    TrainConfig: {"batch_size": 3, "seq_len": 17, "lr": 0.5, "betas": (0.8, 0.95), "schedule": "plateau",
                  "max_steps": 9, "minutes": 1.5, "device": "cpu", "amp": False, "seed": 7, "eval_tokens": 100},
    GenerationConfig: {"length": 12, "temperature": 1.3, "num_samples": 4, "seed": 42, "banned": [0, 5]},
}


@pytest.mark.parametrize("cls", CONFIGS)
@pytest.mark.parametrize("which", ["default", "custom"])
def test_to_dict_from_dict_round_trip(cls, which):
    config = cls() if which == "default" else cls(**NON_DEFAULT[cls])
    data = config.to_dict()
    newer = {"weight_drop", "next_chord", "conditions", "pitch_tokens", "pitch_heads"}
    optional = newer if cls is ModelConfig and which == "default" else set()  # written only when set
    assert set(data) == {f.name for f in dataclasses.fields(cls)} - optional
    assert cls.from_dict(data) == config
    # The checkpoint stores configs as JSON: tuples come back as lists and must still rebuild an equal config.
    assert cls.from_dict(json.loads(json.dumps(data))) == config


@pytest.mark.parametrize("cls", CONFIGS)
def test_from_dict_fills_missing_fields_with_defaults(cls):
    assert cls.from_dict({}) == cls()


@pytest.mark.parametrize("cls", CONFIGS)
def test_from_dict_refuses_unknown_keys(cls):
    data = cls().to_dict()
    data["flux_capacitor"] = 1.21
    with pytest.raises(StudioError, match=rf"{cls.__name__} has no field\(s\) flux_capacitor.*upgrade Studio"):
        cls.from_dict(data)


def test_from_dict_validates_values():
    data = GenerationConfig().to_dict()
    data["temperature"] = 0
    with pytest.raises(StudioError, match=r"temperature must be in \(0"):
        GenerationConfig.from_dict(data)


@pytest.mark.parametrize("banned", [[-1], [3, -2], ["x"], [1.5]])
def test_banned_token_ids_must_be_non_negative_integers(banned):
    with pytest.raises(StudioError, match="banned"):
        GenerationConfig(banned=banned)


@pytest.mark.parametrize("betas", [0.9, ("a", "b"), None])
def test_malformed_betas_give_a_studio_error(betas):
    with pytest.raises(StudioError, match="beta"):
        TrainConfig(betas=betas)


def test_a_model_card_without_weight_drop_reads_as_before_the_option_existed():
    # Cards of models trained without weight drop carry no new key, so a Studio that predates it loads them.
    assert "weight_drop" not in ModelConfig().to_dict()
    assert ModelConfig(weight_drop=0.3).to_dict()["weight_drop"] == 0.3
    assert ModelConfig.from_dict(ModelConfig(weight_drop=0.3).to_dict()).weight_drop == 0.3
