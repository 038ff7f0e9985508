"""Fine-tuning in a background thread, so a training run never blocks generation, with its progress for the page.

A ``TrainingJob`` runs ``studio.finetune.finetune_text`` in a daemon thread and records the Trainer's callback
events (``TrainEvent``: step losses, validation metrics, the end) and the corpus notes (skipped files...), which
the Train tab reads while it runs. ``TrainingBoard`` allows one job at a time per server.

Stopping: ``finetune_text`` builds its Trainer inside and does not hand it out, so ``Trainer.request_stop()`` is
out of reach here. ``stop()`` instead shrinks the time budget of the ``TrainConfig`` the Trainer checks before
every step: the run ends as when its budget runs out (a last evaluation, the best model saved to ``best/``), so a
stopped run still gives a usable model. Off the main thread the Trainer installs no signal handlers.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.errors import StudioError

log = logging.getLogger("studio.ui")
STOP_MINUTES = 1e-9  # a time budget that has run out by the next step


@dataclass
class TrainingJob:
    """One fine-tuning run: its settings, and what has happened so far (read by other threads)."""

    base: str
    corpus: Path
    out_dir: Path
    train_config: Any                      # studio.config.TrainConfig
    notes: list[str] = field(default_factory=list)
    status: str = "starting"               # starting, running, done, stopped, failed
    steps: list[tuple[int, float]] = field(default_factory=list)   # (step, training loss in nats/token)
    evals: list[tuple[int, float]] = field(default_factory=list)   # (step, validation nats/token)
    last: dict[str, Any] = field(default_factory=dict)              # the latest step event's data
    error: str = ""
    result: Any = None                     # studio.finetune.FinetuneResult when done
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
        """End the run at the next step, keeping the best model (see the module docstring)."""
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
        from studio.finetune import finetune_text

        self.status = "running"
        minutes = self.train_config.minutes
        command = (f"studio finetune --base {self.base} --corpus <files uploaded to the Studio page> "
                   f"--minutes {minutes:g} --out {self.out_dir}")
        try:
            self.result = finetune_text(self.base, self.corpus, self.out_dir, self.train_config,
                                        callbacks=[self._on_event], command=command, samples=1,
                                        on_note=self._on_note)
            self.status = "stopped" if self.stop_requested else "done"
        except StudioError as error:
            self.error, self.status = str(error), "failed"
        except Exception as error:  # a bug: keep the server up, log it, and say so in the page
            log.exception("training job %s failed", self.out_dir)
            self.error, self.status = f"{type(error).__name__}: {error}", "failed"

    def _on_event(self, event: Any) -> None:
        with self._lock:
            if event.kind == "step":
                self.steps.append((event.step, float(event.data["loss"])))
                self.last = {**event.data, "step": event.step, "max_steps": event.max_steps}
            elif event.kind == "eval":
                self.evals.append((event.step, float(event.data["valid_nats_per_token"])))

    def _on_note(self, line: str) -> None:
        with self._lock:
            self.notes.append(line)

    def snapshot(self) -> dict[str, Any]:
        """A consistent copy of the progress, for display."""
        with self._lock:
            return {"status": self.status, "steps": list(self.steps), "evals": list(self.evals),
                    "last": dict(self.last), "notes": list(self.notes), "error": self.error,
                    "result": self.result, "out_dir": self.out_dir, "base": self.base,
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
