"""Checkpoint bundles on disk: tensors in safetensors, everything else in JSON, written atomically.

A bundle is a folder::

    model.json            the model card: format version, configs, tokenizer, metrics, corpus hash, command,
                          and the sha256 of model.safetensors (so a damaged or mismatched weight file is caught)
    model.safetensors     the weights
    state.json            (resumable bundles only) step, schedule, data position, RNG states
    state.safetensors     (resumable bundles only) optimiser moments, torch RNG state, carried hidden state

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
    """

    card: dict[str, Any]
    weights: dict[str, torch.Tensor]
    state: dict[str, Any] | None = None
    state_tensors: dict[str, torch.Tensor] = field(default_factory=dict)
    path: Path | None = None


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


def write_bundle(path: str | Path, bundle: Bundle) -> Path:
    """Write ``bundle`` to the folder ``path`` atomically (replacing what is there). Returns the path."""
    dest = Path(path)
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


def read_bundle(path: str | Path, with_state: bool = False) -> Bundle:
    """Read a bundle folder; ``with_state`` also reads the training state (an error if there is none)."""
    folder = _recover(Path(path))
    card = read_card(folder)
    weights = _load_tensors(folder / WEIGHTS_FILE, card.get("weights", {}).get("sha256"))
    bundle = Bundle(card=card, weights=weights, path=folder)
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
