"""Trading fours: phrase pairs from solos, the encoder-decoder with its three bridges, training that resumes
exactly, answering a call over a chart round after round, the attention picture, and the CLI with its refusals."""

from __future__ import annotations

import json
import math

import pretty_midi
import pytest
import torch
from jazz_support import write_jazz_folder

from studio.cli import main
from studio.config import GenerationConfig
from studio.errors import StudioError
from studio.models.seq2seq import CallResponseConfig, CallResponseModel
from studio.music.jazz.corpus import TICKS_PER_BAR, SoloNote, read_jazz_corpus
from studio.music.jazz.streams import chord_feature_table
from studio.music.jazz.tokenizer import JazzTokenizer
from studio.music.theory.chords import ChordChart, blues_chart
from studio.music.trade.calls import call_from_file, call_from_played
from studio.music.trade.listen_settings import DEFAULT_LISTEN_LR
from studio.music.trade.motifs import motif_reuse, motifs
from studio.music.trade.pairs import DECODER_INPUTS, collate, encode_pair, phrase_pairs
from studio.music.trade.responder import Responder, TradeRequest
from studio.music.trade.training import (
    TradeTrainConfig,
    batch_nll,
    evaluate_pairs,
    pair_nats,
    pair_splits,
    train_trade,
)

SMALL = CallResponseConfig(decoder_hidden=24, encoder_hidden=12, attention_size=12, embedding_size=16)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_jazz_folder(tmp_path_factory.mktemp("jazz"), solos=10)


