"""DistributedDataParallel setup (torchrun, env:// rendezvous).

``tcn train`` run under ``torchrun --nproc_per_node=N`` (or multi-node) finds
``WORLD_SIZE``/``RANK``/``LOCAL_RANK``/``MASTER_ADDR``/``MASTER_PORT`` in the environment
and joins a process group: NCCL on GPUs, Gloo on CPUs. Each rank draws different
batches (the rank is part of every batch's seed); gradients are averaged, so parameters
stay identical; rank 0 alone writes logs and checkpoints. Saved weights are the
unwrapped module's.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from timecontrast.devices import resolve_device

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistributedContext:
    """Where this process runs: its rank among ``world_size`` processes and its device."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def init_distributed(
    requested: str | None = None, configured: str | None = "auto", timeout_secs: float = 1800.0
) -> DistributedContext:
    """Join the process group torchrun describes (if any) and pick this process's device:
    ``requested`` (``--device``), else ``configured`` (``runtime.device``), as
    :func:`~timecontrast.devices.resolve_device` says (``cuda`` is GPU ``LOCAL_RANK``)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_device(requested, configured, local_rank=local_rank)
    if world_size > 1:
        if device.type == "cuda":
            torch.cuda.set_device(device)
        backend = "nccl" if device.type == "cuda" else "gloo"
        if not dist.is_initialized():
            dist.init_process_group(
                backend=backend,
                init_method="env://",
                rank=rank,
                world_size=world_size,
                timeout=timedelta(seconds=timeout_secs),
                device_id=device if device.type == "cuda" else None,
            )
        log.info("rank %d of %d on %s (%s)", rank, world_size, device, backend)
    return DistributedContext(rank, world_size, local_rank, device)


def shutdown_distributed(ctx: DistributedContext) -> None:
    if ctx.distributed and dist.is_initialized():
        dist.destroy_process_group()


def wrap_model(model: nn.Module, ctx: DistributedContext) -> nn.Module:
    """``model`` itself, or a DDP wrapper of it when several processes train together."""
    if not ctx.distributed:
        return model
    device_ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=device_ids)


def unwrap_model(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, DistributedDataParallel) else model


def broadcast_buffers(model: nn.Module, ctx: DistributedContext) -> None:
    """Give every rank rank 0's buffers (BatchNorm statistics), as DDP does before each forward."""
    if ctx.distributed:
        for buffer in unwrap_model(model).buffers():
            dist.broadcast(buffer, src=0)


def same_on_all_ranks(value: int, ctx: DistributedContext) -> bool:
    """Whether every rank holds the same integer (e.g. the step each one resumed from)."""
    if not ctx.distributed:
        return True
    low = torch.tensor([value], dtype=torch.int64, device=ctx.device)
    high = low.clone()
    dist.all_reduce(low, op=dist.ReduceOp.MIN)
    dist.all_reduce(high, op=dist.ReduceOp.MAX)
    return int(low) == int(high)


def mean_across_ranks(value: torch.Tensor, ctx: DistributedContext) -> torch.Tensor:
    """The mean of a scalar over all ranks (itself when alone); NaN anywhere gives NaN everywhere."""
    if not ctx.distributed:
        return value.detach()
    out = value.detach().clone().float()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out / ctx.world_size
