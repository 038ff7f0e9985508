"""The Trainer and the text-training job: learning, exact resume, batching, evaluation, budgets, run folder, Ctrl-C.

Every model here is tiny (hidden 32-64) and every corpus a few KB, so the whole file runs in seconds on 2 CPU cores;
only the Ctrl-C test starts a subprocess.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import studio.text.training as text_training
from studio.checkpoint import read_bundle, read_card
from studio.config import ModelConfig, TokenizerConfig, TrainConfig
from studio.errors import StudioError
from studio.loading import build_model, load_model
from studio.text.training import train_text
from studio.training.batches import StreamBatcher, evaluation_windows
from studio.training.evaluate import evaluate_loss, loss_metrics
from studio.training.log import MetricsLog, read_jsonl

REPO = Path(__file__).resolve().parent.parent
WORDS = ["the", "a", "cat", "dog", "sat", "on", "mat", "ran", "fast", "slow", "blue", "red", "sky", "sea", "wind",
         "song", "night", "day", "light", "dark", "river", "stone", "green", "old", "young", "sang", "under", "over",
         "quiet", "loud"]

TINY_MODEL = {"cell": "lstm", "num_layers": 1, "hidden_size": 32, "embedding_size": 16}
DROPOUT_MODEL = {"cell": "lstm", "num_layers": 2, "hidden_size": 32, "embedding_size": 16,
                 "dropout_embedding": 0.2, "dropout_between": 0.2, "dropout_output": 0.2}


def prose(n_words: int, seed: int = 0) -> str:
    """Seeded pseudo-prose: varied enough that no model predicts it perfectly, regular enough to learn from."""
    rng = random.Random(seed)
    lines, line = [], []
    for _ in range(n_words):
        line.append(rng.choice(WORDS))
        if len(line) >= rng.randint(6, 12):
            lines.append(" ".join(line) + ".")
            line = []
    lines.append(" ".join(line) + ".")
    return "\n".join(lines)


def config(**overrides) -> TrainConfig:
    base = {"batch_size": 4, "seq_len": 16, "lr": 5e-3, "warmup_steps": 0, "schedule": "constant",
            "max_steps": 20, "eval_every": 10, "device": "cpu"}
    return TrainConfig(**{**base, **overrides})


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    path = tmp_path / "corpus.txt"
    path.write_text(prose(700), encoding="utf-8")
    return path


class _Recorder:
    """A callback keeping every event, with step losses and eval metrics indexed by step."""

    def __init__(self) -> None:
        self.events = []
        self.losses: dict[int, float] = {}
        self.evals: dict[int, dict] = {}

    def __call__(self, event) -> None:
        self.events.append(event)
        if event.kind == "step":
            self.losses[event.step] = event.data["loss"]
        elif event.kind == "eval":
            self.evals[event.step] = dict(event.data)

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]


@pytest.fixture
def trainers(monkeypatch: pytest.MonkeyPatch) -> list:
    """Every Trainer that ``train_text`` builds, so a callback can call ``request_stop`` on the live instance.

    The subclass only records itself; all training behaviour is the real Trainer's.
    """
    made: list = []

    class RecordingTrainer(text_training.Trainer):
        def __init__(self, *args, **kwargs) -> None:
            made.append(self)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(text_training, "Trainer", RecordingTrainer)
    return made


# -- learning ---------------------------------------------------------------------------------------------------
def test_tiny_model_overfits_tiny_corpus(tmp_path: Path) -> None:
    text = ("the quick brown fox jumps over the lazy dog. " * 7)[:300]
    corpus = tmp_path / "fox.txt"
    corpus.write_text(text, encoding="utf-8")
    vocab = len(set(text)) + 1  # plus the reserved unknown id
    rec = _Recorder()
    result = train_text(corpus, tmp_path / "run", {**TINY_MODEL, "hidden_size": 64},
                        TokenizerConfig(kind="char"), config(lr=1e-2, max_steps=150, eval_every=50),
                        callbacks=[rec], command="test")
    first = rec.losses[1]
    assert abs(first - math.log(vocab)) < 0.3, f"initial loss {first:.3f} should be near ln({vocab})"
    final = sum(rec.losses[s] for s in range(141, 151)) / 10
    assert final < 0.5, f"training loss only fell from {first:.3f} to {final:.3f} nats/token"
    # The held-out tail is the same repeated sentence, so validation must fall far below chance too.
    assert result.best_metrics["valid_nats_per_token"] < 0.5
    assert result.stop_reason == "max_steps" and result.steps == 150


def test_sgd_with_the_step_schedule_learns_and_decays_on_time(tmp_path: Path) -> None:
    """Zaremba et al.'s recipe: plain SGD, full rate until decay_start, then halved every decay_every steps."""
    corpus = tmp_path / "fox.txt"
    corpus.write_text(("the quick brown fox jumps over the lazy dog. " * 7)[:300], encoding="utf-8")
    rec = _Recorder()
    train_text(corpus, tmp_path / "run", TINY_MODEL, TokenizerConfig(kind="char"),
               config(optimizer="sgd", lr=20.0, schedule="step", decay_start=30, decay_every=20, max_steps=80,
                      eval_every=40), callbacks=[rec], command="test")
    lrs = {e.step: e.data["lr"] for e in rec.events if e.kind == "step"}
    assert lrs[1] == lrs[30] == 20.0
    assert lrs[31] == lrs[50] == 10.0 and lrs[51] == lrs[70] == 5.0 and lrs[71] == 2.5
    early = sum(rec.losses[s] for s in range(1, 6)) / 5
    late = sum(rec.losses[s] for s in range(71, 81)) / 10
    assert late < early - 1.0, f"SGD loss only fell from {early:.3f} to {late:.3f}"


