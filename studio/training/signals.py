"""Ctrl-C and SIGTERM during training: the first stops the run cleanly after its step (a resumable checkpoint is
saved); a second one aborts at once."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from typing import Any, Protocol


class Stoppable(Protocol):
    """What the handlers need of a trainer: the stop reason it checks before every step."""

    _stop_reason: str


def stop_on_signals(trainer: Stoppable) -> Callable[[], None]:
    """Install the handlers for ``trainer``; returns the function that puts the previous ones back.

    Off the main thread nothing is installed (signals reach the main thread only); the page stops a run with
    ``Trainer.request_stop`` or its time budget instead.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum: int, frame: Any) -> None:
        if trainer._stop_reason:
            raise KeyboardInterrupt
        trainer._stop_reason = "interrupted"

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore
