"""A fine-tune cut short by a server restart: the restarted page lists it as interrupted and resumes it.

Two real servers (``studio ui`` in a subprocess), one killed with SIGKILL while it trains; driven through the
page's API as a client would.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from ui_support import CORPUS, free_port

from studio.checkpoint import bundle_exists, read_bundle

REPO = Path(__file__).resolve().parent.parent


@contextmanager
def _server(runs: Path, workspace: Path):
    """``studio ui`` on a free port in its own process; yields (process, client)."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "STUDIO_UI_WORKSPACE": str(workspace)}
    proc = subprocess.Popen([sys.executable, "-m", "studio", "ui", "--runs", str(runs), "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            assert proc.poll() is None and time.monotonic() < deadline, "the page did not come up"
            time.sleep(0.5)
    client = Client(url, verbose=False, analytics_enabled=False, download_files=str(workspace / "downloads"))
    try:
        yield proc, client
    finally:
        client.close()
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)


def test_a_run_cut_short_by_a_restart_is_listed_and_resumes(tmp_path: Path) -> None:
    from studio.config import TokenizerConfig, TrainConfig
    from studio.text.training import train_text

    runs = tmp_path / "runs"
    (tmp_path / "base.txt").write_text(CORPUS, encoding="utf-8")
    train_text(tmp_path / "base.txt", runs / "tiny-text", {"hidden_size": 32, "num_layers": 1, "embedding_size": 16},
               TokenizerConfig(), TrainConfig(batch_size=4, seq_len=32, max_steps=10, eval_every=10, warmup_steps=2,
                                              device="cpu"), command="test")
    letters = tmp_path / "letters.txt"
    letters.write_text("The roses by the river were red and the summer was long and slow.\n" * 300)
    out = runs / "cut"
    with _server(runs, tmp_path / "ws1") as (proc, client):
        client.submit(files=[handle_file(str(letters))], base=str(runs / "tiny-text"), minutes=5,
                      max_steps=100_000, name="cut", api_name="/train")
        deadline = time.monotonic() + 120
        while not (bundle_exists(out / "last") and read_bundle(out / "last", with_state=True).state["step"] > 0):
            assert time.monotonic() < deadline, "the run made no checkpoint"
            time.sleep(0.2)
        proc.send_signal(signal.SIGKILL)  # the server goes away mid-run
        proc.wait(timeout=30)
    record = json.loads((out / "page-run.json").read_text())
    assert record["status"] == "running" and (out / "corpus").is_dir()
    step = int(read_bundle(out / "last", with_state=True).state["step"])
    with _server(runs, tmp_path / "ws2") as (_, client):
        listing, pick = client.predict(api_name="/interrupted_runs")  # (the row it shows is layout)
        assert "`cut`" in listing and f"its last checkpoint is at step {step}" in listing
        assert "cut" in str(pick)
        status, _, notes = client.predict(name="cut", minutes=0.1, api_name="/resume_training")
        assert "**done**" in status and "cut (local)" in status, status
        assert f"resumed from its last checkpoint (step {step})" in notes
        listing, _ = client.predict(api_name="/interrupted_runs")
        assert "`cut`" not in listing  # done: no longer interrupted
        with pytest.raises(Exception, match="not an interrupted run"):
            client.predict(name="cut", minutes=0.1, api_name="/resume_training")
    assert bundle_exists(out / "best") and int(read_bundle(out / "last", with_state=True).state["step"]) > step
    assert json.loads((out / "page-run.json").read_text())["status"] == "done" and not (out / "corpus").exists()
