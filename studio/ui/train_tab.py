"""The Train tab: fine-tune a text model on uploaded files, with live progress and a loss curve.

``train`` is a generator: it checks the uploads (files of the wrong type or too large are listed and left out, not
fatal), starts a ``TrainingJob`` in a background thread and reports its progress every ``POLL_SECONDS`` until it
ends. The new model is written to ``<runs>/<name>``, where ``studio.loading.local_models`` (and so every model list
of the page) finds it. One run at a time; generation goes on beside it.
"""

from __future__ import annotations

import re
import shutil
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from studio.errors import StudioError
from studio.ui import validation as v
from studio.ui.model_cache import TEXT, ModelCache
from studio.ui.training_job import TrainingBoard, TrainingJob
from studio.ui.workspace import new_folder, safe_name

CORPUS_TYPES = (".txt", ".md", ".text", ".rst", ".zip")
MAX_FILE_BYTES = 20_000_000
MAX_TOTAL_BYTES = 50_000_000
MAX_FILES = 200
MINUTES = (0.1, 30.0)
MAX_STEPS = (1, 100_000)
POLL_SECONDS = 1.0
PLOT_POINTS = 400  # training-loss points drawn at most (thinned evenly)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")


def accept_uploads(files: Any) -> tuple[list[Any], list[str]]:
    """Split uploads into usable paths and notes on the ones left out (wrong type, too large, too many)."""
    kept, notes, total = [], [], 0
    for path in v.upload_paths(files):
        if not path.is_file():
            notes.append(f"left out {path.name}: the upload is missing")
        elif path.suffix.lower() not in CORPUS_TYPES:
            notes.append(f"left out {path.name}: not one of {', '.join(CORPUS_TYPES)}")
        elif path.stat().st_size > MAX_FILE_BYTES:
            notes.append(f"left out {path.name}: larger than {MAX_FILE_BYTES // 1_000_000} MB")
        elif len(kept) >= MAX_FILES:
            notes.append(f"left out {path.name}: more than {MAX_FILES} files")
        elif total + path.stat().st_size > MAX_TOTAL_BYTES:
            notes.append(f"left out {path.name}: the upload passes {MAX_TOTAL_BYTES // 1_000_000} MB in all")
        else:
            total += path.stat().st_size
            kept.append(path)
    return kept, notes


def text_chars(paths: list[Any]) -> list[int]:
    """Bytes of text in each upload (a zip counts the text files inside), a stand-in for its length."""
    sizes = []
    for path in paths:
        if path.suffix.lower() != ".zip":
            sizes.append(path.stat().st_size)
            continue
        try:
            with zipfile.ZipFile(path) as archive:
                sizes += [i.file_size for i in archive.infolist()
                          if not i.is_dir() and Path(i.filename).suffix.lower() in CORPUS_TYPES[:-1]]
        except (zipfile.BadZipFile, OSError):
            sizes.append(0)  # fine-tuning lists it as unreadable
    return sizes