@pytest.fixture(scope="module")
def trained(folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "trade"
    train_trade(folder, out, SMALL, TradeTrainConfig(max_epochs=2, batch_size=8, seed=1), command="test",
                max_pairs=48)
    return out


def _midi_call(path, pitches, seconds=0.25, tempo=120.0, signature=(4, 4)):
    pm = pretty_midi.PrettyMIDI(initial_tempo=tempo)
    pm.time_signature_changes.append(pretty_midi.TimeSignature(*signature, 0.0))
    horn = pretty_midi.Instrument(65)
    for i, p in enumerate(pitches):
        horn.notes.append(pretty_midi.Note(90, p, i * seconds, i * seconds + seconds * 0.9))
    pm.instruments.append(horn)
    pm.write(str(path))
    return path


def test_pairs_start_on_phrase_boundaries_and_fill_their_bars(folder) -> None:
    solos, _ = read_jazz_corpus(folder)
    pairs = phrase_pairs(solos, 4)
    assert pairs and all(len(p.call_beats) == len(p.answer_beats) == 16 for p in pairs)
    assert all(n.onset + n.duration <= 4 * TICKS_PER_BAR for p in pairs for n in p.call + p.answer)
    tok = JazzTokenizer()
    encoded = encode_pair(tok, pairs[0])
    lengths = [tok.length_of(t) for t in encoded.answer if tok.is_length(t)]
    assert sum(lengths) == 4 * TICKS_PER_BAR and encoded.notes == len(pairs[0].answer)
    assert {len(v) for v in encoded.answer_conditions.values()} == {len(encoded.answer)}
    splits = pair_splits(solos)
    assert not {p.solo_id for p in splits["train"]} & {p.solo_id for p in splits["valid"]}


@pytest.mark.parametrize("bridge", ["none", "final", "attention"])
def test_each_bridge_reads_what_it_should(folder, bridge: str) -> None:
    torch.manual_seed(0)
    model = CallResponseModel(CallResponseConfig(**{**SMALL.to_dict(), "bridge": bridge})).eval()
    model.set_chord_features(chord_feature_table())
    solos, _ = read_jazz_corpus(folder)
    pairs = [encode_pair(JazzTokenizer(), p) for p in phrase_pairs(solos, 2)[:3]]
    batch = collate(pairs)
    args = ({"chords": batch["call_chords"], "positions": batch["call_positions"]}, batch["inputs"],
            {name: batch[name] for name in DECODER_INPUTS})
    with torch.no_grad():
        logits, attention = model(batch["call"], batch["call_mask"], *args)
    assert logits.shape == (3, batch["inputs"].shape[1], model.config.vocab_size)
    other = batch["call"].roll(1, dims=1)  # another call
    with torch.no_grad():
        changed, _ = model(other, batch["call_mask"], *args)
    assert torch.allclose(changed, logits) == (bridge == "none")
    if bridge == "attention":
        real = batch["call_mask"][:, None, :].expand_as(attention)
        assert torch.allclose(attention.sum(-1), torch.ones(attention.shape[:2]), atol=1e-5)
        assert float(attention[~real].abs().sum()) == 0.0  # padding is never looked at
    else:
        assert attention is None


def test_training_learns_and_resumes_exactly(folder, tmp_path) -> None:
    config = TradeTrainConfig(max_epochs=2, batch_size=8, seed=3)
    whole = tmp_path / "whole"
    train_trade(folder, whole, SMALL, config, command="test", max_pairs=32)
    part = tmp_path / "part"
    train_trade(folder, part, SMALL, TradeTrainConfig(**{**config.to_dict(), "max_epochs": 1}), command="test",
                max_pairs=32)
    train_trade(folder, part, train_config=TradeTrainConfig(max_epochs=2), resume=True)  # a longer budget
    a = json.loads((whole / "last" / "state.json").read_text())["loop"]["history"]
    b = json.loads((part / "last" / "state.json").read_text())["loop"]["history"]
    assert [round(r["valid_nats_per_note"], 6) for r in a] == [round(r["valid_nats_per_note"], 6) for r in b]
    assert a[1]["valid_nats_per_note"] < a[0]["valid_nats_per_note"]
    with pytest.raises(StudioError, match="already holds a training run"):
        train_trade(folder, whole, SMALL, config)


def test_answers_fill_their_bars_round_after_round(trained) -> None:
    responder = Responder(trained / "best")
    call = [SoloNote(t * 6, 6, 60 + t % 7) for t in range(24)]
    result = responder.trade(TradeRequest(call, blues_chart("12-bar", "F"), 4, 3, GenerationConfig(seed=2)))
    assert [r.start_bar for r in result.rounds] == [4, 8, 12]
    for exchange in result.rounds:
        assert all(48 <= n.pitch <= 88 and n.onset + n.duration <= 4 * TICKS_PER_BAR for n in exchange.answer)
        if exchange.answer:
            assert len(exchange.attention) == len(exchange.answer)
            assert all(len(row) == len(exchange.call) for row in exchange.attention)
            assert all(math.isclose(sum(row), 1.0, abs_tol=0.02) or sum(row) <= 1.0 for row in exchange.attention)
    assert result.rounds[1].call == result.rounds[0].answer
    again = responder.trade(TradeRequest(call, blues_chart("12-bar", "F"), 4, 3, GenerationConfig(seed=2)))
    assert [r.answer for r in again.rounds] == [r.answer for r in result.rounds]


def test_validation_scores_answers_per_note(trained, folder) -> None:
    responder = Responder(trained / "best")
    pairs = [encode_pair(responder.tokenizer, p) for p in phrase_pairs(read_jazz_corpus(folder)[0], 4)[:4]]
    scores = evaluate_pairs(responder.model, pairs)
    assert scores["pairs"] == 4 and scores["notes"] == sum(p.notes for p in pairs) and scores["nats_per_note"] > 0
    # Pair by pair, in the order given (batched by length inside), each as it scores alone, padding never counted.
    each = pair_nats(responder.model, pairs[::-1])
    alone = [float(pair_nats(responder.model, [p])[0]) for p in pairs[::-1]]
    assert torch.allclose(each, torch.tensor(alone, dtype=torch.float64), atol=1e-3)
    loss, _ = batch_nll(responder.model, collate(pairs))  # the training loss, over one padded batch
    assert len(set(alone)) == 4 and math.isclose(float(each.sum()), float(loss), rel_tol=1e-5)


def test_motifs_are_free_of_transposition() -> None:
    call = [SoloNote(i * 6, 6, p) for i, p in enumerate((60, 62, 64, 60, 67))]
    answer = [SoloNote(i * 6, 6, p + 5) for i, p in enumerate((60, 62, 64, 60, 55))]
    assert motifs(call) == [(2, 2, -4), (2, -4, 7)]
    assert motif_reuse(call, answer) == 0.5
    assert motif_reuse(call, answer[:3]) is None


def test_calls_are_read_and_bad_ones_refused(tmp_path) -> None:
    path = _midi_call(tmp_path / "call.mid", [60, 62, 64, 65, 67, 65, 64, 62])
    call = call_from_file(path, 4)
    assert [n.onset for n in call] == [i * 6 for i in range(8)] and call[0].pitch == 60
    with pytest.raises(StudioError, match=r"5 bars long; a call takes 4 \(say --bars 5"):
        call_from_file(_midi_call(tmp_path / "long.mid", [60] * 40), 4)
    with pytest.raises(StudioError, match="3/4; calls are traded in 4/4"):
        call_from_file(_midi_call(tmp_path / "waltz.mid", [60, 62], signature=(3, 4)), 4)
    empty = pretty_midi.PrettyMIDI()
    empty.instruments.append(pretty_midi.Instrument(0))
    empty.write(str(tmp_path / "empty.mid"))
    with pytest.raises(StudioError, match="has no notes"):
        call_from_file(tmp_path / "empty.mid", 4)
    played = call_from_played([[62, 0.0, 0.2], [64, 0.25, 0.5], [60, 0.24, 0.4]], 120.0, 1)
    assert [(n.onset, n.pitch) for n in played] == [(0, 62), (6, 64)]  # 0.24 s and 0.25 s: one onset, top note
    with pytest.raises(StudioError, match="not playable"):
        call_from_played([[200, 0.0, 0.1]], 120.0, 1)


def test_trade_cli_writes_tracks_audio_and_the_attention_picture(trained, tmp_path) -> None:
    call = _midi_call(tmp_path / "call.mid", [65, 67, 69, 70, 72, 70, 69, 67, 65, 64, 62, 60])
    out = tmp_path / "out"
    code = main(["trade", "--call", str(call), "--chart", "12-bar", "--key", "F", "--tempo", "150", "--rounds", "2",
                 "--model", str(trained / "best"), "--seed", "4", "--out", str(out)])
    assert code == 0
    midi = pretty_midi.PrettyMIDI(str(out / "trade-4.mid"))
    names = {i.name for i in midi.instruments}
    assert {"call", "response", "bass", "drums"} <= names
    call_track = next(i for i in midi.instruments if i.name == "call")
    assert [n.pitch for n in call_track.notes] == [65, 67, 69, 70, 72, 70, 69, 67, 65, 64, 62, 60]
    assert (out / "trade-4.wav").stat().st_size > 10_000
    assert (out / "trade-4-attention.png").read_bytes()[:4] == b"\x89PNG"
    sidecar = json.loads((out / "trade-4.json").read_text())
    assert [r["answer_bars"] for r in sidecar["rounds_played"]] == [[5, 8], [9, 12]]
    assert sidecar["temperature"] == 1.0  # the default its help names, as on the page
    assert sidecar["listen"] == DEFAULT_LISTEN_LR and sidecar["listen_steps"] == 5  # it listens, unless told not to
    assert main(["trade", "--call", str(_midi_call(tmp_path / "x.mid", [60] * 40)), "--model",
                 str(trained / "best"), "--out", str(out)]) == 2


def test_studio_eval_scores_answers(trained, folder, capsys) -> None:
    assert main(["eval", "--model", str(trained / "best"), "--corpus", str(folder), "--split", "all", "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["unit"] == "nats_per_note" and report["kind"] == "trade" and report["items"] > 0


def test_the_chart_repeats_for_long_exchanges(trained) -> None:
    responder = Responder(trained / "best")
    chart = ChordChart.parse("D-7 | G7 | Cj7 | Cj7")
    result = responder.trade(TradeRequest([SoloNote(0, 12, 62), SoloNote(12, 12, 65), SoloNote(24, 12, 69)], chart,
                                          2, 4, GenerationConfig(seed=0)))
    assert [r.start_bar for r in result.rounds] == [2, 4, 6, 8]
