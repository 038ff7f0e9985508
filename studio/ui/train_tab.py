"""The Train tab: fine-tune a text or music model on uploaded files, with live progress and a loss curve.

The base model's kind decides what it learns from (``studio.ui.corpus_kinds``: text files for text models, music
files for the blues, polyphonic and piano-roll models) and which service trains it (``studio.ui.finetune_runs``,
the ones ``studio finetune`` calls). ``train`` is a generator: it checks the uploads (files it cannot use are
listed and left out, not fatal; a file of the other kind is an error), starts a ``TrainingJob`` in a background
thread and reports its progress every ``POLL_SECONDS`` until it ends. The new model is written to
``<runs>/<name>``, where ``studio.loading.local_models`` (and so every model list of the page) finds it. One run
at a time; generation goes on beside it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from studio.errors import StudioError
from studio.ui import validation as v
from studio.ui.corpus_kinds import accept_uploads, gather_corpus, takes, text_chars
from studio.ui.finetune_runs import BATCH, SEQ_LEN, UNITS, USES, make_config, shape_for_tokens
from studio.ui.model_cache import KINDS, PIANO_ROLL, TEXT, ModelCache
from studio.ui.models_tab import KIND_NAMES
from studio.ui.page_runs import CORPUS, describe, interrupted_runs, progress
from studio.ui.training_job import TrainingBoard, TrainingJob

TRAINABLE = KINDS  # every kind of model fine-tunes here
MINUTES = (0.1, 30.0)
MAX_STEPS = (1, 100_000)
WEIGHT_DROP = (0.0, 0.9)  # DropConnect on a text model's recurrent weights (0: none); see BENCHMARKS.md
POLL_SECONDS = 1.0
PLOT_POINTS = 400  # training-loss points drawn at most (thinned evenly)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")


def model_choices(cache: ModelCache) -> list[tuple[str, str]]:
    """(label, value) pairs for the base-model dropdown: text and music models, each label saying its kind."""
    return cache.choices(TRAINABLE, KIND_NAMES)


def model_help(cache: ModelCache, value: Any) -> str:
    """What the chosen base model fine-tunes on and what comes of it (empty for a model the page does not offer)."""
    try:
        entry = cache.entry(TRAINABLE, value)
    except StudioError:
        return ""
    steps = " The max steps count epochs (at most 500) for a piano-roll model." if entry.kind == PIANO_ROLL else ""
    return (f"**{entry.short_name()}** is a {KIND_NAMES[entry.kind]} model: upload {takes(entry.kind)}.{steps} "
            f"Then {USES[entry.kind]}.")


def batch_shape(sizes: list[int], chars_per_token: float, valid_fraction: float = 0.1) -> tuple[int, int]:
    """(batch_size, seq_len) that a text corpus can fill: `studio finetune`'s 32 x 128, or less for a small corpus.

    Validation takes the tail of every file (``studio.text.split``), so the training share is the corpus less the
    validation characters that split takes; see ``studio.ui.finetune_runs.shape_for_tokens``.
    """
    from studio.text.split import VALID_MAX_TOKENS, VALID_MIN_TOKENS, valid_chars

    total = sum(sizes)
    held = valid_chars(total, valid_fraction, int(VALID_MIN_TOKENS * chars_per_token),
                       int(VALID_MAX_TOKENS * chars_per_token))
    return shape_for_tokens(int((total - held) / chars_per_token))


def start_training(cache: ModelCache, board: TrainingBoard, files: Any, base: str, minutes: float, max_steps: int,
                   name: str, weight_drop: float = 0.0) -> TrainingJob:
    """Check everything, gather the corpus in a fresh folder and start the run in the background."""
    entry = cache.entry(TRAINABLE, base)
    minutes = v.number("time budget (minutes)", minutes, *MINUTES)
    max_steps = v.number("max steps", max_steps, *MAX_STEPS, integer=True)
    weight_drop = v.number("weight drop", weight_drop or 0.0, *WEIGHT_DROP)
    if weight_drop and entry.kind != TEXT:
        raise StudioError(f"weight drop is for text models; {entry.short_name()} is a {KIND_NAMES[entry.kind]} "
                          "model: set it to 0")
    name = v.text("name", name, 40).strip() or f"{entry.short_name()}-{time.strftime('%Y%m%d-%H%M%S')}"
    if not _NAME.match(name):
        raise StudioError(f"name {name!r}: use up to 40 letters, digits, - and _ (starting with a letter or digit)")
    out = cache.runs_dir / name
    if out.exists():
        raise StudioError(f"a model or run named {name!r} exists in {cache.runs_dir}; choose another name")
    kept, notes = accept_uploads(files, entry.kind, entry.short_name())
    if not kept:
        raise StudioError(f"no usable files: {entry.short_name()} fine-tunes on {takes(entry.kind)}"
                          + (f" ({'; '.join(notes)})" if notes else ""))
    # The uploads live in the run's folder while it trains, so a restarted server can resume it (page_runs).
    corpus = gather_corpus(kept, entry.kind, out / CORPUS)
    if entry.kind == TEXT:  # music corpora are sized in the run, once read (studio.ui.finetune_runs.fit_batches)
        chars_per_token = {"char": 1.0, "word": 5.0, "bpe": 4.0}.get(entry.card.get("tokenizer", {}).get("kind"), 1.0)
        batch_size, seq_len = batch_shape(text_chars(kept), chars_per_token)
        config = make_config(TEXT, minutes, max_steps, batch_size, seq_len)
        if (batch_size, seq_len) != (BATCH, SEQ_LEN):
            notes.append(f"a small corpus: batches of {batch_size} x {seq_len} tokens instead of {BATCH} x {SEQ_LEN}")
    else:
        config = make_config(entry.kind, minutes, max_steps)
    job = TrainingJob(base=entry.value, corpus=corpus, out_dir=out, train_config=config, notes=notes,
                      kind=entry.kind, weight_drop=weight_drop if entry.kind == TEXT else None)
    return board.start(job)


def resume_training(cache: ModelCache, board: TrainingBoard, name: Any, minutes: float) -> TrainingJob:
    """Continue a run a server restart cut short, for ``minutes`` more, from its last checkpoint (a run stopped
    before its first one starts again)."""
    found = interrupted_runs(cache.runs_dir, board.current.out_dir if board.current and board.current.running
                             else None)
    if name not in found:
        listed = ", ".join(found) or "none"
        raise StudioError(f"{name!r} is not an interrupted run of this page; interrupted runs: {listed}")
    from studio.checkpoint import bundle_exists

    more = v.number("time budget (minutes)", minutes, *MINUTES)
    record, out = found[name], cache.runs_dir / name
    resume = bundle_exists(out / "last")
    done, seconds = progress(out) if resume else (0, 0.0)
    # The budgets count the whole run (what it spent before, too): the slider gives it that much more.
    config = make_config(record.kind, seconds / 60 + more, record.max_steps, record.batch_size or BATCH,
                         record.seq_len or SEQ_LEN)
    note = (f"resumed from its last checkpoint ({'epoch' if record.kind == PIANO_ROLL else 'step'} {done}) for "
            f"{more:g} more minutes" if resume else "started again: it had stopped before its first checkpoint")
    job = TrainingJob(base=record.base, corpus=out / CORPUS, out_dir=out, train_config=config, notes=[note],
                      kind=record.kind, weight_drop=record.weight_drop, resume=resume)
    return board.start(job)


def progress_view(job: TrainingJob | None) -> tuple[str, pd.DataFrame, str]:
    """(status markdown, loss curve data, notes markdown) for a job."""
    if job is None:
        return "No training run yet.", _curve([], [], TEXT), ""
    s = job.snapshot()
    kind, last, unit = s["kind"], s["last"], UNITS[s["kind"]]
    parts = [f"**{s['status']}**: `{s['out_dir']}` from **{s['base']}**, a {KIND_NAMES[kind]} model"]
    if s["status"] in ("starting", "running") and not s["steps"]:
        parts.append(_before_training(s))
    if s["base_valid"] is not None:
        parts.append(f"the base model scores {s['base_valid']:.3f} {unit} on your validation data")
    if last and kind == PIANO_ROLL:
        parts.append(f"epoch {last['epoch']}, training loss {last['train']:.3f} {unit}")
    elif last:
        parts.append(f"step {last['step']}, training loss {last['loss']:.3f} {unit}, "
                     f"{last.get('tokens_per_s', 0):,.0f} tokens/s")
    trained = [loss for _, loss in s["evals"][1 if s["base_valid"] is not None else 0:]]  # without the base
    if trained:
        parts.append(f"validation {trained[-1]:.3f} {unit} (best {min(trained):.3f})")
    if s["status"] == "running":
        eta = last.get("eta_s")
        parts.append(f"{_clock(s['elapsed_s'])} elapsed" + (f", about {_clock(eta)} left" if eta is not None else ""))
    if s["result"] is not None:
        parts += _finished(s["result"], s["status"], s["out_dir"])
    if s["error"]:
        parts.append(f"error: {s['error']}")
    notes = "\n".join(f"- {n}" for n in s["notes"])
    return "\n\n".join(parts), _curve(s["steps"], s["evals"], kind), notes


def _before_training(s: dict[str, Any]) -> str:
    """What a run does before its first step: reading the files, then scoring the base model (with a bar)."""
    if s["phase"] == "reading":
        extra = " and scoring the base model on them" if s["kind"] == PIANO_ROLL else ""
        return f"reading your files{extra} …"
    done, total = s["base_progress"]
    if s["phase"] != "scoring" or not total:
        return "scoring the base model on your validation data …"
    filled = round(10 * done / total)
    return (f"scoring the base model on your validation data: {'▰' * filled}{'▱' * (10 - filled)} "
            f"{100 * done / total:.0f}% ({done} of {total} windows)")


def _finished(summary: Any, status: str, out_dir: Path) -> list[str]:
    """What a finished run says, as `studio finetune` does: validation before -> after, and how to use the model;
    or that it made none, why, and what helps."""
    parts = []
    reason = "stopped" if status == "stopped" else summary.stop_reason
    if not summary.new_model:
        return [f"no new model after {summary.count} {summary.counter} ({reason}): {summary.no_model}. Nothing was "
                "added to the model lists."]
    if summary.before is not None and summary.after is not None:
        parts.append(f"validation {summary.before:.3f} → {summary.after:.3f} {summary.unit} after {summary.count} "
                     f"{summary.counter} ({reason})")
    parts.append(f"the model is ready as **{out_dir.name} (local)** in the model lists: {USES[summary.kind]}")
    if summary.samples:
        novelty = summary.novelty[0]
        share = "n/a" if novelty is None else f"{100 * novelty:.0f}%"
        sample = summary.samples[0][:400].replace("`", "'")
        parts.append(f"a sample (novelty {share} against your text):\n\n```text\n{sample}\n```")
    return parts


def _curve(steps: list[tuple[int, float]], evals: list[tuple[int, float]], kind: str) -> pd.DataFrame:
    """The loss curve's points; a piano-roll model's are per epoch (its series say so), the others' per step."""
    stride = max(1, len(steps) // PLOT_POINTS)
    per = " (by epoch)" if kind == PIANO_ROLL else ""
    rows = [(st, loss, f"training{per}") for st, loss in steps[::stride]]
    rows += [(st, loss, f"validation{per}") for st, loss in evals]
    return pd.DataFrame(rows, columns=["step", "nats", "series"])


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(max(0.0, seconds)), 60)
    return f"{minutes}:{secs:02d}"


