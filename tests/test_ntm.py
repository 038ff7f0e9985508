"""The Neural Turing Machine: each addressing stage does what the paper says, the machine runs and learns, the copy
and recall tasks are laid out as in the paper, training resumes exactly, bundles save and load, pictures and the
benchmark scripts run, and bad settings are refused with the range."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest
import torch

from studio.checkpoint import read_bundle
from studio.cli import main
from studio.errors import StudioError
from studio.loading import describe
from studio.memory.evaluation import evaluate_sizes, weightings_png
from studio.memory.tasks import copy_batch, get_task, recall_batch, sequence_costs
from studio.memory.training import MachineTrainConfig, build_machine, load_machine, score_batches, train_machine
from studio.models.ntm import NTM, NTMConfig, address

ROOT = Path(__file__).resolve().parent.parent
SMALL = {"controller_size": 16, "memory_rows": 12, "memory_width": 6}
QUICK = MachineTrainConfig(batch_size=4, max_steps=6, eval_every=3, valid_batches=2, seed=3)


def _params(batch: int, rows: int, width: int, **given):
    """Addressing parameters that leave a weighting alone unless a test says otherwise."""
    p = {"key": torch.zeros(batch, width), "beta": torch.ones(batch, 1), "gate": torch.ones(batch, 1),
         "shift": torch.tensor([[0.0, 1.0, 0.0]]).expand(batch, 3), "gamma": torch.ones(batch, 1)}
    p.update(given)
    return p


def test_content_addressing_finds_the_row_most_like_the_key() -> None:
    memory = torch.randn(2, 10, 5)
    key = memory[:, 7] * 3.0  # the same direction as row 7, another length: cosine similarity ignores length
    w = address(memory, torch.full((2, 10), 0.1), **_params(2, 10, 5, key=key, beta=torch.full((2, 1), 50.0)))
    assert torch.allclose(w.sum(-1), torch.ones(2))
    assert w.argmax(-1).tolist() == [7, 7] and float(w[:, 7].min()) > 0.9


def test_the_gate_keeps_the_previous_weighting_and_the_shift_turns_it_round_the_memory() -> None:
    memory = torch.randn(1, 6, 4)
    previous = torch.zeros(1, 6)
    previous[0, 5] = 1.0
    kept = address(memory, previous, **_params(1, 6, 4, gate=torch.zeros(1, 1)))
    assert torch.allclose(kept, previous, atol=1e-6)
    forward = address(memory, previous, **_params(1, 6, 4, gate=torch.zeros(1, 1),
                                                  shift=torch.tensor([[0.0, 0.0, 1.0]])))
    assert forward.argmax().item() == 0  # from the last row, one step on wraps round to the first
    back = address(memory, previous, **_params(1, 6, 4, gate=torch.zeros(1, 1), shift=torch.tensor([[1.0, 0, 0]])))
    assert back.argmax().item() == 4


def test_sharpening_undoes_the_blur_of_a_split_shift() -> None:
    memory = torch.randn(1, 8, 4)
    previous = torch.zeros(1, 8)
    previous[0, 3] = 1.0
    blur = torch.tensor([[0.2, 0.6, 0.2]])
    soft = address(memory, previous, **_params(1, 8, 4, gate=torch.zeros(1, 1), shift=blur))
    sharp = address(memory, previous, **_params(1, 8, 4, gate=torch.zeros(1, 1), shift=blur,
                                                gamma=torch.full((1, 1), 10.0)))
    assert float(soft[0, 3]) == pytest.approx(0.6, abs=1e-5)
    assert float(sharp[0, 3]) > 0.99


def test_addressing_gradients_match_finite_differences() -> None:
    torch.manual_seed(0)
    args = (torch.randn(2, 5, 3, dtype=torch.float64), torch.softmax(torch.randn(2, 5, dtype=torch.float64), -1),
            torch.randn(2, 3, dtype=torch.float64), torch.rand(2, 1, dtype=torch.float64) + 0.5,
            torch.rand(2, 1, dtype=torch.float64), torch.softmax(torch.randn(2, 3, dtype=torch.float64), -1),
            torch.rand(2, 1, dtype=torch.float64) + 1.0)
    assert torch.autograd.gradcheck(address, [a.requires_grad_() for a in args])


def test_the_machine_reads_writes_and_passes_gradients_to_every_parameter() -> None:
    torch.manual_seed(0)
    ntm = NTM(NTMConfig(**SMALL))
    inputs, targets, mask = copy_batch(3, 4, torch.Generator().manual_seed(0))
    logits, weights = ntm(inputs, return_weightings=True)
    assert logits.shape == (3, 9, 8)
    for name in ("read", "write"):
        assert weights[name].shape == (3, 9, 12)
        assert torch.allclose(weights[name].sum(-1), torch.ones(3, 9), atol=1e-5)
    sequence_costs(logits, targets, mask)["nats"].mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in ntm.parameters())


def test_copy_and_recall_batches_ask_for_what_the_paper_asks() -> None:
    inputs, targets, mask = copy_batch(2, 5, torch.Generator().manual_seed(1))
    assert inputs.shape == (2, 11, 9) and mask[:, 6:].all() and not mask[:, :6].any()
    assert torch.equal(targets[:, 6:], inputs[:, :5, :8]) and inputs[:, 5, 8].eq(1).all()
    inputs, targets, mask = recall_batch(4, 3, torch.Generator().manual_seed(2))
    assert inputs.shape == (4, 20, 8) and mask.sum(1).tolist() == [3.0] * 4
    items = inputs[:, :12].reshape(4, 3, 4, 8)[:, :, 1:, :6]           # 3 items of 3 vectors, after their delimiters
    query = inputs[:, 13:16, :6]
    for b in range(4):
        at = next(i for i in range(3) if torch.equal(items[b, i], query[b]))
        assert torch.equal(targets[b, 17:], items[b, at + 1])
    with pytest.raises(StudioError, match=r"recall size must be in \[2, 40\] items"):
        get_task("recall").batch(1, 1, torch.Generator())


def test_a_small_machine_learns_to_copy_short_sequences() -> None:
    """Seeded, so it passes or fails the same way every time: 150 steps take the bit errors of 3-vector copies
    well below chance (12 of 24 bits)."""
    torch.manual_seed(0)
    ntm = NTM(NTMConfig(controller_size=32, memory_rows=8, memory_width=8))
    valid = [copy_batch(64, 3, torch.Generator().manual_seed(99))]
    before = score_batches(ntm, valid)["bit_errors_per_sequence"]
    optimizer = torch.optim.Adam(ntm.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(0)
    for _ in range(150):
        x, y, m = copy_batch(16, int(torch.randint(1, 4, (1,), generator=generator)), generator)
        loss = sequence_costs(ntm(x), y, m)["nats"].mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    after = score_batches(ntm, valid)["bit_errors_per_sequence"]
    assert before > 10 and after < 0.7 * before


def test_training_resumes_exactly_and_the_bundles_load(tmp_path) -> None:
    whole = train_machine("copy", "ntm", tmp_path / "whole", SMALL, QUICK, command="test")
    part = MachineTrainConfig.from_dict({**QUICK.to_dict(), "max_steps": 3})
    train_machine("copy", "ntm", tmp_path / "part", SMALL, part, command="test")
    longer = MachineTrainConfig.from_dict({**QUICK.to_dict(), "lr": 0.5})  # only its budgets count on resuming
    train_machine("copy", "ntm", tmp_path / "part", train_config=longer, resume=True)
    a, b = read_bundle(tmp_path / "whole" / "last").weights, read_bundle(tmp_path / "part" / "last").weights
    assert all(torch.equal(a[k], b[k]) for k in a)
    model, task, card = load_machine(whole)
    assert card["model_kind"] == "memory_task" and card["machine"] == "ntm" and task.name == "copy"
    assert "NTM on the copy task" in describe(card)
    x, _, _ = copy_batch(2, 3, torch.Generator().manual_seed(0))
    saved = read_bundle(whole).weights
    fresh = build_machine("ntm", task, card["model_config"])
    fresh.load_state_dict(saved)
    assert torch.equal(model(x), fresh.eval()(x))
    with pytest.raises(StudioError, match="already holds a training run"):
        train_machine("copy", "ntm", tmp_path / "whole", SMALL, QUICK)


def test_the_lstm_baseline_trains_on_recall_and_is_scored_by_size(tmp_path) -> None:
    best = train_machine("recall", "lstm", tmp_path / "lstm", {"hidden_size": 8}, QUICK, command="test")
    model, task, card = load_machine(best)
    scores = evaluate_sizes(model, task, sizes=(2, 4), sequences=3)
    assert set(scores) == {2, 4} and all(0 <= s["perfect"] <= 1 and s["sequences"] == 3 for s in scores.values())
    assert card["parameters"] == sum(p.numel() for p in model.parameters())


def test_the_weightings_picture_is_drawn(tmp_path) -> None:
    torch.manual_seed(0)
    info = weightings_png(NTM(NTMConfig(**SMALL)), get_task("copy"), 4, tmp_path / "w.png")
    assert (tmp_path / "w.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert 0 <= info["locations"][0] <= info["locations"][1] < 12


@pytest.mark.parametrize("settings, message", [
    ({"memory_rows": 1}, r"memory_rows must be in \[2, 65536\], got 1"),
    ({"memory_rows": 10, "shift_range": 5}, r"shift_range must be in \[0, 4\], got 5"),
    ({"controller_size": 0}, r"controller_size must be in \[1, 65536\], got 0"),
])
def test_bad_machine_shapes_are_refused_with_the_range(settings, message) -> None:
    with pytest.raises(StudioError, match=message):
        NTMConfig(**settings)


def test_the_cli_trains_and_refuses_bad_settings_in_one_line(tmp_path, capsys) -> None:
    out = tmp_path / "run"
    assert main(["train", "ntm", "--task", "recall", "--controller", "8", "--memory-rows", "16", "--memory-width",
                 "4", "--batch-size", "2", "--max-steps", "2", "--eval-every", "2", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "step 2:" in printed and "done. Model:" in printed and "  20:" in printed
    for argv, message in ((["--task", "sort"], "task must be one of copy, recall"),
                          (["--machine", "gru"], "machine must be one of ntm, lstm"),
                          (["--lr", "0"], r"lr must be in (0, 1], got 0"),
                          (["--shift-range", "64"], r"shift_range must be in [0, 63], got 64")):
        assert main(["train", "ntm", "--out", str(tmp_path / "x"), *argv]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()


def test_the_benchmark_trains_both_machines_and_writes_the_tables(tmp_path) -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import ntm_tasks
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    out = tmp_path / "bench"
    args = ["--task", "copy", "--max-steps", "2", "--eval-every", "2", "--batch-size", "2", "--controller", "8",
            "--sequences", "2", "--out", str(out)]
    assert ntm_tasks.main(args) == 0
    result = json.loads((out / "result.json").read_text())
    assert set(result["machines"]) == {"ntm", "lstm"}
    assert set(result["machines"]["ntm"]["sizes"]) == {"10", "20", "40", "80", "120"}
    assert (out / "weightings-20.png").exists() and "| 120 |" in (out / "table.md").read_text()
    assert ntm_tasks.main(args) == 0  # again: both runs are finished, so they resume, stop at once and are scored


def test_the_jsb_benchmark_trains_an_ntm_and_an_lstm_piano_roll_model(tmp_path) -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import ntm_jsb
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    chords = [[60, 64, 67], [62, 65, 69], [59, 62, 67], [60, 64, 67]]
    split = [[chords[(i + t) % 4] for t in range(6 + i)] for i in range(3)]
    data = tmp_path / "tiny.json"
    data.write_text(json.dumps({"train": split, "valid": split[:1], "test": split[1:]}))
    out = tmp_path / "jsb.json"
    assert ntm_jsb.main(["--data", str(data), "--minutes", "0.01", "--controller", "8", "--hidden", "8",
                         "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["models"]
    assert set(rows) == {"ntm", "lstm"} and all(math.isfinite(r["test_nats_per_frame"]) for r in rows.values())
