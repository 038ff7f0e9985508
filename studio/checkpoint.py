"""Checkpoint bundles on disk: tensors in safetensors, everything else in JSON, written atomically.

A bundle is a folder::

    model.json            the model card: format version, configs, tokenizer, metrics, corpus hash, command,
                          and the sha256 of model.safetensors (so a damaged or mismatched weight file is caught)
    model.safetensors     the weights
    state.json            (resumable bundles only) step, schedule, data position, RNG states
    state.safetensors     (resumable bundles only) optimiser moments, torch RNG state, carried hidden state
    NAME.safetensors      optional extra tensor files (e.g. ``ngrams.safetensors``, the training corpus's n-gram
                          index), each listed with its sha256 under the card's ``"extras"``; bundles without them
                          (all bundles written before extras existed) read as before

Nothing is ever unpickled. A bundle is written into a hidden temporary folder beside its destination and then
renamed into place, so a crash (even ``kill -9``) mid-write leaves the previous bundle whole: either the old
folder is still at its place, or it sits renamed as ``.NAME.old-*`` for the moment of the swap and ``read_bundle``
recovers it.

This module knows tensors and JSON only; building a model from a bundle is ``studio.loading``'s job.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from studio.errors import StudioError

FORMAT = "studio-checkpoint"
FORMAT_VERSION = 1
CARD_FILE = "model.json"
WEIGHTS_FILE = "model.safetensors"
STATE_JSON = "state.json"
STATE_TENSORS = "state.safetensors"
# Extra names become file names inside the bundle: keep them plain, and away from the bundle's own files.
EXTRA_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
RESERVED_EXTRAS = ("model", "state")


@dataclass
class Bundle:
    """What a checkpoint folder holds, in memory.

    Attributes
    ----------
    card : dict
        The model card (JSON-able).
    weights : dict of str to Tensor
        The model's tensors by state-dict name.
    state : dict or None
        JSON-able training state, for resuming.
    state_tensors : dict of str to Tensor
        Tensors of the training state (optimiser moments, RNG, carried hidden state).
    path : Path or None
        Where it was read from.
    extras : dict of str to (dict of str to Tensor)
        Optional extra tensor files by name, each stored as ``NAME.safetensors`` (e.g. ``"ngrams"``, the training
        corpus's n-gram index, see ``studio.text.ngrams``).
    """

    card: dict[str, Any]
    weights: dict[str, torch.Tensor]
    state: dict[str, Any] | None = None
    state_tensors: dict[str, torch.Tensor] = field(default_factory=dict)
    path: Path | None = None
    extras: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_write(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _save_tensors(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> None:
    from safetensors.torch import save

    cpu = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    _fsync_write(path, save(cpu, metadata=metadata))


def _extra_file(name: str) -> str:
    if not isinstance(name, str) or not EXTRA_NAME.fullmatch(name) or name in RESERVED_EXTRAS:
        raise StudioError(f"bad checkpoint extra name {name!r}: use 1-64 letters, digits, '-' or '_', "
                          f"not {' or '.join(RESERVED_EXTRAS)}")
    return f"{name}.safetensors"


def _own_file(name: str) -> bool:
    """Whether a file name is one a bundle writes (card, weights, state, extras) rather than a companion."""
    return name in (CARD_FILE, STATE_JSON) or name.endswith(".safetensors")


def write_bundle(path: str | Path, bundle: Bundle, keep_companions: bool = False) -> Path:
    """Write ``bundle`` to the folder ``path`` atomically (replacing what is there). Returns the path.

    ``keep_companions`` carries over the files the old folder holds beside the bundle's own (a ``loss.png``, a
    README), so rewriting a shipped model with an added extra keeps them; by default the folder is replaced whole.
    """
    dest = Path(path)
    files = {name: _extra_file(name) for name in bundle.extras}  # bad names fail before anything is written
    dest.parent.mkdir(parents=True, exist_ok=True)
    tag = f"{os.getpid()}-{time.monotonic_ns()}"
    tmp = dest.parent / f".{dest.name}.tmp-{tag}"
    tmp.mkdir()
    try:
        _save_tensors(tmp / WEIGHTS_FILE, bundle.weights)
        card = dict(bundle.card)
        card["format"], card["format_version"] = FORMAT, FORMAT_VERSION
        card["weights"] = {"file": WEIGHTS_FILE, "sha256": sha256_file(tmp / WEIGHTS_FILE),
                           "dtype": _dtype_name(bundle.weights)}
        card.pop("extras", None)  # a card read from an older bundle may list extras this bundle no longer has
        for name, file in files.items():
            _save_tensors(tmp / file, bundle.extras[name])
            card.setdefault("extras", {})[name] = {"file": file, "sha256": sha256_file(tmp / file)}
        if keep_companions and dest.is_dir():
            for item in dest.iterdir():
                if item.is_file() and not _own_file(item.name):
                    shutil.copy2(item, tmp / item.name)
        if bundle.state is not None:
            _save_tensors(tmp / STATE_TENSORS, bundle.state_tensors)
            state = dict(bundle.state, tensors_sha256=sha256_file(tmp / STATE_TENSORS))
            _fsync_write(tmp / STATE_JSON, json.dumps(state).encode())
        # The card goes last: its presence marks a complete bundle.
        _fsync_write(tmp / CARD_FILE, json.dumps(card, indent=2, ensure_ascii=False).encode("utf-8"))
        old = dest.parent / f".{dest.name}.old-{tag}"
        if dest.exists():
            os.replace(dest, old)
        os.replace(tmp, dest)
        # Our own swap copy, and any a crash left behind earlier: dest is complete again, so they are stale.
        for stale in dest.parent.glob(f".{glob.escape(dest.name)}.old-*"):
            shutil.rmtree(stale, ignore_errors=True)
        _fsync_dir(dest.parent)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - some filesystems cannot open folders
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _dtype_name(tensors: dict[str, torch.Tensor]) -> str:
    dtypes = sorted({str(t.dtype).replace("torch.", "") for t in tensors.values() if t.is_floating_point()})
    return ",".join(dtypes) or "none"


def _recover(dest: Path) -> Path:
    """The bundle folder to read: ``dest``, or the copy a crash left mid-swap."""
    if (dest / CARD_FILE).exists() or not dest.parent.exists():
        return dest
    leftovers = sorted(dest.parent.glob(f".{glob.escape(dest.name)}.old-*"), key=lambda p: p.stat().st_mtime)
    complete = [p for p in leftovers if (p / CARD_FILE).exists()]
    return complete[-1] if complete else dest


def bundle_exists(path: str | Path) -> bool:
    """Whether a complete bundle is at ``path`` (or the copy a crash left mid-swap, which ``read_bundle`` reads)."""
    return (_recover(Path(path)) / CARD_FILE).exists()


def read_card(path: str | Path) -> dict[str, Any]:
    """The model card of a bundle, checked for format and version but without reading the weights."""
    folder = _recover(Path(path))
    card_path = folder / CARD_FILE
    if not folder.exists():
        raise StudioError(f"checkpoint {path} does not exist")
    if not card_path.exists():
        raise StudioError(f"checkpoint {folder} has no {CARD_FILE}: it is not a Studio model folder "
                          "(or its writing was interrupted)")
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise StudioError(f"checkpoint {card_path} is corrupt: {err}") from err
    if not isinstance(card, dict) or card.get("format") != FORMAT:
        raise StudioError(f"checkpoint {card_path} is not a Studio checkpoint (no format={FORMAT!r})")
    version = card.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise StudioError(f"checkpoint {card_path} has format version {version}; this Studio reads up to "
                          f"{FORMAT_VERSION}: upgrade Studio")
    return card


def _load_tensors(path: Path, expected_sha256: str | None) -> dict[str, torch.Tensor]:
    from safetensors.torch import load

    if not path.exists():
        raise StudioError(f"checkpoint file {path} is missing")
    try:
        data = path.read_bytes()
    except OSError as err:
        raise StudioError(f"cannot read checkpoint file {path}: {err}") from err
    if expected_sha256 and hashlib.sha256(data).hexdigest() != expected_sha256:
        raise StudioError(f"checkpoint file {path} is corrupt or truncated (its sha256 does not match the card)")
    try:
        return load(data)
    except Exception as err:  # safetensors raises its own SafetensorError for any malformed file
        raise StudioError(f"checkpoint file {path} is corrupt: {err}") from err


def read_bundle(path: str | Path, with_state: bool = False, with_extras: bool = True) -> Bundle:
    """Read a bundle folder; ``with_state`` also reads the training state (an error if there is none), and
    ``with_extras`` (the default) the extra tensor files its card lists, each checked against its sha256."""
    folder = _recover(Path(path))
    card = read_card(folder)
    weights = _load_tensors(folder / WEIGHTS_FILE, card.get("weights", {}).get("sha256"))
    bundle = Bundle(card=card, weights=weights, path=folder)
    if with_extras:
        listed = card.get("extras") or {}
        if not isinstance(listed, dict):
            raise StudioError(f"checkpoint {folder / CARD_FILE} is corrupt: its \"extras\" is not a mapping")
        for name, entry in listed.items():
            try:
                file = _extra_file(name)
            except StudioError as err:
                raise StudioError(f"checkpoint {folder / CARD_FILE} is corrupt: {err}") from err
            sha = entry.get("sha256") if isinstance(entry, dict) else None
            if not sha:
                raise StudioError(f"checkpoint {folder / CARD_FILE} is corrupt: extra {name!r} has no sha256")
            bundle.extras[name] = _load_tensors(folder / file, sha)
    if with_state:
        state_path = folder / STATE_JSON
        if not state_path.exists():
            raise StudioError(f"checkpoint {folder} holds no training state to resume from")
        try:
            bundle.state = json.loads(state_path.read_text())
        except (OSError, ValueError) as err:
            raise StudioError(f"training state {state_path} is corrupt: {err}") from err
        bundle.state_tensors = _load_tensors(folder / STATE_TENSORS, bundle.state.get("tensors_sha256"))
    return bundle
