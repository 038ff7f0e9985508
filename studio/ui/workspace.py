"""Output folders for the page: one fresh folder per request, old ones removed.

Gradio copies every file a handler returns into its own cache (cleaned by ``Blocks(delete_cache=...)``), so the
folders here only need to live until the reply is sent; folders older than ``KEEP_SECONDS`` are deleted whenever a
new one is made.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
import uuid
from pathlib import Path

KEEP_SECONDS = 600  # Gradio copies what a handler returns into its own cache as soon as it returns


def root() -> Path:
    """``$STUDIO_UI_WORKSPACE``, or ``studio-ui`` in the system's temporary folder (where Gradio may serve from)."""
    return Path(os.environ.get("STUDIO_UI_WORKSPACE") or Path(tempfile.gettempdir()) / "studio-ui")


def new_folder(kind: str) -> Path:
    """A new, empty folder ``<root>/<kind>-<random>``; folders older than ``KEEP_SECONDS`` go first."""
    base = root()
    base.mkdir(parents=True, exist_ok=True)
    prune(base)
    folder = base / f"{kind}-{uuid.uuid4().hex[:12]}"
    folder.mkdir()
    return folder


def prune(base: Path, keep_seconds: float = KEEP_SECONDS) -> None:
    """Delete the folders in ``base`` not touched for ``keep_seconds``."""
    cutoff = time.time() - keep_seconds
    for entry in base.iterdir():
        try:
            if entry.is_dir() and entry.stat().st_mtime < cutoff:
                shutil.rmtree(entry, ignore_errors=True)
        except OSError:  # another request removed it first
            continue


def safe_name(name: str, fallback: str = "file", max_chars: int = 60) -> str:
    """A file or folder name made of letters, digits, ``.``, ``-`` and ``_`` only (no path tricks)."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(str(name)).name).strip(".-_")[:max_chars]
    return cleaned or fallback
