"""A call-and-response run started from another: attention grown onto a final-state model starts out playing exactly
as the base does (its validation score is epoch 0, the one to beat), and what would take something away is refused."""

from __future__ import annotations

import json

import pytest
from jazz_support import write_jazz_folder

from studio.cli import main
from studio.errors import StudioError
from studio.models.seq2seq import CallResponseConfig
from studio.music.jazz.corpus import read_jazz_corpus
from studio.music.jazz.tokenizer import JazzTokenizer
from studio.music.trade.pairs import encode_pair
from studio.music.trade.training import TradeTrainConfig, evaluate_pairs, load_trade_model, pair_splits, train_trade

SMALL = CallResponseConfig(decoder_hidden=24, encoder_hidden=12, attention_size=12, embedding_size=16)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_jazz_folder(tmp_path_factory.mktemp("jazz"), solos=10)


@pytest.fixture(scope="module")
def final_base(folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "final"
    final = CallResponseConfig(**{**SMALL.to_dict(), "bridge": "final"})
    train_trade(folder, out, final, TradeTrainConfig(max_epochs=2, batch_size=8, seed=1), command="test",
                max_pairs=48)
    return out


def _valid_nll(folder, model_path) -> float:
    solos, _ = read_jazz_corpus(folder)
    model, tok, _ = load_trade_model(model_path)
    return evaluate_pairs(model, [encode_pair(tok, p) for p in pair_splits(solos)["valid"]])["nats_per_note"]


def test_attention_grown_on_a_final_state_model_starts_where_the_base_plays(folder, final_base, tmp_path) -> None:
    out = tmp_path / "grown"
    best = train_trade(folder, out, CallResponseConfig(bridge="attention"),
                       TradeTrainConfig(max_epochs=2, batch_size=8, seed=2, lr=5e-3), command="test",
                       max_pairs=48, base=final_base)
    history = json.loads((out / "last" / "state.json").read_text())["loop"]["history"]
    assert [row["epoch"] for row in history] == [0, 1, 2]
    # Epoch 0 is the grown model before any step: the base's own answers, to float rounding (the base is fp32 here).
    assert history[0]["valid_nats_per_note"] == pytest.approx(_valid_nll(folder, final_base / "best"), abs=1e-4)
    card = json.loads((best / "model.json").read_text())
    assert card["model_config"]["bridge"] == "attention"
    assert card["model_config"]["decoder_hidden"] == SMALL.decoder_hidden  # the base's sizes, not the defaults
    assert card["base"]["bridge"] == "final"
    # The best is never worse than where the run started, and training moved the attention away from zero.
    assert card["metrics"]["valid_nats_per_note"] <= history[0]["valid_nats_per_note"] + 1e-9
    model, _, _ = load_trade_model(out / "last")
    assert float(model.output.weight.detach()[:, SMALL.decoder_hidden:].abs().sum()) > 0
    # Resumed to a longer budget, the run keeps its base on the card.
    train_trade(folder, out, train_config=TradeTrainConfig(max_epochs=3), resume=True)
    assert json.loads((out / "last" / "model.json").read_text())["base"]["bridge"] == "final"


def test_a_decoder_alone_grows_a_bridge_that_starts_silent(folder, tmp_path) -> None:
    none = tmp_path / "none"
    train_trade(folder, none, CallResponseConfig(**{**SMALL.to_dict(), "bridge": "none"}),
                TradeTrainConfig(max_epochs=1, batch_size=8, seed=1), command="test", max_pairs=32)
    out = tmp_path / "final"
    train_trade(folder, out, CallResponseConfig(bridge="final"), TradeTrainConfig(max_epochs=1, batch_size=8),
                command="test", max_pairs=32, base=none)
    history = json.loads((out / "last" / "state.json").read_text())["loop"]["history"]
    assert history[0]["valid_nats_per_note"] == pytest.approx(_valid_nll(folder, none / "best"), abs=1e-4)


def test_a_base_that_would_lose_something_is_refused(folder, final_base, tmp_path) -> None:
    with pytest.raises(StudioError, match="cannot drop what it has"):
        train_trade(folder, tmp_path / "x", CallResponseConfig(bridge="none"), TradeTrainConfig(max_epochs=1),
                    base=final_base)
    assert not (tmp_path / "x").exists()


def test_the_cli_starts_from_a_base_and_says_where_it_started(folder, final_base, tmp_path, capsys) -> None:
    out = tmp_path / "cli"
    assert main(["train", "trade", "--corpus", str(folder), "--out", str(out), "--init-from", str(final_base),
                 "--max-epochs", "1", "--max-pairs", "16", "--batch-size", "8"]) == 0
    said = capsys.readouterr().out
    assert "epoch 0 (the base, as it plays): validation" in said and "epoch 1:" in said
    assert JazzTokenizer.from_dict(json.loads((out / "best" / "model.json").read_text())["tokenizer"]).vocab_size
