"""MIDI files out of a performance, with Studio's meta text events (model, seed, every parameter), and the atomic
writes every exporter shares (audio in ``studio.music.io.audio``, the piano-roll PNG in ``studio.music.io.roll_png``,
sheet music in ``studio.music.io.notation``).

Every writer writes a temporary file beside the target and renames it into place, so a crash or a bad input never
leaves a half-written file; errors a user can cause raise ``StudioError``.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path

import mido
import pretty_midi

from studio.errors import StudioError


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[str]:
    """Yield a temporary path beside ``path`` (same suffix); rename it onto ``path`` only if the block succeeds."""
    target = Path(path)
    if target.is_dir():
        raise StudioError(f"cannot write {target}: it is a folder; give a file name")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StudioError(f"cannot write {target}: {error.strerror or error}") from None
    # A fresh name the writer creates itself, so the file gets the usual permissions (mkstemp's are owner-only).
    tmp = str(target.parent / f".{target.stem}.{uuid.uuid4().hex[:12]}.tmp{target.suffix}")
    try:
        yield tmp
        os.replace(tmp, target)
    except OSError as error:
        raise StudioError(f"cannot write {target}: {error.strerror or error}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def require_midi(pm: object) -> pretty_midi.PrettyMIDI:
    """``pm`` itself, or a StudioError when it is not a performance."""
    if not isinstance(pm, pretty_midi.PrettyMIDI):
        raise StudioError(f"expected a pretty_midi.PrettyMIDI performance (from render_midi), got {type(pm).__name__}")
    return pm


# -- MIDI ---------------------------------------------------------------------------------------------------------
def write_midi(pm: pretty_midi.PrettyMIDI, path: str | os.PathLike[str]) -> Path:
    """Write a Standard MIDI File (type 1, one track per part, meta text events kept). Returns the path."""
    require_midi(pm)
    with atomic_path(path) as tmp:
        pm.write(tmp)
    return Path(path)


def read_meta(path: str | os.PathLike[str]) -> dict[str, object]:
    """The ``studio:`` meta data stored in a MIDI file by ``render_midi`` (``{}`` for files from elsewhere)."""
    try:
        midi = mido.MidiFile(str(path))
    except (OSError, EOFError, ValueError, KeyError, IndexError) as error:
        raise StudioError(f"cannot read MIDI file {path}: {error or 'it is not a Standard MIDI File'}") from None
    return parse_meta_texts([m.text for track in midi.tracks for m in track if m.type == "text"])


META_PREFIX = "studio:"


def meta_texts(meta: Mapping[str, object]) -> list[str]:
    """``studio:<key>=<JSON>`` lines for MIDI text events (ASCII only: MIDI text is Latin-1 at best).

    Raises
    ------
    StudioError
        For a key that is not a non-empty string without ``=``, or a value JSON cannot represent.
    """
    texts = []
    for key, value in meta.items():
        if not isinstance(key, str) or not key or "=" in key or not key.isascii() or not key.isprintable():
            raise StudioError(f"meta key {key!r} must be a non-empty printable ASCII string without '='")
        try:
            encoded = json.dumps(value, ensure_ascii=True, sort_keys=True, allow_nan=False)
        except (TypeError, ValueError) as error:
            raise StudioError(f"meta value for {key!r} cannot be stored in the MIDI file ({error}); "
                              "use strings, numbers, booleans, lists or dicts") from None
        texts.append(f"{META_PREFIX}{key}={encoded}")
    return texts


def parse_meta_texts(texts: list[str]) -> dict[str, object]:
    """The inverse of ``meta_texts``: other text events are ignored, so foreign files read as ``{}``."""
    meta: dict[str, object] = {}
    for text in texts:
        if text.startswith(META_PREFIX) and "=" in text:
            key, _, encoded = text[len(META_PREFIX):].partition("=")
            try:
                meta[key] = json.loads(encoded)
            except json.JSONDecodeError:
                meta[key] = encoded  # written by hand or by an older tool: keep the raw text
    return meta
