"""Crash safety with real processes: kill -9 at random moments (checkpoint writes included) never leaves a
checkpoint that does not load, and training resumes every time; a corpus with planted bad files is ingested with
exactly those files reported."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from studio.checkpoint import read_bundle

REPO = Path(__file__).resolve().parent.parent


def _corpus(path: Path) -> Path:
    rng = random.Random(0)
    words = ["the", "king", "and", "queen", "of", "night", "shall", "speak", "to", "thee", "my", "lord", "what",
             "light", "through", "yonder", "window"]
    path.write_text("\n".join(" ".join(rng.choice(words) for _ in range(12)) for _ in range(4000)), encoding="utf-8")
    return path


def test_kill_9_at_random_moments_always_leaves_a_loadable_checkpoint(tmp_path: Path) -> None:
    corpus = _corpus(tmp_path / "c.txt")
    run = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    base = [sys.executable, "-m", "studio", "train", "text", "--corpus", str(corpus), "--out", str(run), "--hidden",
            "32", "--layers", "1", "--embedding", "16", "--batch-size", "4", "--seq-len", "32", "--eval-every", "2",
            "--eval-tokens", "2000", "--warmup", "0", "--device", "cpu"]
    rng = random.Random(7)
    steps = []
    for attempt in range(4):
        args = [*base, "--max-steps", "100000"] + (["--resume"] if attempt else [])
        proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        # wait until this attempt has written at least one checkpoint of its own, then kill at a random moment
        while time.monotonic() < deadline and proc.poll() is None:
            if (run / "last").exists() and (not steps or _step(run) > steps[-1]):
                break
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 0.6))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        bundle = read_bundle(run / "last", with_state=True)  # must load, whatever the moment of the kill
        assert bundle.state is not None and bundle.weights
        steps.append(int(bundle.state["step"]))
    assert steps == sorted(steps) and steps[-1] > steps[0]  # every resume went forward
    done = subprocess.run([*base, "--resume", "--max-steps", str(steps[-1] + 4)], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert _step(run) == steps[-1] + 4


def _step(run: Path) -> int:
    try:
        return int(read_bundle(run / "last", with_state=True).state["step"])
    except Exception:  # a swap in progress: the next poll sees it
        return -1


def test_planted_bad_music_files_are_reported_and_every_good_file_used(tmp_path: Path) -> None:
    from test_midi_io import BAD_FILES

    from studio.music.io.corpus import read_leadsheet_corpus
    from studio.music.leadsheet.procedural import generate_blues_corpus, write_corpus

    folder = tmp_path / "corpus"
    good = write_corpus(generate_blues_corpus(8, seed=2), folder)
    planted = {"truncated.mid": "truncated", "random.mid": "random bytes", "silent.mid": "no notes",
               "huge.mid": "absurd ticks"}
    for name, case in planted.items():
        (folder / name).write_bytes(BAD_FILES[case][0])
    (folder / "zz-copy.mid").write_bytes(Path(good[0]).read_bytes())  # a duplicate is counted once
    sheets, report = read_leadsheet_corpus([folder])
    skipped = {Path(name).name: reason for name, reason in report.skipped}
    assert set(skipped) == {*planted, "zz-copy.mid"}
    assert "duplicate of" in skipped["zz-copy.mid"]
    assert sorted(Path(p).name for p in report.used) == sorted(Path(p).name for p in good)
    assert len(sheets) == len(good)


@pytest.mark.parametrize("count", [1])
def test_empty_zip_is_reported_not_fatal(tmp_path: Path, count: int) -> None:
    from studio.text.corpus import read_text_files

    (tmp_path / "a.txt").write_text("hello world\n" * count, encoding="utf-8")
    (tmp_path / "empty.zip").write_bytes(b"")
    texts, report = read_text_files(tmp_path)
    assert [Path(n).name for n, _ in texts] == ["a.txt"]
    assert any(Path(n).name == "empty.zip" and "empty zip" in r for n, r in report.skipped)
