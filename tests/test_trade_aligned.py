"""Aligned attention: the call-and-response attention told where each call note falls against the answer step (the
answer's onset minus the call token's, in ticks from each phrase's first bar). It starts as the attention it grows
from, its offsets can steer it to "the same place one phrase earlier", and it trains and plays like any other."""

from __future__ import annotations

import json

import pytest
import torch
from jazz_support import scale_call, train_small_trade, write_jazz_folder

from studio.cli import main
from studio.config import GenerationConfig
from studio.errors import StudioError
from studio.loading import describe, grown_weights
from studio.models.seq2seq import OFFSET_BUCKETS, OFFSET_SPAN, OFFSET_STEP, CallResponseConfig, CallResponseModel
from studio.music.jazz.corpus import SoloNote, read_jazz_corpus
from studio.music.jazz.streams import chord_feature_table
from studio.music.jazz.tokenizer import JazzTokenizer
from studio.music.theory.chords import blues_chart
from studio.music.trade.pairs import collate, encode_pair, model_arguments, phrase_pairs
from studio.music.trade.responder import Responder, TradeRequest
from studio.music.trade.training import TradeTrainConfig, _grown_config, train_trade

SMALL = CallResponseConfig(decoder_hidden=24, encoder_hidden=12, attention_size=12, embedding_size=16)
ALIGNED = CallResponseConfig(**{**SMALL.to_dict(), "aligned": True})
CENTRE = OFFSET_SPAN // OFFSET_STEP


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_jazz_folder(tmp_path_factory.mktemp("jazz"), solos=8)


@pytest.fixture(scope="module")
def batch(folder) -> dict[str, torch.Tensor]:
    tok = JazzTokenizer()
    return collate([encode_pair(tok, p) for p in phrase_pairs(read_jazz_corpus(folder)[0], 4)[:4]])


def _model(config: CallResponseConfig, seed: int = 0) -> CallResponseModel:
    torch.manual_seed(seed)
    model = CallResponseModel(config).eval()
    model.set_chord_features(chord_feature_table())
    return model


def test_onsets_are_ticks_from_each_phrases_start(batch) -> None:
    tok = JazzTokenizer()

    def onsets(tokens: list[int]) -> list[int]:
        """Each event's two tokens (what, how long) share the event's onset, the lengths before it summed."""
        out, time = [], 0
        for i in range(0, len(tokens), 2):
            out += [time, time]
            time += tok.length_of(tokens[i + 1])
        return out

    for row in range(batch["call"].shape[0]):
        call = batch["call"][row][batch["call_mask"][row]].tolist()
        assert batch["call_onsets"][row, : len(call)].tolist() == [0, *onsets(call[1:])]
        targets = batch["targets"][row][batch["target_mask"][row].bool()].tolist()
        assert batch["onsets"][row, : len(targets)].tolist() == onsets(targets)  # the onset of the token predicted


def test_offsets_fall_in_sixteenth_buckets_with_edges() -> None:
    onsets = torch.tensor([[0, 1, 2, 3, 47, 191, 500]])
    buckets = CallResponseModel._offset_buckets({"onsets": torch.tensor([0])}, onsets)
    assert buckets.tolist() == [[CENTRE, CENTRE - 1, CENTRE - 1, CENTRE - 1, CENTRE - 16, 0, 0]]
    later = CallResponseModel._offset_buckets({"onsets": torch.tensor([500])}, torch.tensor([[0, 499]]))
    assert later.tolist() == [[OFFSET_BUCKETS - 1, CENTRE]]
    with pytest.raises(ValueError, match="onsets"):
        CallResponseModel._offset_buckets({}, onsets)


def test_an_aligned_model_starts_as_the_attention_model_it_grows_from(batch) -> None:
    plain = _model(SMALL)
    aligned = _model(ALIGNED, seed=1)
    aligned.load_state_dict(grown_weights(aligned.state_dict(), plain.state_dict()))
    assert float(aligned.attend_offset.weight.detach().abs().sum()) == 0.0
    with torch.no_grad():
        before, attention = plain(*model_arguments(batch))
        after, aligned_attention = aligned(*model_arguments(batch))
    assert torch.allclose(before, after, atol=1e-6) and torch.allclose(attention, aligned_attention, atol=1e-6)


