"""PianoRollModel and its training loop, on tiny synthetic piano rolls (no ../shared needed)."""

from __future__ import annotations

import json
import math

import pytest
import torch

from studio.errors import StudioError
from studio.models.piano_roll import KEYS, PianoRollConfig, PianoRollModel, frame_nll
from studio.music.pianoroll.training import (
    RollTrainConfig,
    evaluate_rolls,
    load_splits,
    pad_batch,
    pitches_to_roll,
    train_piano_roll,
)


def _arpeggio(length: int, shift: int = 0) -> torch.Tensor:
    """A repeating C-major chord cycle, as a (length, 88) roll."""
    chords = [[60, 64, 67], [62, 65, 69], [64, 67, 71], [60, 65, 69]]
    return pitches_to_roll([[p + shift for p in chords[t % 4]] for t in range(length)])


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_shapes_and_shifted_input(cell: str) -> None:
    torch.manual_seed(0)
    model = PianoRollModel(PianoRollConfig(cell=cell, hidden_size=16, num_layers=2, dropout_between=0.1))
    rolls = (torch.rand(3, 7, KEYS) > 0.9).float()
    assert model(rolls).shape == (3, 7, KEYS)
    shifted = model.shifted_inputs(rolls)
    assert torch.equal(shifted[:, 0], torch.zeros(3, KEYS))  # nothing before the first frame
    assert torch.equal(shifted[:, 1:], rolls[:, :-1])


def test_output_at_t_depends_only_on_earlier_frames() -> None:
    torch.manual_seed(0)
    model = PianoRollModel(PianoRollConfig(cell="gru", hidden_size=16)).eval()
    rolls = (torch.rand(1, 6, KEYS) > 0.9).float()
    changed = rolls.clone()
    changed[0, 3] = 1 - changed[0, 3]
    a, b = model(rolls), model(changed)
    assert torch.allclose(a[:, :4], b[:, :4])  # step 3's own frame is a target, never an input to step <= 3
    assert not torch.allclose(a[:, 4:], b[:, 4:])


def test_loss_equals_hand_computed_bce() -> None:
    logits = torch.zeros(1, 2, KEYS)
    logits[0, 0, 0] = 2.0
    logits[0, 1, 5] = -1.0
    rolls = torch.zeros(1, 2, KEYS)
    rolls[0, 0, 0] = 1.0
    rolls[0, 1, 5] = 1.0
    rolls[0, 1, 7] = 1.0

    def bce(z: float, y: float) -> float:
        p = 1 / (1 + math.exp(-z))
        return -(y * math.log(p) + (1 - y) * math.log(1 - p))

    frame0 = bce(2.0, 1) + (KEYS - 1) * bce(0.0, 0)
    frame1 = bce(-1.0, 1) + bce(0.0, 1) + (KEYS - 2) * bce(0.0, 0)
    total, frames = frame_nll(logits, rolls)
    assert frames == 2
    assert float(total) == pytest.approx(frame0 + frame1, rel=1e-6)


def test_mask_ignores_padding() -> None:
    torch.manual_seed(0)
    model = PianoRollModel(PianoRollConfig(cell="lstm", hidden_size=12)).eval()
    short, long = _arpeggio(3), _arpeggio(6, shift=2)
    batch, mask = pad_batch([short, long])
    assert batch.shape == (2, 6, KEYS) and mask.tolist() == [[True] * 3 + [False] * 3, [True] * 6]
    # Garbage in the padding must change nothing: padding comes after the real frames and is masked out.
    noisy = batch.clone()
    noisy[0, 3:] = 1.0
    with torch.no_grad():
        total, frames = frame_nll(model(batch), batch, mask)
        noisy_total, _ = frame_nll(model(noisy), noisy, mask)
        alone = [frame_nll(model(r[None]), r[None]) for r in (short, long)]
    assert frames == 9
    assert float(total) == pytest.approx(float(noisy_total), rel=1e-6)
    assert float(total) == pytest.approx(sum(float(t) for t, _ in alone), rel=1e-5)
    assert evaluate_rolls(model, [short, long]) == pytest.approx(float(total) / 9, rel=1e-5)


