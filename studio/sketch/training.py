"""Train DRAW on binarized MNIST: a packed-bit ``.npz`` in, a run folder out.

Steps draw batches in a fresh random order each pass over the training images (pass ``p``'s order comes from the
seed and ``p`` alone, so the data position is the step count and a resumed run reads what an unbroken one would).
Every ``eval_every`` steps the model's bound is taken on the validation images (a seeded draw of the latents, the
same at every evaluation), ``best/`` keeps the weights with the lowest bound, and ``last/`` the exact state
(``studio.training.blocks``). When training stops, the best model's bound on the test images joins its card: the
figure the paper reports (80.97 nats with attention).

Folders: ``OUT/best`` and ``OUT/last`` are bundles (safetensors + JSON card, ``model_kind`` ``draw``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from studio.checkpoint import Bundle, read_bundle, write_bundle
from studio.config import check_range
from studio.errors import StudioError
from studio.loading import DTYPES
from studio.models.draw import Draw, DrawConfig
from studio.sketch.mnist import SIDE, mnist_sha256, read_mnist
from studio.training.blocks import BlockRun, BlockTrainConfig, open_run, resumed_config, train_in_blocks
from studio.training.state import seed_everything

KIND = "draw"          # the model_kind of DRAW cards
EVAL_SEED = 2015       # the latents of every evaluation come from this seed


@dataclass
class DrawTrainConfig(BlockTrainConfig):
    """How DRAW is trained: the shared block-loop settings with DRAW's defaults, and which images to use."""

    batch_size: int = 100          # images a step
    grad_clip: float = 100.0       # the loss is summed over 784 pixels, so its gradients are large
    max_steps: int = 100_000
    eval_every: int = 500
    eval_images: int = 0           # validation images scored at each evaluation (0: all)
    max_images: int = 0            # train on the first this many training images (0: all; a quick run)

    def validate(self) -> None:
        super().validate()
        check_range("eval_images", self.eval_images, 0, 100_000_000, integer=True)
        check_range("max_images", self.max_images, 0, 100_000_000, integer=True)


