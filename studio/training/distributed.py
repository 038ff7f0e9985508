"""Multi-process training with torchrun: process group setup, rank queries, and agreement between ranks.

``torchrun --nproc_per_node=N -m studio train ...`` (or ``--nnodes`` with a rendezvous for several machines) sets
``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK``; ``Trainer`` then joins the group (NCCL on GPUs, gloo on CPUs), wraps
the model in DistributedDataParallel and gives every rank its share of each batch's rows. Only rank 0 writes
checkpoints and logs and talks to the user.
"""

from __future__ import annotations

import atexit
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from studio.errors import StudioError


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands: ``rank`` of ``world`` processes, ``local_rank`` on its machine."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_from_environment(device_type: str) -> DistInfo:
    """Join the process group torchrun describes; a single process (no ``WORLD_SIZE``) gets ``DistInfo()``."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    info = DistInfo(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        backend = "nccl" if device_type == "cuda" else "gloo"
        if device_type == "cuda":
            torch.cuda.set_device(info.local_rank)
        dist.init_process_group(backend=backend)
        # Leave the group before the interpreter tears down: a gloo group still alive at exit can abort a rank
        # ("terminate called without an active exception", SIGABRT) after training has finished, and torchrun then
        # reports the whole run as failed. Seen about once in ten two-process runs on CPU.
        atexit.register(_leave_group)
    return info


def _leave_group() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def check_batch(batch_size: int, info: DistInfo) -> int:
    """Rows of each batch this rank trains on; the global batch must split evenly."""
    if batch_size % info.world:
        raise StudioError(f"--batch-size {batch_size} must be a multiple of the {info.world} processes, so every "
                          "rank trains on the same number of rows")
    return batch_size // info.world


def broadcast_code(code: int, info: DistInfo) -> int:
    """Rank 0's ``code`` on every rank (how ranks agree on when to stop)."""
    if not info.enabled:
        return code
    tensor = torch.tensor([code], dtype=torch.long)
    if dist.get_backend() == "nccl":
        tensor = tensor.cuda()
    dist.broadcast(tensor, src=0)
    return int(tensor.item())


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()
