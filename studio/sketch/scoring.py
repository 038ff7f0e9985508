"""``studio eval`` for DRAW: the negative variational bound on binarized MNIST, in nats per image."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from studio.errors import StudioError
from studio.sketch.mnist import SPLITS, read_mnist

CHOICES = ("auto", "all", *SPLITS)


def score_draw(model: str | Path, corpus: str | Path, split: str = "auto", device: str = "cpu") -> dict[str, Any]:
    """Score a DRAW model on a split of a packed binarized-MNIST file (``auto``: its test split, else all of it);
    a JSON-ready dict with the unit ``nats_per_image`` and the bound's two terms (``recon`` and ``kl``)."""
    from studio.loading import pick_device
    from studio.sketch.training import evaluate_bound, load_draw

    if split not in CHOICES:
        raise StudioError(f"split must be one of {', '.join(CHOICES)}; got {split!r}")
    loaded, _ = load_draw(model, pick_device(device))
    splits = read_mnist(corpus)
    if split == "auto":
        split = "test" if "test" in splits else "all"
    if split == "all":
        import torch

        images = torch.cat([splits[name] for name in SPLITS if name in splits])
    elif split in splits:
        images = splits[split]
    else:
        raise StudioError(f"{corpus} has no {split} split (it has {', '.join(splits)})")
    bound = evaluate_bound(loaded, images)
    return {"model": str(model), "corpus": str(corpus), "kind": "draw", "unit": "nats_per_image", "split": split,
            "nats_per_image": bound["nats_per_image"], "recon_nats": bound["recon"], "kl_nats": bound["kl"],
            "items": bound["images"], "item": "images", "skipped": []}


__all__ = ["score_draw"]