# -- exact resume ------------------------------------------------------------------------------------------------
def _resume_config(optimizer: str = "adamw") -> TrainConfig:
    # batch 8 x seq 16 over ~3.4k characters: ~23 windows per epoch, so 50 steps cross two epoch boundaries (fresh
    # random offsets), evaluations happen before and after the stop, and the cosine schedule is mid-way.
    if optimizer == "sgd":  # SGD with momentum (a buffer to carry over) under the step schedule, decaying at 20, 30..
        return config(batch_size=8, optimizer="sgd", lr=1.0, momentum=0.5, warmup_steps=0, schedule="step",
                      decay_start=20, decay_every=10, max_steps=50, eval_every=7)
    return config(batch_size=8, lr=5e-3, warmup_steps=5, schedule="cosine", max_steps=50, eval_every=7)


@pytest.mark.parametrize("optimizer", ["adamw", "sgd"])
def test_resume_continues_exactly(tmp_path: Path, corpus: Path, trainers: list, optimizer: str) -> None:
    full = _Recorder()
    whole = train_text(corpus, tmp_path / "whole", DROPOUT_MODEL, TokenizerConfig(), _resume_config(optimizer),
                       callbacks=[full], command="test")
    assert whole.steps == 50 and len(full.evals) >= 7

    stop_at = 23  # not an evaluation step, and mid-epoch

    first = _Recorder()

    def stopper(event) -> None:
        if event.kind == "step" and event.step == stop_at:
            trainers[-1].request_stop()

    stopped = train_text(corpus, tmp_path / "split", DROPOUT_MODEL, TokenizerConfig(), _resume_config(optimizer),
                         callbacks=[first, stopper], command="test")
    assert stopped.stop_reason == "stopped" and stopped.steps == stop_at
    assert "end" in first.kinds() and max(first.losses) == stop_at
    state = read_bundle(tmp_path / "split" / "last", with_state=True).state
    assert state["step"] == stop_at

    second = _Recorder()
    resumed = train_text(corpus, tmp_path / "split", resume=True, callbacks=[second])
    assert resumed.stop_reason == "max_steps" and resumed.steps == 50
    assert min(second.losses) == stop_at + 1
    assert second.events[0].kind == "start" and second.events[0].data["resumed"] is True

    joined = {**first.losses, **second.losses}
    assert sorted(joined) == sorted(full.losses) == list(range(1, 51))
    for step in full.losses:
        assert joined[step] == pytest.approx(full.losses[step], abs=1e-6), f"loss differs at step {step}"
    evals = {**first.evals, **second.evals}
    assert sorted(evals) == sorted(full.evals)
    for step, metrics in full.evals.items():
        assert evals[step]["valid_nats_per_token"] == pytest.approx(metrics["valid_nats_per_token"], abs=1e-6)
    assert resumed.best_metrics["valid_nats_per_token"] == pytest.approx(
        whole.best_metrics["valid_nats_per_token"], abs=1e-6)
    assert resumed.best_metrics["step"] == whole.best_metrics["step"]
    # Both final models are the same weights.
    a = read_bundle(tmp_path / "whole" / "last").weights
    b = read_bundle(tmp_path / "split" / "last").weights
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=1e-6)