def test_offsets_can_steer_attention_to_the_same_place_one_phrase_earlier(batch) -> None:
    model = _model(ALIGNED)
    with torch.no_grad():  # scores from the offsets alone: +A tanh(3) at offset 0..2 ticks, -A tanh(3) elsewhere
        model.attend_state.weight.zero_()
        model.attend_call.weight.zero_()
        model.attend_call.bias.zero_()
        model.attend_v.weight.fill_(1.0)
        model.attend_offset.weight.fill_(-3.0)
        model.attend_offset.weight[CENTRE].fill_(3.0)
        _, attention = model(*model_arguments(batch))
        plain = _model(SMALL)
        plain.load_state_dict({k: v for k, v in model.state_dict().items() if k != "attend_offset.weight"})
        _, unaligned = plain(*model_arguments(batch))
    steps = checked = 0
    for row in range(attention.shape[0]):
        real = batch["call_mask"][row]
        for t in range(int(batch["target_mask"][row].sum())):
            offset = batch["onsets"][row, t] - batch["call_onsets"][row]
            same = real & (offset >= 0) & (offset < OFFSET_STEP)
            steps += 1
            if same.any():
                checked += 1
                assert float(attention[row, t][same].sum()) > 0.99
                assert float(unaligned[row, t][same].sum()) < 0.99  # without the offsets it looks everywhere
    assert checked > steps / 4  # the calls and answers share many onsets: the check is not vacuous


def test_the_responder_gives_each_step_the_onset_teacher_forcing_gives(folder, tmp_path) -> None:
    """While it plays, each step is told the onset of the token it predicts, as in training: 0 after BOS, an
    event's onset for both its tokens, the lengths read so far summed."""
    out = tmp_path / "aligned"
    train_trade(folder, out, ALIGNED, TradeTrainConfig(max_epochs=1, batch_size=8), command="test", max_pairs=16)
    responder = Responder(out / "best")
    tok, seen = responder.tokenizer, []
    step = responder.model.step

    def recording(token, state, conditions, *args):  # the real step, with what it was told written down
        seen.append((int(token[0]), int(conditions["onsets"][0])))
        return step(token, state, conditions, *args)

    responder.model.step = recording
    call = [SoloNote(t * 8, 8, 60 + (0, 3, 5, 7)[t % 4]) for t in range(20)]
    result = responder.trade(TradeRequest(call, blues_chart("12-bar", "F"), 4, 1, GenerationConfig(seed=3)))
    assert result.rounds[0].answer and seen[0] == (tok.BOS, 0)
    # The answer as drawn, step by step; then the attention picture scores it teacher-forced from BOS again.
    starts = [i for i, (token, _) in enumerate(seen) if token == tok.BOS]
    assert len(starts) == 2
    for part in (seen[:starts[1]], seen[starts[1]:]):
        time = 0
        for token, told in part:  # the token read, and the onset it was told: the next token's
            if tok.is_length(token):
                time += tok.length_of(token)
            assert told == time
        assert time > 0 and len(part) > 10


def test_aligning_needs_attention_and_a_grown_model_keeps_it() -> None:
    with pytest.raises(StudioError, match="needs attention"):
        CallResponseConfig(bridge="final", aligned=True)
    base = {"model_kind": "trade", "model_config": ALIGNED.to_dict()}
    with pytest.raises(StudioError, match="pass --aligned"):
        _grown_config(base, CallResponseConfig(bridge="attention"))
    grown = _grown_config({"model_kind": "trade", "model_config": {**SMALL.to_dict(), "bridge": "final"}},
                          CallResponseConfig(bridge="attention", aligned=True))
    assert grown.aligned and grown.decoder_hidden == SMALL.decoder_hidden


def test_an_aligned_model_trains_from_the_cli_and_answers_with_and_without_listening(folder, tmp_path) -> None:
    out = tmp_path / "aligned"
    assert train_small_trade(folder, out, "--aligned") == 0
    card = json.loads((out / "best" / "model.json").read_text())
    assert card["model_config"]["aligned"] is True
    assert "reading onset offsets" in describe(card)
    responder = Responder(out / "best")
    assert float(responder.model.attend_offset.weight.detach().abs().sum()) > 0  # trained away from zero
    call = scale_call()
    for listen in (0.0, 0.1):
        result = responder.trade(TradeRequest(call, blues_chart("12-bar", "F"), 4, 2, GenerationConfig(seed=2),
                                              listen=listen))
        for exchange in result.rounds:
            assert exchange.answer and max(n.onset + n.duration for n in exchange.answer) <= 4 * 48
            assert exchange.attention and all(0 < sum(row) <= 1 + 1e-5 for row in exchange.attention)
    assert main(["train", "trade", "--corpus", str(folder), "--out", str(tmp_path / "x"), "--aligned", "--bridge",
                 "final"]) == 2