def test_tiny_model_overfits_tiny_roll() -> None:
    rolls = [_arpeggio(16), _arpeggio(12)]
    config = PianoRollConfig(cell="gru", hidden_size=32)
    before = evaluate_rolls(PianoRollModel(config), rolls)
    result = train_piano_roll(config, RollTrainConfig(batch_size=2, lr=2e-2, max_epochs=150, minutes=0, patience=0,
                                                      weight_decay=0.0), rolls, rolls)
    assert before > 30  # about 88 * log 2 at init
    # Only the first frame is unpredictable (3 of 88 keys on): the rest is a deterministic cycle.
    assert result.best_valid < 2.0
    assert result.best_valid == pytest.approx(evaluate_rolls(result.model, rolls), rel=1e-5)


def test_load_splits_and_pitch_range(tmp_path) -> None:
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps({"train": [[[21, 108], [], [60]]], "valid": [[[60]]], "test": [[[64, 67]], []]}))
    data = load_splits(path)
    assert [len(data[k]) for k in ("train", "valid", "test")] == [1, 1, 1]  # empty sequences dropped
    roll = data["train"][0]
    assert roll.shape == (3, KEYS) and roll[0, 0] == 1 and roll[0, 87] == 1 and roll[1].sum() == 0
    assert roll[2, 39] == 1
    with pytest.raises(StudioError, match="outside the piano"):
        pitches_to_roll([[20]])
    with pytest.raises(StudioError):
        PianoRollConfig(cell="transformer")


# -- top-down frames: each key reads the keys above it --------------------------------------------------------------
def _two_chords(length: int, seed: int) -> torch.Tensor:
    """Each frame one of two chords at random: unpredictable from the past, certain once its top note is known."""
    generator = torch.Generator().manual_seed(seed)
    chords = [[60, 64, 67], [62, 65, 69]]
    return pitches_to_roll([chords[int(torch.randint(2, (1,), generator=generator))] for _ in range(length)])


@pytest.mark.parametrize("hidden", [0, 12, 100])
def test_a_top_down_key_reads_only_the_keys_above_it(hidden: int) -> None:
    torch.manual_seed(0)
    model = PianoRollModel(PianoRollConfig(cell="gru", hidden_size=16, within_frame="top_down", frame_hidden=hidden))
    assert torch.equal(model.frame(torch.randn(3, 16), torch.ones(3, KEYS)), torch.zeros(3, KEYS))  # starts as
    for param in model.frame.parameters():                                                         # independent
        torch.nn.init.normal_(param, std=0.5)
    frame = (torch.rand(KEYS) > 0.7).float()
    jacobian = torch.autograd.functional.jacobian(lambda f: model.frame_logits(torch.ones(16), f), frame)
    reads = jacobian.abs() > 0                      # reads[k, j]: key k's logit moves with key j
    above = torch.ones(KEYS, KEYS, dtype=torch.bool).triu(1)
    assert not reads[~above].any()                  # never itself or a lower key
    assert reads[above].all()                       # but every key above it
    if hidden:  # the hidden layer alone (whatever ReLU switched off above): paths from key j to key k iff j > k
        paths = (model.frame.out_mask @ model.frame.in_mask) > 0
        assert not paths[~above].any()
        assert paths[above].all() == (hidden >= KEYS - 1)  # every pair once each place has a unit


def test_a_top_down_model_learns_chords_that_independent_keys_cannot() -> None:
    train, valid = [_two_chords(40, s) for s in range(4)], [_two_chords(40, 9)]
    figures = {}
    for within in ("independent", "top_down"):
        config = PianoRollConfig(cell="gru", hidden_size=16, within_frame=within)
        result = train_piano_roll(config, RollTrainConfig(batch_size=4, lr=3e-2, max_epochs=120, minutes=0,
                                                          patience=0, weight_decay=0.0), train, valid)
        figures[within] = result.best_valid
    # Six keys each on half the time: independent coins cost 6 log 2 = 4.16 nats a frame at best; drawn from the
    # top, only the top note is a coin (log 2 = 0.69) and the rest follows (1.17 after these 120 epochs).
    assert figures["independent"] > 6 * math.log(2) - 0.1
    assert figures["top_down"] < 1.5


def test_frame_hidden_needs_top_down() -> None:
    with pytest.raises(StudioError, match="frame_hidden needs within_frame 'top_down'"):
        PianoRollConfig(frame_hidden=8)
    with pytest.raises(StudioError, match="within_frame"):
        PianoRollConfig(within_frame="bottom_up")
