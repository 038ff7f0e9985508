"""Fine-tuning in a background thread, so a training run never blocks generation, with its progress for the page.

A ``TrainingJob`` runs the fine-tuning service for its base model's kind (``studio.ui.finetune_runs``: text,
lead-sheet and polyphonic models through the Trainer, piano-roll models by epochs) in a daemon thread, and records
what the page shows while it runs: the Trainer's callback events (``TrainEvent``: step losses, validation metrics)
or the piano-roll epoch rows, the base model's validation loss, and the corpus notes (skipped files...).
``TrainingBoard`` allows one job at a time per server.

Stopping: the services build their Trainer (or epoch loop) inside and do not hand it out, so
``Trainer.request_stop()`` is out of reach here. ``stop()`` instead shrinks the time budget (``minutes``) of the
config the run checks before every step (``TrainConfig``) or after every epoch (``RollTrainConfig``): the run ends
as when its budget runs out (a last evaluation, the best model saved), so a stopped run still gives a usable model.
Off the main thread the Trainer installs no signal handlers.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.errors import StudioError
from studio.ui.model_cache import TEXT

log = logging.getLogger("studio.ui")
STOP_MINUTES = 1e-9  # a time budget that has run out by the next step


@dataclass
class TrainingJob:
    """One fine-tuning run: its settings, and what has happened so far (read by other threads)."""

    base: str
    corpus: Path
    out_dir: Path
    train_config: Any                      # studio.config.TrainConfig, or RollTrainConfig for piano-roll models
    notes: list[str] = field(default_factory=list)
    kind: str = TEXT                       # the base model's kind: text, leadsheet, polyphonic or piano_roll
    weight_drop: float | None = None       # text models: DropConnect on the recurrent weights, 0 for none
                                           # (None, as for music models: whatever the base model has)
    resume: bool = False                   # continue the run in out_dir from its last checkpoint
    status: str = "starting"               # starting, running, done, stopped, no new model, failed
    steps: list[tuple[int, float]] = field(default_factory=list)   # (step or epoch, training loss)
    evals: list[tuple[int, float]] = field(default_factory=list)   # (step or epoch, validation loss); 0: the base
    last: dict[str, Any] = field(default_factory=dict)              # the latest step event's data (or epoch row)
    error: str = ""
    result: Any = None                     # studio.ui.finetune_runs.RunSummary when done
    base_valid: float | None = None        # the base model's loss on the user's validation data, once known
    phase: str = "reading"                 # reading (files, tokens), scoring (the base model), training, finishing
    base_progress: tuple[int, int] = (0, 0)  # windows of the base model's scoring done, and in all
    started: float = field(default_factory=time.monotonic)
    stop_requested: bool = False

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"studio-train-{self.out_dir.name}", daemon=True)

    # -- control ------------------------------------------------------------------------------------------------
    def start(self) -> TrainingJob:
        self._thread.start()
        return self

    def stop(self) -> None:
        """End the run at the next step (a piano-roll model's: after this epoch), keeping the best model (see the
        module docstring)."""
        self.stop_requested = True
        self.train_config.minutes = STOP_MINUTES

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the run to end; True when it has."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # -- the run ------------------------------------------------------------------------------------------------
    def _run(self) -> None:
        from studio.ui.finetune_runs import Hooks, run
        from studio.ui.page_runs import finish, record_from, write_record

        self.status = "running"
        if not self.resume:  # the record a restarted server finds this run by (studio.ui.page_runs)
            write_record(self.out_dir, record_from(self))
        command = (f"studio finetune --base {self.base} --corpus <files uploaded to the Studio page> "
                   f"--minutes {self.train_config.minutes:g} --out {self.out_dir}"
                   + (f" --weight-drop {self.weight_drop:g}" if self.weight_drop is not None else ""))
        hooks = Hooks(on_event=self._on_event, on_epoch=self._on_epoch, on_note=self._on_note)
        try:
            self.result = run(self.kind, self.base, self.corpus, self.out_dir, self.train_config, hooks, command,
                              weight_drop=self.weight_drop, resume=self.resume)
            self.status = ("no new model" if not self.result.new_model else "stopped" if self.stop_requested
                           else "done")
        except StudioError as error:
            self.error, self.status = str(error), "failed"
        except Exception as error:  # a bug: keep the server up, log it, and say so in the page
            log.exception("training job %s failed", self.out_dir)
            self.error, self.status = f"{type(error).__name__}: {error}", "failed"
        finish(self.out_dir, self.status)

    def _on_event(self, event: Any) -> None:
        with self._lock:
            if event.kind == "start":
                self.phase = "scoring" if not event.data.get("resumed") else "training"
            elif event.kind == "base_progress":
                self.base_progress = (int(event.data["done"]), int(event.data["total"]))
            elif event.kind == "end":
                self.phase = "finishing"
            elif event.kind == "step":
                self.phase = "training"
                self.steps.append((event.step, float(event.data["loss"])))
                self.last = {**event.data, "step": event.step, "max_steps": event.max_steps}
            elif event.kind == "eval":
                self.evals.append((event.step, float(event.data["valid_nats_per_token"])))
        if event.kind == "base_eval":  # the Trainer scored the base model before its first step
            self._on_base(float(event.data["valid_nats_per_token"]))

    def _on_epoch(self, row: dict[str, Any]) -> None:
        self.phase = "training"
        if int(row["epoch"]) == 0:  # a piano-roll fine-tune's epoch 0 is the base model, before training
            self._on_base(float(row["valid"]))
            return
        with self._lock:
            self.steps.append((int(row["epoch"]), float(row["train"])))
            self.evals.append((int(row["epoch"]), float(row["valid"])))
            self.last = dict(row)

    def _on_base(self, loss: float) -> None:
        """The base model's validation loss: the curve's validation point at step (epoch) 0."""
        with self._lock:
            self.base_valid = float(loss)
            self.evals.insert(0, (0, float(loss)))

    def _on_note(self, line: str) -> None:
        with self._lock:
            self.notes.append(line)

    def snapshot(self) -> dict[str, Any]:
        """A consistent copy of the progress, for display."""
        with self._lock:
            return {"status": self.status, "steps": list(self.steps), "evals": list(self.evals),
                    "last": dict(self.last), "notes": list(self.notes), "error": self.error,
                    "result": self.result, "out_dir": self.out_dir, "base": self.base, "kind": self.kind,
                    "base_valid": self.base_valid, "phase": self.phase, "base_progress": self.base_progress,
                    "elapsed_s": time.monotonic() - self.started}


class TrainingBoard:
    """The server's training jobs: one runs at a time, and the latest stays readable when done."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.current: TrainingJob | None = None

    def start(self, job: TrainingJob) -> TrainingJob:
        with self._lock:
            if self.current is not None and self.current.running:
                raise StudioError(f"a training run ({self.current.out_dir.name}) is in progress; wait for it or "
                                  "stop it first (one at a time keeps generation responsive)")
            self.current = job
            return job.start()

    def stop(self) -> bool:
        """Ask the running job to stop; False when none runs."""
        with self._lock:
            job = self.current
        if job is None or not job.running:
            return False
        job.stop()
        return True
