"""``studio finetune --resume`` for every kind of model: a run stopped part-way and resumed gives the same losses
and the same weights as one never stopped, and ``kill -9`` at random moments (checkpoint writes included) never
leaves a run that can neither resume nor start again.

The bases are the tiny local models of ``ui_support`` (trained here in seconds); the corpora are written here.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from ui_support import CORPUS, blues_midis, chord_piece, tiny_runs

from studio.checkpoint import bundle_exists, read_bundle
from studio.cli import main

REPO = Path(__file__).resolve().parent.parent
BASES = {"text": "tiny-text", "leadsheet": "tiny-blues", "polyphonic": "tiny-chorale", "piano_roll": "tiny-rolls"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_runs(tmp_path_factory.getbasetemp())


def _corpus(kind: str, folder: Path) -> Path:
    folder.mkdir(parents=True)
    if kind == "text":
        (folder / "letters.txt").write_text(CORPUS.upper() * 3, encoding="utf-8")
        (folder / "note.txt").write_text("Dear friend, the summer was long and the river low.\n" * 5,
                                         encoding="utf-8")
    elif kind == "leadsheet":
        blues_midis(folder, 6, seed=4)
    else:
        for i in range(5):
            chord_piece(i + 3, bars=6).write(str(folder / f"piece{i}.mid"))
    return folder


def _command(kind: str, runs: Path, corpus: Path, out: Path, steps: int) -> list[str]:
    return ["finetune", "--base", str(runs / BASES[kind]), "--corpus", str(corpus), "--out", str(out),
            "--max-steps", str(steps), "--schedule", "constant", "--warmup", "0", "--eval-every", "2",
            "--batch-size", "4", "--seq-len", "32", "--lr", "3e-3", "--samples", "0", "--device", "cpu"]


def _evaluations(out: Path, kind: str) -> list[tuple[int, float]]:
    if kind == "piano_roll":
        rows = json.loads((out / "history.json").read_text(encoding="utf-8"))
        return [(r["epoch"], r["valid"]) for r in rows]
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]
    return [(r["step"], r["valid_nats_per_token"]) for r in lines if r["kind"] == "eval"]


@pytest.mark.parametrize("kind", list(BASES))
def test_a_resumed_finetune_gives_the_same_losses_and_weights(kind: str, runs: Path, tmp_path: Path) -> None:
    corpus = _corpus(kind, tmp_path / "corpus")
    whole, split = tmp_path / "whole", tmp_path / "split"
    assert main(_command(kind, runs, corpus, whole, 6)) in (0, 1)  # 1: no new model, which is fine here
    assert main(_command(kind, runs, corpus, split, 2)) in (0, 1)
    assert main([*_command(kind, runs, corpus, split, 6), "--resume"]) in (0, 1)
    assert len(_evaluations(whole, kind)) >= 3
    resumed, uninterrupted = _evaluations(split, kind), _evaluations(whole, kind)
    assert [step for step, _ in resumed] == [step for step, _ in uninterrupted]
    assert [loss for _, loss in resumed] == pytest.approx([loss for _, loss in uninterrupted], abs=1e-6)
    a, b = read_bundle(whole / "last").weights, read_bundle(split / "last").weights
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=1e-6)
    assert bundle_exists(whole / "best") == bundle_exists(split / "best")


def test_resume_needs_a_run_and_the_same_corpus(runs: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    corpus = _corpus("text", tmp_path / "corpus")
    assert main([*_command("text", runs, corpus, tmp_path / "none", 4), "--resume"]) == 2
    assert "nothing to resume in" in capsys.readouterr().err
    assert main(_command("text", runs, corpus, tmp_path / "run", 2)) in (0, 1)
    assert main(_command("text", runs, corpus, tmp_path / "run", 4)) == 2
    assert "continue it with --resume" in capsys.readouterr().err
    (corpus / "note.txt").write_text("Another text altogether.\n" * 9, encoding="utf-8")
    assert main([*_command("text", runs, corpus, tmp_path / "run", 4), "--resume"]) == 2
    assert "differs from the one this run started on" in capsys.readouterr().err
    rolls = _corpus("piano_roll", tmp_path / "music")
    assert main(_command("piano_roll", runs, rolls, tmp_path / "rolls", 1)) in (0, 1)
    chord_piece(11, bars=3).write(str(rolls / "piece0.mid"))
    assert main([*_command("piano_roll", runs, rolls, tmp_path / "rolls", 2), "--resume"]) == 2
    assert "differs from the pieces the run" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["text", "piano_roll"])
def test_kill_9_at_random_moments_never_leaves_an_unresumable_finetune(kind: str, runs: Path, tmp_path: Path) -> None:
    corpus = _corpus(kind, tmp_path / "corpus")
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "studio", *_command(kind, runs, corpus, out, 400)]
    command[command.index("--eval-every") + 1] = "1"  # a checkpoint write after every step: kills land in them
    rng = random.Random(11 if kind == "text" else 12)
    progress = []
    for attempt in range(4):
        resume = bundle_exists(out / "last")  # else the kill came before the first checkpoint: start again
        proc = subprocess.Popen([*command, *(["--resume"] if resume else [])], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        # The first kill may come at any moment (before the first checkpoint too); later ones once this attempt
        # has written a checkpoint of its own.
        while attempt and time.monotonic() < deadline and proc.poll() is None and _done(out, kind) <= progress[-1]:
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 1.5 if attempt == 0 else 0.4))
        proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate(timeout=30)
        assert "Traceback" not in err, err
        if bundle_exists(out / "last"):
            bundle = read_bundle(out / "last", with_state=True)  # whole, whatever the moment of the kill
            assert bundle.state is not None and bundle.weights
        progress.append(_done(out, kind))
    assert progress == sorted(progress) and progress[-1] > max(0, progress[0])  # every resume went forward
    budget = str(progress[-1] + 2)
    command[command.index("--max-steps") + 1] = budget
    done = subprocess.run([*command, "--resume"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode in (0, 1), done.stderr[-2000:]  # 1: no new model yet, said so
    assert _done(out, kind) == progress[-1] + 2


def _done(out: Path, kind: str) -> int:
    """Steps (epochs for a piano-roll model) the run's last checkpoint has done; -1 without one."""
    try:
        state = read_bundle(out / "last", with_state=True).state
    except Exception:  # not written yet, or a swap in progress: the next poll sees it
        return -1
    return int(state["loop"]["epoch"] if kind == "piano_roll" else state["step"])
