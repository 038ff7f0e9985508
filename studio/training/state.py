"""Exact training state as JSON plus named tensors, so a resumed run continues as if never stopped.

The optimiser's moments, the torch and CUDA random generators, the data generator and the carried hidden state are
tensors (saved with safetensors); the step, schedule, data position, Python and NumPy generator states are JSON.
Nothing is pickled.
"""

from __future__ import annotations

import hashlib
import random
from typing import Any

import numpy as np
import torch

from studio.errors import StudioError


def optimizer_state(optimizer: torch.optim.Optimizer) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Split ``optimizer.state_dict()`` into JSON (param groups, scalar entries) and tensors."""
    sd = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, entry in sd["state"].items():
        for key, value in entry.items():
            if torch.is_tensor(value):
                tensors[f"optim.{index}.{key}"] = value
            else:
                scalars.setdefault(str(index), {})[key] = value
    return {"param_groups": sd["param_groups"], "scalars": scalars}, tensors


def load_optimizer_state(optimizer: torch.optim.Optimizer, data: dict[str, Any],
                         tensors: dict[str, torch.Tensor]) -> None:
    """Inverse of ``optimizer_state``."""
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith("optim."):
            _, index, key = name.split(".", 2)
            state.setdefault(int(index), {})[key] = value
    for index, entries in data.get("scalars", {}).items():
        state.setdefault(int(index), {}).update(entries)
    try:
        optimizer.load_state_dict({"state": state, "param_groups": data["param_groups"]})
    except (ValueError, KeyError) as err:
        raise StudioError(f"the saved optimiser state does not fit this model: {err}") from err


def rng_state(data_generator: torch.Generator) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Every random generator a training step draws from."""
    tensors = {"rng.torch": torch.get_rng_state(), "rng.data": data_generator.get_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = s
    py = random.getstate()
    data = {"python": [py[0], list(py[1]), py[2]], "numpy": _jsonable(np.random.get_state(legacy=False))}
    return data, tensors


def load_rng_state(data_generator: torch.Generator, data: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
    """Inverse of ``rng_state``."""
    torch.set_rng_state(tensors["rng.torch"])
    data_generator.set_state(tensors["rng.data"])
    cuda = [tensors[k] for k in sorted(k for k in tensors if k.startswith("rng.cuda."))]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda[: torch.cuda.device_count()])
    version, internal, gauss = data["python"]
    random.setstate((version, tuple(internal), gauss))
    np.random.set_state(data["numpy"])


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.integer):
        return int(value)
    return value


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices) so a run is repeatable."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def data_fingerprint(*streams: torch.Tensor) -> str:
    """sha256 of token streams (their values as int64, and their lengths): a resumed run checks that it reads the
    same training and validation data as the run it continues, whatever read and split them."""
    digest = hashlib.sha256()
    for stream in streams:
        values = stream.detach().to("cpu", torch.int64).contiguous()
        digest.update(str(values.numel()).encode())
        digest.update(values.numpy().tobytes())
    return digest.hexdigest()