@torch.no_grad()
def evaluate_bound(model: Draw, images: torch.Tensor, batch_size: int = 500, seed: int = EVAL_SEED
                   ) -> dict[str, float]:
    """The negative variational bound on ``images`` (N, 28, 28) of 0/1, in nats per image: ``nats_per_image``
    (``recon`` + ``kl``), with each latent drawn once from a seeded generator (the same draws at every call)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    recon = kl = 0.0
    cuda = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):  # a seeded draw of the latents that leaves training's RNG alone
        torch.manual_seed(seed)
        for start in range(0, images.shape[0], batch_size):
            r, k = model(images[start:start + batch_size].to(device, torch.float32))
            recon, kl = recon + float(r.sum()), kl + float(k.sum())
    model.train(was_training)
    count = max(images.shape[0], 1)
    return {"nats_per_image": (recon + kl) / count, "recon": recon / count, "kl": kl / count,
            "images": images.shape[0]}


def pass_order(seed: int, index: int, count: int) -> torch.Tensor:
    """The order of the training images in pass ``index`` (from the seed and the pass alone)."""
    return torch.randperm(count, generator=torch.Generator().manual_seed(seed * 1_000_003 + index))


def train_draw(data: str | Path, out_dir: str | Path, model_config: DrawConfig | None = None,
               train_config: DrawTrainConfig | None = None, resume: bool = False, save_dtype: str = "float32",
               command: str | None = None, on_eval: Callable[[dict[str, Any]], None] | None = None,
               device: str | torch.device = "cpu") -> Path:
    """Train (or, with ``resume``, continue) DRAW on the packed binarized MNIST at ``data``; returns ``OUT/best``.

    A resumed run keeps its shape and settings; only the budgets of ``train_config`` (``minutes``, the whole run's,
    and ``max_steps``) apply, when it is given. The images stay on the CPU as bytes; each batch goes to ``device``
    as floats."""
    out = Path(out_dir)
    if save_dtype not in DTYPES:
        raise StudioError(f"save dtype must be one of {', '.join(DTYPES)}, got {save_dtype!r}")
    bundle = open_run(out, resume, KIND, "a DRAW")
    if bundle is not None:
        model_config = DrawConfig.from_dict(bundle.card["model_config"])
        train_config = resumed_config(bundle, DrawTrainConfig, train_config)
        command, save_dtype = bundle.card["command"], bundle.card.get("save_dtype", save_dtype)
        if bundle.card["data"]["sha256"] != mnist_sha256(data):
            raise StudioError(f"the data at {data} differ from those this run started on; resume with them")
    splits = read_mnist(data)
    if "train" not in splits or "valid" not in splits:
        raise StudioError(f"{data} needs a train and a valid split to train on")
    mconf = model_config or DrawConfig()
    if (mconf.height, mconf.width) != (SIDE, SIDE):
        raise StudioError(f"binarized MNIST images are {SIDE} x {SIDE}; the model config says "
                          f"{mconf.height} x {mconf.width}")
    tconf = train_config or DrawTrainConfig()
    train = splits["train"][:tconf.max_images] if tconf.max_images else splits["train"]
    valid = splits["valid"][:tconf.eval_images] if tconf.eval_images else splits["valid"]
    if train.shape[0] < tconf.batch_size:
        raise StudioError(f"batch size {tconf.batch_size} is larger than the {train.shape[0]} training images")
    seed_everything(tconf.seed)
    model = Draw(mconf).to(device)
    card = {"name": out.name, "model_kind": KIND, "command": command or " ".join(["studio", *sys.argv[1:]]),
            "model_config": mconf.to_dict(), "train_config": tconf.to_dict(), "save_dtype": save_dtype,
            "parameters": model.num_parameters(),
            "data": {"name": Path(data).name, "sha256": mnist_sha256(data),
                     "images": {k: int(v.shape[0]) for k, v in splits.items()}, "trained_on": int(train.shape[0])}}
    # The data order needs no generator (pass_order); the loop saves one anyway, with the RNG that draws the latents.
    run = BlockRun(out, card, model, torch.optim.Adam(model.parameters(), lr=tconf.lr),
                   torch.Generator().manual_seed(tconf.seed), tconf)
    per_pass = train.shape[0] // tconf.batch_size
    orders: dict[int, torch.Tensor] = {}

    def loss_at(step: int) -> torch.Tensor:
        index, at = divmod(step, per_pass)
        if index not in orders:
            orders.clear()
            orders[index] = pass_order(tconf.seed, index, train.shape[0])
        x = train[orders[index][at * tconf.batch_size:(at + 1) * tconf.batch_size]].to(device, torch.float32)
        recon, kl = model(x)
        return (recon + kl.sum(1)).mean()

    def save_best(state: dict[str, torch.Tensor], metrics: dict[str, float], steps: int, seconds: float) -> None:
        weights = {k: v.detach().to("cpu", DTYPES[save_dtype]) for k, v in state.items()}
        best = {**card, "metrics": {f"valid_{k}": v for k, v in metrics.items()},
                "training": {"steps": steps, "seconds": round(seconds, 1)}}
        write_bundle(out / "best", Bundle(best, weights))

    def make_row(train_nats: float, metrics: dict[str, float]) -> dict[str, Any]:
        return {"train_nats_per_image": train_nats, "valid_nats_per_image": metrics["nats_per_image"],
                "valid_recon": metrics["recon"], "valid_kl": metrics["kl"]}

    train_in_blocks(run, bundle, loss_at, lambda: evaluate_bound(model, valid), "nats_per_image", save_best,
                    make_row, on_eval)
    if "test" in splits:
        score_test(out / "best", splits["test"], device)
    return out / "best"


def score_test(best: Path, test: torch.Tensor, device: str | torch.device = "cpu") -> dict[str, float]:
    """Score the best model on the test images and record the bound in its card (rewritten in place)."""
    saved = read_bundle(best)
    model, _ = load_draw(best, device)
    metrics = evaluate_bound(model, test)
    card = dict(saved.card)
    card["metrics"] = {**card.get("metrics", {}), **{f"test_{k}": v for k, v in metrics.items()}}
    write_bundle(best, Bundle(card, saved.weights), keep_companions=True)
    return metrics


def load_draw(path: str | Path, device: str | torch.device = "cpu") -> tuple[Draw, dict[str, Any]]:
    """A trained DRAW model (eval mode, float32) and its card; ``path`` is a shipped name, a bundle or a run."""
    from studio.loading import resolve_model

    bundle = read_bundle(resolve_model(path))
    if bundle.card.get("model_kind") != KIND:
        raise StudioError(f"{path} is not a DRAW model (train one with `studio train draw`)")
    model = Draw(DrawConfig.from_dict(bundle.card["model_config"]))
    try:
        model.load_state_dict({k: v.float() for k, v in bundle.weights.items()})
    except RuntimeError as err:
        raise StudioError(f"checkpoint {bundle.path}: the weights do not fit its model_config ({err})") from err
    return model.to(device).eval(), bundle.card


__all__ = ["DrawTrainConfig", "evaluate_bound", "load_draw", "pass_order", "score_test", "train_draw"]