def test_dropout_makes_the_rng_matter(tmp_path: Path, corpus: Path) -> None:
    """Guards the resume test: with dropout, two seeds give different losses, so a lost RNG state would show."""
    runs = []
    for seed in (1, 2):
        rec = _Recorder()
        train_text(corpus, tmp_path / f"s{seed}", DROPOUT_MODEL, TokenizerConfig(), config(max_steps=3, seed=seed),
                   callbacks=[rec], command="test")
        runs.append(rec.losses)
    assert any(abs(runs[0][s] - runs[1][s]) > 1e-4 for s in (1, 2, 3))


def test_resume_refuses_a_changed_corpus(tmp_path: Path, corpus: Path, trainers: list) -> None:
    def stopper(event) -> None:
        if event.kind == "step" and event.step == 2:
            trainers[-1].request_stop()

    train_text(corpus, tmp_path / "run", TINY_MODEL, TokenizerConfig(), config(), callbacks=[stopper],
               command="test")
    corpus.write_text(prose(700, seed=5), encoding="utf-8")
    with pytest.raises(StudioError, match="sha256"):
        train_text(corpus, tmp_path / "run", resume=True)


def test_new_run_refuses_an_existing_run_folder(tmp_path: Path, corpus: Path) -> None:
    train_text(corpus, tmp_path / "run", TINY_MODEL, TokenizerConfig(), config(max_steps=2), command="test")
    with pytest.raises(StudioError, match="--resume"):
        train_text(corpus, tmp_path / "run", TINY_MODEL, TokenizerConfig(), config(max_steps=2), command="test")


# -- batching ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("n", "batch_size", "seq_len", "offset"), [(200, 4, 7, 0), (200, 4, 7, 5), (97, 3, 4, 2)])
def test_stream_batcher_windows_are_contiguous(n: int, batch_size: int, seq_len: int, offset: int) -> None:
    tokens = torch.arange(n)
    batcher = StreamBatcher(tokens, batch_size, seq_len)
    count = batcher.windows_per_epoch(offset)
    assert count >= 2
    windows = [batcher.window(offset, i) for i in range(count)]
    for inputs, targets in windows:
        assert inputs.shape == targets.shape == (batch_size, seq_len)
        assert torch.equal(targets, inputs + 1)  # targets are the next token of each input
    for (prev, _), (nxt, _) in itertools.pairwise(windows):
        for b in range(batch_size):
            assert int(nxt[b, 0]) == int(prev[b, -1]) + 1, "row b of window i+1 must continue row b of window i"
    # Rows are disjoint stretches of the stream, laid side by side.
    starts = [int(windows[0][0][b, 0]) for b in range(batch_size)]
    assert starts == [offset + b * batcher.row_len for b in range(batch_size)]
    # No window reads past its row.
    last_inputs = windows[-1][0]
    for b in range(batch_size):
        assert int(last_inputs[b, -1]) < (b + 1) * batcher.row_len


