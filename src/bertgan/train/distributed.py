"""Multi-process training under ``torchrun``: the same command, N processes, DistributedDataParallel.

torchrun sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT; :func:`init` reads them and joins the
process group — NCCL with one GPU per process (``cuda:LOCAL_RANK``) where CUDA is used, gloo on CPU. Without
torchrun nothing changes: one process, rank 0 of 1.

The data is sharded by batch rows, as DistributedSampler shards by index: every process computes the same global
batch order and takes its own contiguous rows, so N processes with the same global batch compute the gradient a
single process would (the loss is normalised by global counts — see the BERT trainer).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from bertgan.errors import UsageError
from bertgan.train.runtime import pick_device


@dataclass
class Dist:
    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1

    def rows(self, n: int) -> slice:
        """This process's contiguous share of n global batch rows."""
        per = n // self.world
        return slice(self.rank * per, (self.rank + 1) * per)

    def barrier(self) -> None:
        if self.active:
            dist.barrier()

    def sum(self, values: list[float]) -> list[float]:
        """Element-wise sum over processes (for logging: losses, token counts)."""
        if not self.active:
            return values
        t = torch.tensor(values, dtype=torch.float64)
        dist.all_reduce(t)
        return t.tolist()

    def on_main(self, fn):
        """Run ``fn`` on rank 0 only (creating folders, building a cache); the others wait and get its result, or
        raise the same UsageError, so a bad input stops every process with one message instead of a hang."""
        if not self.active:
            return fn()
        box: list = [None]
        if self.main:
            try:
                box[0] = ("ok", fn())
            except UsageError as e:
                box[0] = ("error", str(e))
        dist.broadcast_object_list(box, src=0)
        status, value = box[0]
        if status == "error":
            raise UsageError(value)
        return value

    def wrap(self, model: torch.nn.Module, device: torch.device, find_unused: bool = False) -> torch.nn.Module:
        if not self.active:
            return model
        from torch.nn.parallel import DistributedDataParallel

        ids = [device.index] if device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids, find_unused_parameters=find_unused)

    def close(self) -> None:
        if self.active and dist.is_initialized():
            dist.destroy_process_group()


def init(device_name: str = "auto") -> tuple[Dist, torch.device]:
    """(process group, this process's device). Under torchrun with CUDA, process k uses cuda:LOCAL_RANK."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist(), pick_device(device_name)
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    device = pick_device(device_name)
    if device.type == "cuda":
        if torch.cuda.device_count() < int(os.environ.get("LOCAL_WORLD_SIZE", world)):
            raise UsageError(f"torchrun started {os.environ.get('LOCAL_WORLD_SIZE', world)} processes on this "
                             f"machine but it has {torch.cuda.device_count()} GPU(s); use --nproc_per_node "
                             f"{torch.cuda.device_count()} or --device cpu")
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    elif device.type != "cpu":
        raise UsageError(f"--device {device_name}: torchrun training runs on CUDA (nccl) or CPU (gloo)")
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", rank=rank, world_size=world)
    return Dist(rank, world), device