def batch_shape(sizes: list[int], chars_per_token: float) -> tuple[int, int]:
    """(batch_size, seq_len) that the corpus can fill: `studio finetune`'s 32 x 128, or less for a small corpus.

    Validation takes whole files, so the training share is counted without the largest file (or 90% of a single
    file); a batch needs ``batch_size * (seq_len + 1) + 1`` training tokens.
    """
    chars = sum(sizes) - max(sizes) if len(sizes) > 1 else 0.9 * sum(sizes)
    tokens = int(chars / chars_per_token)
    seq_len = 128
    while seq_len > 16 and tokens < 8 * (seq_len + 1):
        seq_len //= 2
    batch_size = max(1, min(32, (tokens - 1) // (seq_len + 1)))
    return batch_size, seq_len


def start_training(cache: ModelCache, board: TrainingBoard, files: Any, base: str, minutes: float, max_steps: int,
                   name: str) -> TrainingJob:
    """Check everything, gather the corpus in a fresh folder and start the run in the background."""
    from studio.config import TrainConfig

    entry = cache.entry(TEXT, base)
    minutes = v.number("time budget (minutes)", minutes, *MINUTES)
    max_steps = v.number("max steps", max_steps, *MAX_STEPS, integer=True)
    name = v.text("name", name, 40).strip() or f"{safe_name(entry.path.name)}-{time.strftime('%Y%m%d-%H%M%S')}"
    if not _NAME.match(name):
        raise StudioError(f"name {name!r}: use up to 40 letters, digits, - and _ (starting with a letter or digit)")
    out = cache.runs_dir / name
    if out.exists():
        raise StudioError(f"a model or run named {name!r} exists in {cache.runs_dir}; choose another name")
    kept, notes = accept_uploads(files)
    if not kept:
        raise StudioError("no usable files: upload .txt or .md files, or a .zip of them"
                          + (f" ({'; '.join(notes)})" if notes else ""))
    corpus = new_folder("train") / "corpus"
    corpus.mkdir()
    for i, path in enumerate(kept):  # numbered, so two uploads with one name stay two files
        shutil.copyfile(path, corpus / f"{i + 1:03d}-{safe_name(path.name)}")
    chars_per_token = {"char": 1.0, "word": 5.0, "bpe": 4.0}.get(entry.card.get("tokenizer", {}).get("kind"), 1.0)
    batch_size, seq_len = batch_shape(text_chars(kept), chars_per_token)
    config = TrainConfig(lr=5e-4, warmup_steps=min(20, max_steps), eval_every=50, patience=4, batch_size=batch_size,
                         seq_len=seq_len, max_steps=max_steps, minutes=minutes)  # `studio finetune`'s defaults
    if (batch_size, seq_len) != (32, 128):
        notes.append(f"a small corpus: batches of {batch_size} x {seq_len} tokens instead of 32 x 128")
    job = TrainingJob(base=entry.value, corpus=corpus, out_dir=out, train_config=config, notes=notes)
    return board.start(job)


def progress_view(job: TrainingJob | None) -> tuple[str, pd.DataFrame, str]:
    """(status markdown, loss curve data, notes markdown) for a job."""
    if job is None:
        return "No training run yet.", _curve([], []), ""
    s = job.snapshot()
    last = s["last"]
    parts = [f"**{s['status']}**: `{s['out_dir']}` from **{s['base']}**"]
    if last:
        parts.append(f"step {last['step']}, training loss {last['loss']:.3f} nats/token, "
                     f"{last.get('tokens_per_s', 0):,.0f} tokens/s")
    if s["evals"]:
        parts.append(f"validation {s['evals'][-1][1]:.3f} nats/token (best {min(e for _, e in s['evals']):.3f})")
    if s["status"] == "running":
        eta = last.get("eta_s")
        parts.append(f"{_clock(s['elapsed_s'])} elapsed" + (f", about {_clock(eta)} left" if eta is not None else ""))
    result = s["result"]
    if result is not None:
        before = result.base_valid.get("valid_nats_per_token")
        after = result.best_valid.get("valid_nats_per_token")
        if before is not None and after is not None:
            parts.append(f"validation {before:.3f} → {after:.3f} nats/token after {result.steps} steps "
                         f"({result.stop_reason})")
        parts.append(f"the model is ready as **{s['out_dir'].name} (local)** in the model lists")
        if result.samples:
            novelty = result.novelty[0]
            share = "n/a" if novelty is None else f"{100 * novelty:.0f}%"
            sample = result.samples[0][:400].replace("`", "'")
            parts.append(f"a sample (novelty {share} against your text):\n\n```text\n{sample}\n```")
    if s["error"]:
        parts.append(f"error: {s['error']}")
    notes = "\n".join(f"- {n}" for n in s["notes"])
    return "\n\n".join(parts), _curve(s["steps"], s["evals"]), notes


def _curve(steps: list[tuple[int, float]], evals: list[tuple[int, float]]) -> pd.DataFrame:
    stride = max(1, len(steps) // PLOT_POINTS)
    rows = [(st, loss, "training") for st, loss in steps[::stride]]
    rows += [(st, loss, "validation") for st, loss in evals]
    return pd.DataFrame(rows, columns=["step", "nats per token", "series"])


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(max(0.0, seconds)), 60)
    return f"{minutes}:{secs:02d}"


def train(cache: ModelCache, board: TrainingBoard, files: Any, base: str, minutes: float, max_steps: int,
          name: str) -> Iterator[tuple[str, pd.DataFrame, str]]:
    """Start a run and yield its progress until it ends."""
    job = start_training(cache, board, files, base, minutes, max_steps, name)
    while not job.wait(POLL_SECONDS):
        yield progress_view(job)
    view = progress_view(job)
    if job.status == "failed":
        raise StudioError(f"training failed: {job.error}")
    yield view


def build(cache: ModelCache, board: TrainingBoard) -> dict[str, Any]:
    """Lay out the Train tab (inside an open ``gr.Tab``) and wire its actions; returns its components."""
    with gr.Row():
        with gr.Column():
            files = gr.File(file_count="multiple", label="Your text (.txt, .md, or a .zip of them)", type="filepath")
            base = gr.Dropdown(cache.choices(TEXT), value=cache.default(TEXT, "shakespeare"), label="Base model",
                               allow_custom_value=True)
            name = gr.Textbox(label="Name of the new model", placeholder="e.g. letters (empty: base name and time)",
                              max_length=40)
        with gr.Column():
            minutes = gr.Slider(*MINUTES, value=5, step=0.1, label="Time budget (minutes)")
            with gr.Accordion("Advanced", open=False):
                max_steps = gr.Slider(*MAX_STEPS, value=MAX_STEPS[1], step=1, label="Max steps",
                                      info="whichever ends first, steps or time")
            with gr.Row():
                go = gr.Button("Fine-tune", variant="primary", elem_id="train-go")
                stop = gr.Button("Stop", variant="stop")
                refresh = gr.Button("Refresh status")
    status = gr.Markdown("No training run yet.", elem_id="train-status")
    curve = gr.LinePlot(x="step", y="nats per token", color="series", label="Loss", height=280)
    notes = gr.Markdown(label="Notes and files left out")

    @v.user_errors
    def run(files: Any, base: str, minutes: float, max_steps: int, name: str) -> Iterator[tuple]:
        yield from train(cache, board, files, base, minutes, max_steps, name)

    @v.user_errors
    def stop_training() -> str:
        return "stopping: a last evaluation, then the best model is saved" if board.stop() else "no run in progress"

    def training_status() -> tuple:
        return progress_view(board.current)

    event = go.click(run, [files, base, minutes, max_steps, name], [status, curve, notes], api_name="train",
                     concurrency_limit=1, concurrency_id="train")
    stop.click(stop_training, None, status, api_name="stop_training", concurrency_limit=None)
    refresh.click(training_status, None, [status, curve, notes], api_name="training_status",
                  concurrency_limit=None)
    return {"model": base, "event": event}
