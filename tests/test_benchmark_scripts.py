"""Benchmark scripts whose real run needs a GPU, checked on the CPU so they work when a GPU session runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_cuda_graph_generation_loop_draws_what_the_eager_loop_draws() -> None:
    # On the CPU nothing is captured, but the static-buffer loop that a CUDA graph would replay runs the same
    # arithmetic: from the same noise it must write the same tokens as the step called from Python.
    out = subprocess.run([sys.executable, "benchmarks/generation_cuda_graphs.py", "--device", "cpu", "--length", "40",
                          "--reps", "1", "--json"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["identical_tokens"] is True and result["captured"] is False
    assert result["sample"].startswith("A") and len(result["sample"]) == 41  # one character per token
    assert all(result[f"{name}_tokens_per_s"] > 0 for name in ("generator", "eager", "graph"))


def test_trainer_overhead_script_times_the_trainer_against_a_raw_lstm_loop() -> None:
    out = subprocess.run([sys.executable, "benchmarks/train_overhead.py", "--reps", "1", "--steps", "2",
                          "--hidden", "32", "--seq-len", "16", "--json"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["model"].startswith("lstm 2x32") and result["amp"] is False
    assert result["bare_tokens_per_s_median"] > 0 and result["studio_tokens_per_s_median"] > 0
    ratio = result["studio_tokens_per_s_median"] / result["bare_tokens_per_s_median"]
    assert abs(result["studio_over_bare"] - ratio) < 1e-9


def test_ptb_script_trains_and_scores_every_test_word(tmp_path: Path) -> None:
    # A tiny Penn-Treebank-shaped corpus: one sentence per line, <unk> for rare words, where only the noun (5 ways)
    # and the verb (4 ways) are uncertain: a model that learned the pattern scores exp(ln 20 / 6) = 1.65 per word,
    # uniform guessing over the 13 words about 13. Three epochs of the SMALL recipe must learn most of it.
    import random

    rng = random.Random(0)
    nouns, verbs = ["market", "company", "share", "price", "<unk>"], ["rose", "fell", "said", "traded"]
    for split, lines in (("train", 2000), ("valid", 40), ("test", 40)):
        text = "\n".join(f"the {rng.choice(nouns)} {rng.choice(verbs)} N %" for _ in range(lines))
        (tmp_path / f"ptb.{split}.txt").write_text(text + "\n")
    out = subprocess.run([sys.executable, "benchmarks/ptb.py", "--data", str(tmp_path), "--epochs", "3",
                          "--out", str(tmp_path / "run")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout[out.stdout.index("{"): out.stdout.index("}") + 1])
    assert summary["test_words"] == 40 * 6  # five words and an <eos> per line
    assert summary["epochs"] == 3 and summary["device"] == "cpu" and summary["amp"] is False
    assert 1.6 < summary["test_ppl"] < 3
    assert "| Studio 2x200 LSTM (small, sgd, 3.0 epochs" in out.stdout


def test_weight_drop_benchmark_fine_tunes_one_base_per_setting_through_the_cli(tmp_path: Path) -> None:
    base_text = tmp_path / "base.txt"
    base_text.write_text("Now is the winter of our discontent made glorious summer by this sun of York.\n" * 200)
    made = subprocess.run([sys.executable, "-m", "studio", "train", "text", "--corpus", str(base_text), "--out",
                           str(tmp_path / "base"), "--tokenizer", "char", "--layers", "1", "--hidden", "16",
                           "--batch-size", "4", "--seq-len", "16", "--max-steps", "3", "--eval-every", "3",
                           "--device", "cpu"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr
    mine = tmp_path / "mine.txt"
    mine.write_text("The river rises in the hills and runs south to the sea past the old mill.\n" * 120)
    out = subprocess.run([sys.executable, "benchmarks/weight_drop.py", "--base", str(tmp_path / "base" / "best"),
                          "--corpus", str(mine), "--plain", "--chars", "6000", "--steps", "4", "--eval-every", "2",
                          "--batch-size", "4", "--seq-len", "16", "--weight-drops", "0,0.5",
                          "--out", str(tmp_path / "runs"), "--json"],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["chars"] == 6000 and [r["weight_drop"] for r in result["runs"]] == [0.0, 0.5]
    assert json.loads((tmp_path / "runs" / "result.json").read_text()) == result
    first, second = result["runs"]
    assert first["base_valid"] == second["base_valid"]  # the same base scored on the same validation text
    assert all(r["last_step"] == 4 and [e[0] for e in r["evaluations"]] == [2, 4] for r in result["runs"])
    # Same seed, same batches: only the mask on the recurrent weights tells the runs apart.
    assert first["evaluations"] != second["evaluations"]
    cards = [json.loads((tmp_path / "runs" / name / "best" / "model.json").read_text())["model_config"]
             for name in ("weight-drop-0-seed-1", "weight-drop-0.5-seed-1")]
    assert [c.get("weight_drop", 0.0) for c in cards] == [0.0, 0.5]
    assert (tmp_path / "runs" / "weight-drop-0.5-seed-1.log").exists()