def test_stream_batcher_refuses_too_short_text() -> None:
    with pytest.raises(StudioError) as info:
        StreamBatcher(torch.arange(50), batch_size=8, seq_len=16)
    message = str(info.value)
    assert "--batch-size" in message and "--seq-len" in message
    assert "50 tokens" in message
    StreamBatcher(torch.arange(8 * 17 + 1), batch_size=8, seq_len=16)  # exactly the minimum it names is enough


def test_training_on_too_short_text_raises_before_writing(tmp_path: Path) -> None:
    corpus = tmp_path / "short.txt"
    corpus.write_text(prose(40), encoding="utf-8")
    with pytest.raises(StudioError, match="--batch-size"):
        train_text(corpus, tmp_path / "run", TINY_MODEL, TokenizerConfig(), config(batch_size=64, seq_len=64),
                   callbacks=[MetricsLog(tmp_path / "run")], command="test")
    assert not (tmp_path / "run").exists()


# -- evaluation -----------------------------------------------------------------------------------------------
def _tiny_model(vocab: int = 11, dropout: float = 0.0) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(ModelConfig(vocab_size=vocab, cell="gru", num_layers=1, hidden_size=32, embedding_size=8,
                                   dropout_embedding=dropout, dropout_output=dropout))


@pytest.mark.parametrize(("n", "batch_size", "seq_len", "max_tokens", "expected"), [
    (101, 4, 10, 0, 100),   # 100 targets in 4 rows of 25
    (103, 4, 10, 0, 100),   # 102 targets: the last 102 mod 4 = 2 are left out
    (30, 8, 10, 0, 28),     # short stream: 29 // 10 = 2 rows of 14, the last target left out
    (501, 4, 16, 200, 200),  # a prefix of 200 targets only
    (2, 4, 10, 0, 1),       # the least that can be scored
])
def test_evaluate_loss_counts_tokens(n: int, batch_size: int, seq_len: int, max_tokens: int, expected: int) -> None:
    tokens = torch.randint(11, (n,), generator=torch.Generator().manual_seed(n))
    nats, count = evaluate_loss(_tiny_model(), tokens, batch_size, seq_len, "cpu", False, max_tokens)
    assert count == expected
    assert count == sum(t.numel() for _, t, _ in evaluation_windows(tokens, batch_size, seq_len, max_tokens))
    assert 0 < nats / count < 2 * math.log(11)


def test_evaluate_loss_carries_state_like_one_long_pass() -> None:
    """With one row, windows with a carried state must score exactly what one pass over the stream scores."""
    model = _tiny_model(dropout=0.5)
    model.train()
    tokens = torch.randint(11, (90,), generator=torch.Generator().manual_seed(3))
    nats, count = evaluate_loss(model, tokens, batch_size=1, seq_len=7, device="cpu", amp=False)
    assert model.training, "evaluate_loss must put the model back in training mode"
    model.eval()
    with torch.no_grad():
        logits, _ = model(tokens[:-1].unsqueeze(0))
        expected = F.cross_entropy(logits[0], tokens[1:], reduction="sum").item()
    assert count == 89
    assert nats == pytest.approx(expected, rel=1e-5)


def test_evaluate_loss_refuses_a_one_token_stream() -> None:
    with pytest.raises(StudioError, match="too short"):
        evaluate_loss(_tiny_model(), torch.tensor([3]))


def test_loss_metrics_units_are_consistent() -> None:
    nats, tokens, chars_per_token = 1386.2943611198906, 1000, 4.0  # 1000 ln(4)
    m = loss_metrics(nats, tokens, chars_per_token)
    assert m["nats_per_token"] == pytest.approx(math.log(4))
    assert m["bits_per_token"] == pytest.approx(2.0)
    assert m["perplexity"] == pytest.approx(4.0)
    assert m["bits_per_char"] == pytest.approx(0.5)  # 2 bits per token spread over 4 characters
    assert m["tokens"] == 1000
    prefixed = loss_metrics(nats, tokens, None, prefix="valid_")
    assert set(prefixed) == {"valid_nats_per_token", "valid_bits_per_token", "valid_perplexity", "valid_tokens"}
    assert math.isfinite(loss_metrics(1e6, 1)["perplexity"])  # a huge loss stays a finite number