def train(cache: ModelCache, board: TrainingBoard, files: Any, base: str, minutes: float, max_steps: int,
          name: str, weight_drop: float = 0.0) -> Iterator[tuple[str, pd.DataFrame, str]]:
    """Start a run and yield its progress until it ends."""
    yield from follow(start_training(cache, board, files, base, minutes, max_steps, name, weight_drop))


def follow(job: TrainingJob) -> Iterator[tuple[str, pd.DataFrame, str]]:
    """Yield a job's progress until it ends."""
    while not job.wait(POLL_SECONDS):
        yield progress_view(job)
    view = progress_view(job)
    if job.status == "failed":
        raise StudioError(f"training failed: {job.error}")
    yield view


def build(cache: ModelCache, board: TrainingBoard) -> dict[str, Any]:
    """Lay out the Train tab (inside an open ``gr.Tab``) and wire its actions; returns its components."""
    first = cache.default(TEXT, "shakespeare")
    with gr.Row():
        with gr.Column():
            files = gr.File(file_count="multiple", type="filepath", elem_id="train-files",
                            label="Your text or music: .txt/.md for text models; MIDI, MusicXML, ABC or kern for "
                                  "music models (.ls too for blues); or a .zip of them")
            base = gr.Dropdown(model_choices(cache), value=first, label="Base model", allow_custom_value=True,
                               elem_id="train-base")
            about = gr.Markdown(model_help(cache, first), elem_id="train-model-help")
            name = gr.Textbox(label="Name of the new model", placeholder="e.g. letters (empty: base name and time)",
                              max_length=40, elem_id="train-name")
        with gr.Column():
            minutes = gr.Slider(*MINUTES, value=5, step=0.1, label="Time budget (minutes)", elem_id="train-minutes",
                                info="the whole run: reading, scoring the base model, training and a sample")
            with gr.Accordion("Advanced", open=False):
                max_steps = gr.Slider(*MAX_STEPS, value=MAX_STEPS[1], step=1, label="Max steps",
                                      info="whichever ends first, steps or time; piano-roll models count epochs")
                weight_drop = gr.Slider(*WEIGHT_DROP, value=0.0, step=0.05, label="Weight drop (text models)",
                                        info="0.5 helped on 20,000 characters (it keeps them from being memorised); "
                                             "at 100,000 it only slowed learning (BENCHMARKS.md)",
                                        elem_id="train-weight-drop")
            with gr.Row():
                go = gr.Button("Fine-tune", variant="primary", elem_id="train-go")
                stop = gr.Button("Stop", variant="stop")
                refresh = gr.Button("Refresh status")
    found = interrupted_runs(cache.runs_dir)
    with gr.Row(visible=bool(found)) as interrupted_row:
        interrupted = gr.Markdown(describe(cache.runs_dir, found), elem_id="train-interrupted")
        with gr.Column(scale=0, min_width=260):
            pick = gr.Dropdown(list(found), value=next(iter(found), None), label="Interrupted run",
                               allow_custom_value=True, elem_id="train-interrupted-pick")
            resume = gr.Button("Resume for the time budget above", elem_id="train-resume")
    status = gr.Markdown("No training run yet.", elem_id="train-status")
    curve = gr.LinePlot(x="step", y="nats", color="series", label="Loss", height=280,
                        x_title="step (piano-roll models: epoch)", y_title="nats per token (piano roll: per frame)")
    notes = gr.Markdown(label="Notes and files left out")

    @v.user_errors
    def run(files: Any, base: str, minutes: float, max_steps: int, name: str, weight_drop: float) -> Iterator[tuple]:
        yield from train(cache, board, files, base, minutes, max_steps, name, weight_drop)

    @v.user_errors
    def stop_training() -> str:
        return "stopping: a last evaluation, then the best model is saved" if board.stop() else "no run in progress"

    @v.user_errors
    def resume_run(name: str, minutes: float) -> Iterator[tuple]:
        yield from follow(resume_training(cache, board, name, minutes))

    def training_status() -> tuple:
        return progress_view(board.current)

    def list_interrupted() -> tuple:
        now = interrupted_runs(cache.runs_dir, board.current.out_dir if board.current and board.current.running
                               else None)
        return (gr.update(visible=bool(now)), describe(cache.runs_dir, now),
                gr.update(choices=list(now), value=next(iter(now), None)))

    base.change(lambda value: model_help(cache, value), base, about, api_name="train_model_help",
                concurrency_limit=None)
    event = go.click(run, [files, base, minutes, max_steps, name, weight_drop], [status, curve, notes],
                     api_name="train", concurrency_limit=1, concurrency_id="train")
    stop.click(stop_training, None, status, api_name="stop_training", concurrency_limit=None)
    resumed = resume.click(resume_run, [pick, minutes], [status, curve, notes], api_name="resume_training",
                           concurrency_limit=1, concurrency_id="train")
    refresh.click(training_status, None, [status, curve, notes], api_name="training_status",
                  concurrency_limit=None)
    for trigger, api in ((refresh.click, "interrupted_runs"), (resumed.then, "interrupted_runs_after_resume")):
        trigger(list_interrupted, None, [interrupted_row, interrupted, pick], api_name=api, concurrency_limit=None)
    return {"model": base, "events": [event, resumed]}
