"""Multi-process training under ``torchrun``: the same command, N processes, DistributedDataParallel.

torchrun sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT; :func:`init` reads them and joins the
process group — NCCL with one GPU per process (``cuda:LOCAL_RANK``) where CUDA is used, gloo on CPU. Without
torchrun nothing changes: one process, rank 0 of 1.

The data is sharded by batch rows, as DistributedSampler shards by index: every process computes the same global
batch order and takes its own contiguous rows, so N processes with the same global batch compute the gradient a
single process would (the loss is normalised by global counts — see the BERT trainer).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
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


@contextlib.contextmanager
def session(device_name: str = "auto") -> Iterator[tuple[Dist, torch.device]]:
    """``init`` for one training run: on a normal exit every process waits for the others (no process tears the
    group down while another's last collective is in flight), and the group is destroyed however the run ends."""
    d, device = init(device_name)
    try:
        yield d, device
        d.barrier()
    finally:
        d.close()


# ------------------------------------------------------------------------------------------------ GAN helpers

def average_gradients(module: torch.nn.Module, d: Dist) -> None:
    """Average the gradients of ``module`` over the processes: one flattened all-reduce (what DDP does in
    buckets). Called after each backward, it lets a network run several forward passes per step (D on the real
    and on the generated batch) and be frozen in between, which DistributedDataParallel's hooks do not allow."""
    if not d.active:
        return
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= d.world
    at = 0
    for g in grads:
        g.copy_(flat[at:at + g.numel()].view_as(g))
        at += g.numel()


class DistBatchNorm(torch.nn.modules.batchnorm._BatchNorm):
    """BatchNorm whose statistics are those of the *global* batch, on CPU too: torch's SyncBatchNorm runs on GPUs
    only. The per-channel sum, sum of squares and count are all-reduced with the differentiable all_reduce of
    torch.distributed.nn, so the backward pass sums every process's contribution as one big batch would — and N
    processes compute what one process computes on the whole batch."""

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() < 2:
            raise ValueError(f"expected a batch of at least 2 dimensions, got {x.dim()}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from torch.distributed.nn.functional import all_reduce

        if not (self.training and dist.is_initialized()):
            return super().forward(x)
        dims = [0] + list(range(2, x.dim()))
        shape = [1, -1] + [1] * (x.dim() - 2)
        xf = x.float()
        count = torch.tensor([float(x.numel() // x.shape[1])], device=x.device)
        stats = all_reduce(torch.cat([xf.sum(dims), (xf * xf).sum(dims), count]))
        c = x.shape[1]
        n = stats[-1]
        mean = stats[:c] / n
        var = stats[c:2 * c] / n - mean * mean
        with torch.no_grad():
            if self.track_running_stats:
                self.num_batches_tracked += 1
                m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.lerp_(mean.detach().to(self.running_mean.dtype), m)
                unbiased = var.detach() * n / (n - 1).clamp_min(1)
                self.running_var.lerp_(unbiased.to(self.running_var.dtype), m)
        y = (xf - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y.to(x.dtype)


def sync_batchnorm(module: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """Every BatchNorm of ``module`` computing global-batch statistics: torch's SyncBatchNorm on CUDA,
    :class:`DistBatchNorm` on CPU. The weights and running statistics carry over."""
    if device.type == "cuda":
        return torch.nn.SyncBatchNorm.convert_sync_batchnorm(module)
    for name, child in module.named_children():
        if isinstance(child, torch.nn.modules.batchnorm._BatchNorm) and not isinstance(child, DistBatchNorm):
            new = DistBatchNorm(child.num_features, child.eps, child.momentum, child.affine,
                                child.track_running_stats)
            new.load_state_dict(child.state_dict())
            setattr(module, name, new.to(next(child.buffers()).device))
        else:
            sync_batchnorm(child, device)
    return module