def test_validation_reports_bits_per_char_for_words(tmp_path: Path, corpus: Path) -> None:
    rec = _Recorder()
    train_text(corpus, tmp_path / "run", TINY_MODEL, TokenizerConfig(kind="word"), config(max_steps=3, eval_every=3),
               callbacks=[rec], command="test")
    m = rec.evals[3]
    text = corpus.read_text(encoding="utf-8")
    valid_text = text[int(len(text) * 0.9):]
    tokenizer = read_card(tmp_path / "run" / "best")["tokenizer"]
    assert tokenizer["kind"] == "word"
    # bits/char = bits/token divided by the validation text's characters per token (about 5 for these words)
    cpt = m["valid_bits_per_token"] / m["valid_bits_per_char"]
    assert 3.0 < cpt < 7.0
    assert cpt == pytest.approx(len(valid_text) / len(text_training.train_tokenizer(
        text[:int(len(text) * 0.9)], TokenizerConfig(kind="word")).encode(valid_text)))
    assert m["valid_perplexity"] == pytest.approx(math.exp(m["valid_nats_per_token"]))
    assert m["valid_bits_per_token"] == pytest.approx(m["valid_nats_per_token"] / math.log(2))


# -- budgets -------------------------------------------------------------------------------------------------------
def test_early_stopping_after_patience(tmp_path: Path, corpus: Path) -> None:
    # A learning rate of 1e-12 moves no weight measurably, so no evaluation after the first one can improve.
    rec = _Recorder()
    result = train_text(corpus, tmp_path / "run", TINY_MODEL, TokenizerConfig(),
                        config(lr=1e-12, patience=2, eval_every=2, max_steps=100), callbacks=[rec], command="test")
    assert result.stop_reason == "early stopping"
    assert result.steps == 6  # the first evaluation (step 2) improves; steps 4 and 6 do not
    assert [e.data["improved"] for e in rec.events if e.kind == "eval"] == [True, False, False]
    assert rec.events[-1].kind == "end" and rec.events[-1].data["reason"] == "early stopping"
    assert result.best_metrics["step"] == 2


def test_max_steps_budget(tmp_path: Path, corpus: Path) -> None:
    rec = _Recorder()
    result = train_text(corpus, tmp_path / "run", TINY_MODEL, TokenizerConfig(), config(max_steps=7, eval_every=5),
                        callbacks=[rec], command="test")
    assert result.stop_reason == "max_steps" and result.steps == 7
    assert sorted(rec.losses) == list(range(1, 8))
    # An evaluation at step 5 and a final one at step 7, so the last steps are never left unscored.
    assert sorted(rec.evals) == [5, 7]


def test_time_budget(tmp_path: Path, corpus: Path) -> None:
    result = train_text(corpus, tmp_path / "run", TINY_MODEL, TokenizerConfig(),
                        config(minutes=0.003, max_steps=10_000_000, eval_every=1_000_000), command="test")
    assert result.stop_reason == "time budget"
    assert 1 <= result.steps < 10_000_000
    assert 0.18 <= result.elapsed_s < 30
    assert (tmp_path / "run" / "best" / "model.json").exists()  # it still evaluated and saved at the end


