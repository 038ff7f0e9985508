"""Trading fours with interval copying (``CallResponseConfig.copy``): attention proposes the call's intervals from
the answer's last note, a gate mixes that with the decoder's softmax; the teacher-forced path and the one-step path
agree, the mixture is a distribution, the proposal lands where the call's figure goes, and a copying model trains,
answers and plays from the CLI."""

from __future__ import annotations

import json

import pytest
import torch
from jazz_support import scale_call, train_small_trade, write_jazz_folder

from studio.cli import main
from studio.config import GenerationConfig
from studio.errors import StudioError
from studio.models.seq2seq import CallResponseConfig, CallResponseModel
from studio.music.jazz.corpus import read_jazz_corpus
from studio.music.jazz.streams import chord_feature_table
from studio.music.jazz.tokenizer import JazzTokenizer
from studio.music.theory.chords import blues_chart
from studio.music.trade.pairs import DECODER_INPUTS, collate, encode_pair, phrase_pairs
from studio.music.trade.responder import Responder, TradeRequest

COPYING = CallResponseConfig(decoder_hidden=24, encoder_hidden=12, attention_size=12, embedding_size=16, copy=True)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_jazz_folder(tmp_path_factory.mktemp("jazz"), solos=10)


def _model() -> CallResponseModel:
    torch.manual_seed(0)
    model = CallResponseModel(COPYING).eval()
    model.set_chord_features(chord_feature_table())
    with torch.no_grad():
        model.copy_gate.bias.fill_(1.0)  # copy a lot, so a wrong proposal would show
    return model


def test_copying_needs_attention() -> None:
    with pytest.raises(StudioError, match="needs attention"):
        CallResponseConfig(bridge="final", copy=True)


def test_the_call_proposes_its_intervals_from_the_last_note() -> None:
    tok, model = JazzTokenizer(), _model()
    # the call: C E G (a rest between E and G), as tokens; intervals +4 then +3, G has none after it
    call = torch.tensor([[tok.BOS, tok.pitch_id(60), tok.length_id(6), tok.pitch_id(64), tok.length_id(6),
                          tok.REST, tok.length_id(6), tok.pitch_id(67), tok.length_id(12)]])
    mask = torch.ones_like(call, dtype=torch.bool)
    steps, valid = model.call_steps(call, mask)
    assert valid[0].tolist() == [False, True, False, True, False, False, False, False, False]
    assert steps[0, 1] == 4 and steps[0, 3] == 3
    assert model.last_call_pitch(call, mask).tolist() == [67 - tok.low]
    # all attention on E: the answer, last at D, is proposed D + 3 = F
    weights = torch.zeros(1, call.shape[1])
    weights[0, 3] = 1.0
    logits = torch.zeros(1, tok.vocab_size)
    out = model._copy(logits, torch.zeros(1, 24 + 24), torch.tensor([tok.length_id(6)]), weights, (steps, valid),
                      torch.tensor([62 - tok.low]))
    probs = out.exp()
    assert torch.isclose(probs.sum(), torch.tensor(1.0), atol=1e-5)
    assert int(probs.argmax()) == tok.pitch_id(65)
    # after a pitch (the length comes next) nothing is proposed: the softmax alone
    same = model._copy(logits, torch.zeros(1, 48), torch.tensor([tok.pitch_id(62)]), weights, (steps, valid),
                       torch.tensor([62 - tok.low]))
    assert torch.allclose(same, torch.log_softmax(logits, -1), atol=1e-6)


def test_the_one_step_path_matches_the_teacher_forced_one(folder) -> None:
    model = _model()
    tok = JazzTokenizer()
    pairs = [encode_pair(tok, p) for p in phrase_pairs(read_jazz_corpus(folder)[0], 2)[:3]]
    batch = collate(pairs)
    conditions = {name: batch[name] for name in DECODER_INPUTS}
    call_cond = {"chords": batch["call_chords"], "positions": batch["call_positions"]}
    with torch.no_grad():
        full, _ = model(batch["call"], batch["call_mask"], call_cond, batch["inputs"], conditions)
        assert torch.allclose(full.exp().sum(-1), torch.ones(full.shape[:2]), atol=1e-4)
        memory, state = model.encode(batch["call"], batch["call_mask"], batch["call_chords"], batch["call_positions"])
        keys, copy = model.keys(memory), model.call_steps(batch["call"], batch["call_mask"])
        pitch = model.last_call_pitch(batch["call"], batch["call_mask"])
        for t in range(batch["inputs"].shape[1]):
            token = batch["inputs"][:, t]
            pitch = torch.where((token >= 2) & (token < tok.first_length), token - 2, pitch)
            cond = {**{k: v[:, t] for k, v in conditions.items()}, "last_pitch": pitch}
            out, state, _ = model.step(token, state, cond, memory, keys, batch["call_mask"], copy)
            assert torch.allclose(out, full[:, t], atol=1e-5)


def test_a_copying_model_trains_answers_and_plays_from_the_cli(folder, tmp_path) -> None:
    out = tmp_path / "copy"
    assert train_small_trade(folder, out, "--copy") == 0
    card = json.loads((out / "best" / "model.json").read_text())
    assert card["model_config"]["copy"] is True
    responder = Responder(out / "best")
    call = scale_call()
    result = responder.trade(TradeRequest(call, blues_chart("12-bar", "F"), 4, 2, GenerationConfig(seed=2)))
    assert all(exchange.answer for exchange in result.rounds)
    again = responder.trade(TradeRequest(call, blues_chart("12-bar", "F"), 4, 2, GenerationConfig(seed=2)))
    assert [r.answer for r in again.rounds] == [r.answer for r in result.rounds]
    assert main(["train", "trade", "--corpus", str(folder), "--out", str(tmp_path / "x"), "--copy", "--bridge",
                 "final"]) == 2
