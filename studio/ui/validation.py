"""Checks on what the page (or an API client) sends, and errors shown as messages instead of tracebacks.

Sliders keep people within range in the browser, but ``gradio_client`` and plain HTTP can send anything, so every
handler checks every value again with the config validators (``check_range``, ``check_choice``). A ``StudioError``
becomes a ``gr.Error`` (a message in the page, the reason in an API error); any other exception is logged on the
server with its traceback and shown as one line.
"""

from __future__ import annotations

import functools
import inspect
import logging
import math
import secrets
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import gradio as gr

from studio.config import check_choice, check_range
from studio.errors import StudioError

log = logging.getLogger("studio.ui")

MAX_SEED = 2**31 - 1
RANDOM_SEED = -1  # the seed box's "draw a new one each time"


def number(name: str, value: Any, low: float, high: float, *, integer: bool = False,
           low_open: bool = False) -> Any:
    """``value`` as an int (``integer``) or float, checked to lie in [low, high] (or (low, high]).

    Gradio sends whole numbers from sliders as floats (``3.0``); those count as integers.
    """
    if value is None or value == "":
        raise StudioError(f"{name} is missing: give a number in [{low:g}, {high:g}]")
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise StudioError(f"{name} must be a number, got {value!r}") from None
    if integer and isinstance(value, float) and math.isfinite(value) and value == int(value):
        value = int(value)
    if not integer and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    check_range(name, value, low, high, low_open=low_open, integer=integer)
    return value


def choice(name: str, value: Any, choices: Iterable[str]) -> str:
    """``value`` if it is one of ``choices``."""
    options = tuple(choices)
    if not isinstance(value, str):
        raise StudioError(f"{name} must be one of {', '.join(options)}; got {value!r}")
    check_choice(name, value, options)
    return value


def flag(name: str, value: Any) -> bool:
    """A checkbox's value (a real bool)."""
    if not isinstance(value, bool):
        raise StudioError(f"{name} must be true or false, got {value!r}")
    return value


def seed(value: Any) -> int:
    """The seed to use: the one given, or a fresh random one for -1 (or an empty box)."""
    if value is None or value == "" or value == RANDOM_SEED:
        return secrets.randbelow(MAX_SEED)
    return number("seed (-1 for a random one)", value, 0, MAX_SEED, integer=True)


def random_seed() -> int:
    """A fresh seed for the dice buttons."""
    return secrets.randbelow(MAX_SEED)


def text(name: str, value: Any, max_chars: int, *, required: bool = False) -> str:
    """A text box's content, at most ``max_chars`` characters."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise StudioError(f"{name} must be text, got {type(value).__name__}")
    if required and not value.strip():
        raise StudioError(f"{name} is empty")
    if len(value) > max_chars:
        raise StudioError(f"{name} is {len(value):,} characters long; the page takes at most {max_chars:,}")
    return value


def upload(name: str, value: Any, suffixes: tuple[str, ...], max_bytes: int) -> Path:
    """The path of one uploaded file, checked for its type (suffix) and size."""
    path = Path(_upload_path(value))
    if not path.is_file():
        raise StudioError(f"{name}: the uploaded file {path.name} is missing; upload it again")
    if path.suffix.lower() not in suffixes:
        raise StudioError(f"{name}: {path.name} is not one of the accepted types ({', '.join(suffixes)})")
    size = path.stat().st_size
    if size > max_bytes:
        raise StudioError(f"{name}: {path.name} is {size / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.0f} MB")
    return path


def _upload_path(value: Any) -> str:
    """Gradio hands over a path string (type="filepath"), or a dict/FileData-like object with a ``path``."""
    if isinstance(value, (str, Path)):
        return str(value)
    if isinstance(value, dict) and value.get("path"):
        return str(value["path"])
    path = getattr(value, "path", None) or getattr(value, "name", None)
    if path:
        return str(path)
    raise StudioError(f"not an uploaded file: {value!r}")


def upload_paths(value: Any) -> list[Path]:
    """The paths of a multi-file upload (None or empty: no files)."""
    if not value:
        return []
    items = value if isinstance(value, (list, tuple)) else [value]
    return [Path(_upload_path(item)) for item in items]


def warn_all(notes: Iterable[str]) -> None:
    """Show each note as a warning toast in the page."""
    for note in notes:
        gr.Warning(note)


def _as_gradio_error(error: BaseException, fn: Callable) -> gr.Error:
    if isinstance(error, gr.Error):
        return error
    if isinstance(error, StudioError):
        return gr.Error(str(error), print_exception=False)
    log.exception("unexpected error in %s", getattr(fn, "__name__", fn))
    return gr.Error(f"something went wrong ({type(error).__name__}: {error}); the server log has the details",
                    print_exception=False)


def user_errors(fn: Callable) -> Callable:
    """Wrap a handler (plain or generator) so errors reach the page as one-line messages, never as tracebacks."""
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def stream(*args: Any, **kwargs: Any) -> Any:
            try:
                yield from fn(*args, **kwargs)
            except Exception as error:
                raise _as_gradio_error(error, fn) from None

        return stream

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as error:
            raise _as_gradio_error(error, fn) from None

    return call