# -- the run folder --------------------------------------------------------------------------------------------
def test_run_folder_contents_and_model_card(tmp_path: Path, corpus: Path) -> None:
    out = tmp_path / "run"
    result = train_text(corpus, out, TINY_MODEL, TokenizerConfig(), config(max_steps=12, eval_every=5),
                        callbacks=[MetricsLog(out, every=1)], command="studio train text --corpus corpus.txt")
    assert result.best_path == out / "best" and result.last_path == out / "last"
    for sub in ("best", "last"):
        assert (out / sub / "model.json").is_file() and (out / sub / "model.safetensors").is_file()
    assert (out / "last" / "state.json").is_file() and not (out / "best" / "state.json").exists()
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")], "no temporary folders may be left"

    lines = (out / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]  # every line is valid JSON
    steps = [r["step"] for r in records if r["kind"] == "step"]
    assert steps == list(range(1, 13))
    assert all(math.isfinite(r["loss"]) and r["lr"] > 0 for r in records if r["kind"] == "step")
    evals = [r for r in records if r["kind"] == "eval"]
    assert [r["step"] for r in evals] == [5, 10, 12]
    assert all("valid_nats_per_token" in r and "valid_bits_per_char" in r for r in evals)
    assert records[-1] == {"kind": "end", "step": 12, "reason": "max_steps"}

    png = (out / "loss.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 2000

    card = read_card(out / "best")
    assert card["model_config"] == ModelConfig(vocab_size=card["model_config"]["vocab_size"], **TINY_MODEL).to_dict()
    assert card["tokenizer"]["kind"] == "char" and card["tokenizer"]["chars"]
    assert card["model_config"]["vocab_size"] == len(card["tokenizer"]["chars"]) + 1
    assert card["train_config"] == config(max_steps=12, eval_every=5).to_dict() | {"betas": [0.9, 0.99]}
    assert card["tokenizer_config"]["kind"] == "char"
    assert card["corpus"]["sha256"] == hashlib.sha256(corpus.read_bytes()).hexdigest()
    assert card["corpus"]["name"] == "corpus.txt"
    assert card["command"] == "studio train text --corpus corpus.txt"
    best = min(evals, key=lambda r: r["valid_nats_per_token"])
    assert card["metrics"]["valid_nats_per_token"] == pytest.approx(best["valid_nats_per_token"])
    assert card["metrics"]["step"] == best["step"]
    assert card["training"]["steps"] == best["step"]
    assert card["weights"]["sha256"] == hashlib.sha256((out / "best" / "model.safetensors").read_bytes()).hexdigest()
    # The best model loads on its own and scores what the card says it scored.
    loaded = load_model(out)
    assert loaded.path == out / "best"
    valid = corpus.read_text(encoding="utf-8")
    valid = valid[int(len(valid) * 0.9):]
    nats, count = evaluate_loss(loaded.model, torch.tensor(loaded.tokenizer.encode(valid)), 4, 16, "cpu", False)
    assert nats / count == pytest.approx(card["metrics"]["valid_nats_per_token"], abs=1e-5)


def test_metrics_log_drops_lines_after_the_resumed_step(tmp_path: Path, corpus: Path, trainers: list) -> None:
    """A crash after step 9 with the last checkpoint at step 5: resuming must rewrite steps 6-9, not repeat them."""
    out = tmp_path / "run"
    snapshot = tmp_path / "last-at-5"

    def crash_simulator(event) -> None:
        if event.kind == "checkpoint" and event.step == 5:
            shutil.copytree(out / "last", snapshot)
        if event.kind == "step" and event.step == 9:
            trainers[-1].request_stop()

    cfg = config(max_steps=14, eval_every=5)
    train_text(corpus, out, TINY_MODEL, TokenizerConfig(), cfg,
               callbacks=[MetricsLog(out, every=1), crash_simulator], command="test")
    before = read_jsonl(out / "metrics.jsonl")
    assert [r["step"] for r in before if r["kind"] == "step"] == list(range(1, 10))
    shutil.rmtree(out / "last")
    shutil.copytree(snapshot, out / "last")  # the state a crash right after step 9 would have left

    train_text(corpus, out, resume=True, callbacks=[MetricsLog(out, every=1)])
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["step"] for r in records if r["kind"] == "step"] == list(range(1, 15))
    assert [r["step"] for r in records if r["kind"] == "eval"] == [5, 10, 14]
    assert [r for r in records if r["kind"] == "end"] == [records[-1]]
    assert records[-1]["reason"] == "max_steps"
    # Steps 1-5 are the original lines, untouched; steps 6-9 were re-run from the step-5 state and agree with them.
    old = {r["step"]: r["loss"] for r in before if r["kind"] == "step"}
    new = {r["step"]: r["loss"] for r in records if r["kind"] == "step"}
    for step in range(1, 10):
        assert new[step] == pytest.approx(old[step], abs=1e-6)


