"""The cell benchmarks end to end on tiny shapes and tiny corpora written here (a fresh clone has no ../shared):
``benchmarks/cell_speed.py`` (training-step ratios to nn.LSTM) and ``benchmarks/cell_comparison.py`` (cells at equal
parameter counts and time budgets)."""

from __future__ import annotations

import importlib.util
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cell_speed_reports_medians_and_their_ratio_to_nn_lstm() -> None:
    out = subprocess.run([sys.executable, "benchmarks/cell_speed.py", "--shapes", "1x8:2x4,2x6:3x5", "--reps", "2",
                          "--warmup", "0", "--json"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["threads"] == 1 and [row["shape"] for row in result["shapes"]] == ["1x8:2x4", "2x6:3x5"]
    for row in result["shapes"]:
        assert set(row["median_seconds"]) == {"lstm", "cplstm", "lnlstm"}
        assert all(len(times) == 2 for times in row["seconds_per_step"].values())
        for cell, median in row["median_seconds"].items():
            assert row["ratio_to_lstm"][cell] == pytest.approx(median / row["median_seconds"]["lstm"], rel=0.01)


@pytest.mark.parametrize("cell", ["rnn", "gru", "cplstm", "lnlstm"])
def test_hidden_sizes_are_solved_to_the_reference_lstms_parameter_count(cell: str) -> None:
    comparison = _script("cell_comparison")
    args = comparison.parse_args(["--text-embedding", "16"])
    for make in (lambda c, h: comparison.text_model_config(c, h, 65, args), comparison.roll_model_config):
        target = comparison.count_parameters(make("lstm", 96))
        hidden = comparison.solve_hidden(lambda h, m=make: m(cell, h), target)
        counts = {h: comparison.count_parameters(make(cell, h)) for h in (hidden - 1, hidden, hidden + 1)}
        assert abs(counts[hidden] - target) == min(abs(n - target) for n in counts.values())
        assert abs(counts[hidden] - target) / target < 0.02


def test_cell_comparison_trains_every_task_and_writes_the_summary(tmp_path: Path, capsys) -> None:
    rng = random.Random(0)
    text = tmp_path / "tinyshakespeare" / "input.txt"
    text.parent.mkdir(parents=True)
    text.write_text("".join(rng.choice(["ROMEO: ", "JULIET: ", "the night ", "my love ", "\n"]) for _ in range(3000)))
    rolls = tmp_path / "polyphonic" / "json" / "jsb_chorales.json"
    rolls.parent.mkdir(parents=True)
    chords = [[60, 64, 67], [62, 65, 69], [59, 62, 67], [57, 60, 64]]
    pieces = [[chords[(i + j) % 4] for j in range(10)] for i in range(6)]
    rolls.write_text(json.dumps({"train": pieces[:4], "valid": pieces[4:5], "test": pieces[5:]}))
    out = tmp_path / "result.json"
    common = ["--seeds", "1", "--minutes", "0.005", "--corpora", str(tmp_path), "--text-lstm-hidden", "16",
              "--text-batch", "4", "--text-seq-len", "16", "--text-eval-every", "5", "--roll-lstm-hidden", "8"]
    comparison = _script("cell_comparison")
    comparison.main(["--tasks", "shakespeare,jsb", "--cells", "lstm,lnlstm", "--jobs", "0", *common,
                     "--json", str(out)])
    printed = capsys.readouterr().out
    result = json.loads(out.read_text())
    assert [(r["task"], r["cell"]) for r in result["runs"]] == [("shakespeare", "lstm"), ("shakespeare", "lnlstm"),
                                                                ("jsb", "lstm"), ("jsb", "lnlstm")]
    for row in result["runs"]:
        assert row["unit"] == ("nats/char" if row["task"] == "shakespeare" else "nats/frame")
        assert 0 < row["score"] < 80 and row["tokens_per_s"] > 0
        assert abs(row["parameters"] - row["target_parameters"]) / row["target_parameters"] < 0.05
    assert set(result["summary"]) == {"shakespeare", "jsb"} and result["summary"]["jsb"]["lnlstm"]["seeds"] == 1
    assert "| jsb | LN-LSTM |" in printed
    # The real runs go one per process: the same run there gives a row of the same shape.
    done = subprocess.run([sys.executable, "benchmarks/cell_comparison.py", "--tasks", "jsb", "--cells", "cplstm",
                           "--jobs", "1", *common], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "| jsb | CP-LSTM |" in done.stdout and "jsb cplstm seed 1:" in done.stdout


def test_results_of_two_invocations_merge_into_one_summary(tmp_path) -> None:
    """--merge: the seeds of two result files summarised together (a run repeated in both counted once)."""
    def run(seed: int, score: float) -> dict:
        return {"task": "jsb", "cell": "lstm", "seed": seed, "unit": "nats/frame", "hidden": 300,
                "parameters": 573_782, "score": score, "tokens_per_s": 100.0}
    for name, runs in (("a.json", [run(1, 5.0)]), ("b.json", [run(2, 5.2), run(3, 5.4), run(1, 5.0)])):
        (tmp_path / name).write_text(json.dumps({"command": name, "minutes": 2.0, "runs": runs}))
    out = subprocess.run([sys.executable, "benchmarks/cell_comparison.py", "--merge", str(tmp_path / "a.json"),
                          str(tmp_path / "b.json"), "--json", str(tmp_path / "m.json")], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    summary = json.loads((tmp_path / "m.json").read_text())["summary"]["jsb"]["lstm"]
    assert summary["seeds"] == 3 and summary["mean"] == pytest.approx(5.2) and summary["std"] == pytest.approx(0.2)
    assert "| jsb | LSTM | 300 | 573,782 | 3 | 5.200 ± 0.200 nats/frame |" in out.stdout
