"""A call-and-response run started from another: attention grown onto a final-state model starts out playing exactly
as the base does (its validation score is epoch 0, the one to beat), and what would take something away is refused."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from jazz_support import write_jazz_folder

from studio.cli import main
from studio.errors import StudioError
from studio.models.seq2seq import CallResponseConfig
from studio.music.jazz.corpus import read_jazz_corpus
from studio.music.trade.pairs import encode_pair
from studio.music.trade.training import (
    TradeTrainConfig,
    _grown_config,
    evaluate_pairs,
    load_trade_model,
    pair_splits,
    train_trade,
)

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
    assert card["model_config"]["bridge"] == "attention" and card["training"]["epochs"] > 0
    assert card["model_config"]["decoder_hidden"] == SMALL.decoder_hidden  # the base's sizes, not the defaults
    assert card["base"]["bridge"] == "final" and card["base"]["training"]["epochs"] == 2  # the base's own
    # The best is never worse than where the run started, and training moved the attention away from zero.
    assert card["metrics"]["valid_nats_per_note"] <= history[0]["valid_nats_per_note"] + 1e-9
    model, _, _ = load_trade_model(out / "last")
    assert float(model.output.weight.detach()[:, SMALL.decoder_hidden:].abs().sum()) > 0
    # Resumed to a longer budget, the run keeps its base on the card and its history.
    train_trade(folder, out, train_config=TradeTrainConfig(max_epochs=3), resume=True)
    assert json.loads((out / "last" / "model.json").read_text())["base"]["bridge"] == "final"
    history = json.loads((out / "last" / "state.json").read_text())["loop"]["history"]
    assert [row["epoch"] for row in history] == [0, 1, 2, 3]


def test_the_grown_start_adds_zeros_and_a_run_stopped_after_epoch_0_resumes(folder, final_base, tmp_path) -> None:
    out = tmp_path / "stopped"
    best = train_trade(folder, out, CallResponseConfig(bridge="attention"),
                       TradeTrainConfig(max_epochs=2, batch_size=8, minutes=1e-6), command="test", max_pairs=16,
                       base=final_base)  # the budget is spent once the base is scored: only epoch 0
    card = json.loads((best / "model.json").read_text())
    assert card["training"]["epochs"] == 0
    grown, _, _ = load_trade_model(best)
    base, _, _ = load_trade_model(final_base / "best")
    hidden = SMALL.decoder_hidden
    assert float(grown.output.weight.detach()[:, hidden:].abs().sum()) == 0.0  # the context's columns
    assert torch.equal(grown.output.weight[:, :hidden], base.output.weight)
    context = grown.cell.weight_ih.shape[1] - base.cell.weight_ih.shape[1]
    assert context == 2 * SMALL.encoder_hidden
    assert float(grown.cell.weight_ih.detach()[:, -context:].abs().sum()) == 0.0
    assert torch.equal(grown.cell.weight_ih[:, :-context], base.cell.weight_ih)
    train_trade(folder, out, train_config=TradeTrainConfig(max_epochs=1, minutes=0), resume=True)
    history = json.loads((out / "last" / "state.json").read_text())["loop"]["history"]
    assert [row["epoch"] for row in history] == [0, 1]
    with pytest.raises(StudioError, match="keeps the start it had"):
        train_trade(folder, out, train_config=TradeTrainConfig(max_epochs=2), resume=True, base=final_base)


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
    with pytest.raises(StudioError, match="not a call-and-response model"):
        _grown_config({"model_kind": "jazz", "name": "jazz"}, None)
    with pytest.raises(StudioError, match="pass --copy"):
        _grown_config({"model_kind": "trade", "model_config": {**SMALL.to_dict(), "copy": True}},
                      CallResponseConfig(bridge="attention"))
    assert not (tmp_path / "x").exists()


def test_a_base_with_another_tokenizer_is_refused(folder, final_base, tmp_path) -> None:
    other = tmp_path / "other"
    shutil.copytree(final_base / "best", other)
    card = json.loads((other / "model.json").read_text())
    card["tokenizer"] = {**card["tokenizer"], "low": card["tokenizer"]["low"] + 1}
    (other / "model.json").write_text(json.dumps(card))
    with pytest.raises(StudioError, match="another tokenizer"):
        train_trade(folder, tmp_path / "y", CallResponseConfig(bridge="attention"), TradeTrainConfig(max_epochs=1),
                    base=other)


def test_the_cli_starts_from_a_base_and_says_where_it_started(folder, final_base, tmp_path, capsys) -> None:
    out = tmp_path / "cli"
    assert main(["train", "trade", "--corpus", str(folder), "--out", str(out), "--init-from", str(final_base),
                 "--max-epochs", "1", "--max-pairs", "16", "--batch-size", "8"]) == 0
    said = capsys.readouterr().out
    assert "epoch 0 (the base, as it plays): validation" in said and "epoch 1:" in said
    config = json.loads((out / "last" / "model.json").read_text())["model_config"]
    assert config["decoder_hidden"] == SMALL.decoder_hidden != 256  # the base's sizes, not the CLI's default