def test_sigint_handler_is_restored_after_fit(tmp_path: Path, corpus: Path) -> None:
    before = signal.getsignal(signal.SIGINT)
    train_text(corpus, tmp_path / "run", TINY_MODEL, TokenizerConfig(), config(max_steps=2), command="test")
    assert signal.getsignal(signal.SIGINT) is before


def test_sigint_handler_is_restored_when_a_callback_fails(tmp_path: Path, corpus: Path) -> None:
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def broken(event) -> None:
        if event.kind == "start":
            raise OSError("disk full")

    try:
        with pytest.raises(OSError, match="disk full"):
            train_text(corpus, tmp_path / "run", TINY_MODEL, TokenizerConfig(), config(max_steps=2),
                       callbacks=[broken], command="test")
        assert signal.getsignal(signal.SIGINT) is saved[signal.SIGINT]
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


# -- Ctrl-C on the real command -----------------------------------------------------------------------------------
def _wait_for_step_record(metrics: Path, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"training exited early with status {proc.returncode}")
        if metrics.exists() and any(r.get("kind") == "step" for r in read_jsonl(metrics)):
            return
        time.sleep(0.05)
    pytest.fail("training did not start within a minute")


def test_sigint_saves_a_resumable_checkpoint(tmp_path: Path) -> None:
    corpus = tmp_path / "big.txt"
    corpus.write_text(prose(40_000, seed=7), encoding="utf-8")
    assert corpus.stat().st_size > 190_000
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    common = [sys.executable, "-m", "studio", "train", "text", "--corpus", str(corpus), "--out", str(out)]
    options = ["--hidden", "32", "--layers", "1", "--embedding", "16", "--batch-size", "8", "--seq-len", "32",
               "--eval-every", "1000000", "--eval-tokens", "2000", "--device", "cpu", "--warmup", "0"]
    proc = subprocess.Popen([*common, *options, "--max-steps", "10000000"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_step_record(out / "metrics.jsonl", proc)
        time.sleep(0.3)  # let it take a few more steps
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "interrupted at step" in stderr and "--resume" in stderr
    bundle = read_bundle(out / "last", with_state=True)
    step = bundle.state["step"]
    assert 1 <= step < 10_000_000
    assert bundle.card["training"]["steps"] == step
    assert {k for k in bundle.state_tensors if k.startswith("optim.")}, "optimiser moments must be saved"
    assert "hidden.0" in bundle.state_tensors and "rng.torch" in bundle.state_tensors

    done = subprocess.run([*common, "--resume", "--max-steps", str(step + 5)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "(resumed)" in done.stderr
    assert f"done (max_steps) after {step + 5} steps" in done.stdout
    final = read_bundle(out / "last", with_state=True)
    assert final.state["step"] == step + 5
    steps = [r["step"] for r in read_jsonl(out / "metrics.jsonl") if r.get("kind") == "end"]
    assert steps == [step + 5]  # the interrupted run's end record was dropped on resume
    assert (out / "best" / "model.json").exists() and (out / "loss.png").exists()


def test_valid_corpus_replaces_the_tail_split(tmp_path: Path) -> None:
    train_file, valid_file = tmp_path / "train.txt", tmp_path / "valid.txt"
    train_file.write_text("abcabcabc " * 200, encoding="utf-8")
    valid_file.write_text("cab cab cab " * 20, encoding="utf-8")
    from studio.text.training import prepare_text

    data = prepare_text(train_file, TokenizerConfig(), 0.1, valid_corpus=valid_file)
    assert data.train.numel() == 2000 and data.valid.numel() == 240
    result = train_text(train_file, tmp_path / "run", TINY_MODEL, TokenizerConfig(), config(max_steps=3),
                        command="test", valid_corpus=valid_file)
    card = json.loads((result.best_path / "model.json").read_text())
    assert card["corpus"]["valid_corpus"] == str(valid_file) and card["corpus"]["valid_tokens"] == 240
    resumed = train_text(train_file, tmp_path / "run", resume=True, budget_overrides={"max_steps": 5},
                         command="test")
    assert resumed.steps == 5


def test_condition_streams_follow_the_targets() -> None:
    tokens = torch.arange(100)
    chords = torch.arange(100) + 1000
    batcher = StreamBatcher(tokens, batch_size=3, seq_len=5, conditions={"chords": chords})
    inputs, targets = batcher.window(0, 2)
    conds = batcher.window_conditions(0, 2)
    assert torch.equal(targets, inputs + 1)
    assert torch.equal(conds["chords"], targets + 1000)  # each input is read with its target's chord
    windows = list(evaluation_windows(tokens, 3, 5, conditions={"chords": chords}))
    for _, tgt, cond in windows:
        assert torch.equal(cond["chords"], tgt + 1000)


# -- weight drop --------------------------------------------------------------------------------------------------
def test_weight_drop_changes_training_but_evaluation_and_checkpoints_read_the_real_weights(
        tmp_path: Path, corpus: Path, trainers: list) -> None:
    model = {**TINY_MODEL, "num_layers": 2}
    plain, dropped = _Recorder(), _Recorder()
    train_text(corpus, tmp_path / "plain", model, TokenizerConfig(kind="char"), config(), callbacks=[plain])
    result = train_text(corpus, tmp_path / "dropped", {**model, "weight_drop": 0.5}, TokenizerConfig(kind="char"),
                        config(), callbacks=[dropped])
    # Same seed, same init, same first batch: only the mask on the recurrent matrices differs.
    assert plain.losses[1] != dropped.losses[1]
    # Evaluation during training read the unmasked weights: the saved best model, rebuilt from its file, scores the
    # validation text exactly as the evaluation that chose it did; so does the live model after training.
    trainer = trainers[-1]
    loaded = load_model(result.best_path)
    assert loaded.model.config.weight_drop == 0.5
    nats, count = evaluate_loss(loaded.model, trainer.valid_tokens, 4, 16, "cpu")
    assert nats / count == pytest.approx(dropped.evals[result.best_metrics["step"]]["valid_nats_per_token"], abs=1e-6)
    final = trainer.validation_metrics()["valid_nats_per_token"]
    assert final == pytest.approx(dropped.evals[20]["valid_nats_per_token"], abs=1e-6)
    assert trainer.model.training  # evaluation put the model back as it found it


@pytest.mark.parametrize(("length", "tokens", "span_len"), [(10_000, 1_000, 128), (5_000, 300, 300), (999, 87, 87),
                                                           (20_001, 4_096, 512)])
def test_a_validation_sample_is_fixed_spread_and_scores_its_own_tokens(length: int, tokens: int,
                                                                       span_len: int) -> None:
    from studio.training.batches import sample_spans, span_windows

    starts = sample_spans(length, tokens, span_len, seed=3)
    assert starts is not None and torch.equal(starts, sample_spans(length, tokens, span_len, seed=3))
    assert not torch.equal(starts, sample_spans(length, tokens, span_len, seed=4))  # the seed places them
    assert len(starts) == tokens // span_len and int(starts.min()) >= 0
    assert int(starts.max()) + span_len + 1 <= length  # every target inside the stream
    gaps = starts[1:] - starts[:-1]
    assert bool((gaps > span_len).all())  # in order, never overlapping: one span a stratum of the stream
    stream = torch.arange(length)
    windows = list(span_windows(stream, starts, span_len, 32))
    inputs = torch.cat([w[0] for w in windows], dim=1)
    targets = torch.cat([w[1] for w in windows], dim=1)
    assert inputs.shape == (len(starts), span_len) and torch.equal(targets, inputs + 1)
    assert torch.equal(inputs[:, 0], starts)
    assert sample_spans(1_000, 950, 100, seed=3) is None  # nearly the whole stream: score all of it
