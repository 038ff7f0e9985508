"""The page's own record of each fine-tune it starts, so a run cut short by a server restart can be resumed.

Every run the Train tab starts keeps its uploaded corpus in ``<runs>/<name>/corpus`` and its settings in
``<runs>/<name>/page-run.json`` (written beside and renamed, so never half-written), with a status that the job
updates when it ends. A record still saying ``running`` when no job of this server runs it belongs to a run the
server was stopped under (a restart, a crash, ``kill -9``): ``interrupted_runs`` lists those, and the Train tab's
Resume continues one from its last checkpoint (or starts it again, if it was stopped before its first one). The
corpus is removed once a run ends, as the model card keeps its hash.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from studio.errors import StudioError

RECORD = "page-run.json"
CORPUS = "corpus"


@dataclass
class PageRun:
    """What the page needs to start a run again: its base model and settings."""

    base: str
    kind: str
    minutes: float
    max_steps: int
    batch_size: int = 0                 # text and music runs: the batch shape the page chose (0: the default)
    seq_len: int = 0
    weight_drop: float | None = None
    status: str = "running"             # running, done, stopped, no new model, failed
    started: str = ""


def write_record(out: Path, run: PageRun) -> None:
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f".{RECORD}.tmp"
    tmp.write_text(json.dumps(asdict(run), indent=1), encoding="utf-8")
    os.replace(tmp, out / RECORD)


def read_record(out: Path) -> PageRun:
    try:
        data = json.loads((out / RECORD).read_text(encoding="utf-8"))
        return PageRun(**data)
    except (OSError, ValueError, TypeError) as err:
        raise StudioError(f"{out.name} is not a run this page started, or its record is unreadable ({err})") from err


def finish(out: Path, status: str) -> None:
    """Record how a run ended and drop its copy of the uploads."""
    try:
        run = read_record(out)
    except StudioError:
        return
    run.status = status
    write_record(out, run)
    shutil.rmtree(out / CORPUS, ignore_errors=True)


def progress(out: Path) -> tuple[int, float]:
    """(steps, or epochs for a piano-roll model; seconds trained) of a run's last checkpoint; (0, 0.0) without
    one."""
    try:
        state = json.loads((out / "last" / "state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return 0, 0.0
    if "loop" in state:
        return int(state["loop"]["epoch"]), float(state["loop"]["elapsed_s"])
    return int(state.get("step", 0)), float(state.get("elapsed_s", 0.0))


def interrupted_runs(runs_dir: Path, running: Path | None = None) -> dict[str, PageRun]:
    """The page's runs that were cut short (their record still says running, and ``running``, the folder of the
    job this server runs now, is not theirs), by folder name."""
    found: dict[str, PageRun] = {}
    if not runs_dir.is_dir():
        return found
    for folder in sorted(p for p in runs_dir.iterdir() if (p / RECORD).exists()):
        try:
            run = read_record(folder)
        except StudioError:
            continue
        if run.status == "running" and (running is None or folder.resolve() != running.resolve()):
            found[folder.name] = run
    return found


def describe(runs_dir: Path, found: dict[str, PageRun]) -> str:
    """Markdown listing the interrupted runs, or nothing."""
    if not found:
        return ""
    lines = ["**Interrupted runs** (the server stopped while they trained): choose one and Resume."]
    for name, run in found.items():
        done, seconds = progress(runs_dir / name)
        where = (f"its last checkpoint is at {'epoch' if run.kind == 'piano_roll' else 'step'} {done}, "
                 f"{seconds / 60:.1f} of its {run.minutes:g} minutes spent" if (runs_dir / name / "last").exists()
                 else "it stopped before its first checkpoint and starts again")
        lines.append(f"- `{name}`: from **{run.base}**, started {run.started}; {where}")
    return "\n".join(lines)


def now() -> str:
    return time.strftime("%Y-%m-%d %H:%M")


def record_from(job: Any) -> PageRun:
    """The record of a ``TrainingJob`` about to start."""
    config = job.train_config
    return PageRun(job.base, job.kind, float(config.minutes), int(getattr(config, "max_steps", 0)
                                                                   or getattr(config, "max_epochs", 0)),
                   int(getattr(config, "batch_size", 0)), int(getattr(config, "seq_len", 0)), job.weight_drop,
                   started=now())
