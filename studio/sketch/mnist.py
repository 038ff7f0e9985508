"""Binarized MNIST (Larochelle & Murray 2011's fixed binarization), the data set of the DRAW paper, as packed bits.

The file is a NumPy ``.npz`` with one array per split (``train``, ``valid``, ``test``), each (N, 98) uint8: the 784
pixels of a 28 x 28 image, one bit each, packed with ``np.packbits`` (``../shared/corpora/binarized-mnist``, see
its PROVENANCE.md). ``read_mnist`` unpacks them to (N, 28, 28) uint8 tensors of 0/1; ``write_mnist`` packs images
the same way (the tests write tiny data sets with it, so they need nothing from ``../shared``).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import torch

from studio.errors import StudioError

SIDE = 28
PIXELS = SIDE * SIDE
PACKED = (PIXELS + 7) // 8  # 98 bytes an image
SPLITS = ("train", "valid", "test")


def read_mnist(path: str | Path) -> dict[str, torch.Tensor]:
    """The splits of a packed binarized-MNIST file: {name: (N, 28, 28) uint8 of 0/1}; a split it lacks is left out.

    A missing, unreadable or misshapen file is a ``StudioError`` naming it and the expected layout.
    """
    file = Path(path)
    if file.is_dir():
        found = sorted(file.glob("*.npz"))
        if len(found) != 1:
            raise StudioError(f"{file} should hold one .npz of binarized MNIST (found {len(found)})")
        file = found[0]
    if not file.exists():
        raise StudioError(f"{file} does not exist: give the binarized-MNIST .npz "
                          "(e.g. ../shared/corpora/binarized-mnist/binarized_mnist.npz)")
    try:
        with np.load(file, allow_pickle=False) as data:  # never unpickle: the arrays are plain uint8
            arrays = {name: data[name] for name in SPLITS if name in data.files}
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise StudioError(f"{file} is not a readable .npz file: {err}") from err
    if not arrays:
        raise StudioError(f"{file} has none of the splits {', '.join(SPLITS)}: it is not binarized MNIST as packed "
                          "bits (see ../shared/corpora/binarized-mnist/PROVENANCE.md)")
    splits = {}
    for name, packed in arrays.items():
        if packed.dtype != np.uint8 or packed.ndim != 2 or packed.shape[1] != PACKED:
            raise StudioError(f"{file}: split {name!r} is {packed.dtype} {packed.shape}, expected (N, {PACKED}) "
                              "uint8 (784 pixels packed 8 to a byte)")
        pixels = np.unpackbits(packed, axis=1)[:, :PIXELS].reshape(-1, SIDE, SIDE)
        splits[name] = torch.from_numpy(pixels.copy())
    return splits


def write_mnist(path: str | Path, splits: dict[str, torch.Tensor]) -> Path:
    """Pack {split: (N, 28, 28) 0/1 images} into an ``.npz`` that ``read_mnist`` reads."""
    packed = {}
    for name, images in splits.items():
        flat = images.reshape(images.shape[0], -1).to(torch.uint8).numpy()
        if flat.shape[1] != PIXELS:
            raise StudioError(f"split {name!r}: images must be {SIDE} x {SIDE}")
        packed[name] = np.packbits(flat, axis=1)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, **packed)
    return out


def mnist_sha256(path: str | Path) -> str:
    """sha256 of the data file (a resumed run checks that it reads the same data)."""
    from studio.checkpoint import sha256_file

    file = Path(path)
    if file.is_dir():
        file = sorted(file.glob("*.npz"))[0]
    return sha256_file(file)


__all__ = ["PIXELS", "SIDE", "SPLITS", "mnist_sha256", "read_mnist", "write_mnist"]
