"""torchrun support: read RANK/WORLD_SIZE/LOCAL_RANK, start gloo (CPU) or nccl (CUDA), sync buffers."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from hwnat.errors import ConfigError


@dataclass(frozen=True)
class DistContext:
    """Where this process stands: rank, world size, local rank and its device."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    started_here: bool = False

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def env_ranks(env: Mapping[str, str] | None = None) -> tuple[int, int, int]:
    """(rank, world size, local rank) from torchrun's environment variables; (0, 1, 0) outside torchrun."""
    env = os.environ if env is None else env
    try:
        world = int(env.get("WORLD_SIZE", "1"))
        rank = int(env.get("RANK", "0"))
        local = int(env.get("LOCAL_RANK", str(rank)))
    except ValueError as exc:
        raise ConfigError(f"RANK/WORLD_SIZE/LOCAL_RANK must be integers: {exc}") from exc
    if world < 1 or not 0 <= rank < world:
        raise ConfigError(f"invalid torchrun environment: RANK={rank}, WORLD_SIZE={world}")
    return rank, world, local


def check_device(device: str) -> None:
    """cpu, or cuda where torch sees a GPU: else a ConfigError naming --device."""
    if device not in ("cpu", "cuda"):
        raise ConfigError(f"--device must be cpu or cuda, got {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda was given but no CUDA GPU is available to torch")


def init_distributed(device: str = "cpu") -> DistContext:
    """Join the process group when launched by torchrun (gloo on CPU, nccl on CUDA), else a single process."""
    check_device(device)
    _, world, local = env_ranks()
    dev = torch.device("cuda", local % max(1, torch.cuda.device_count())) if device == "cuda" else torch.device("cpu")
    if device == "cuda":
        torch.cuda.set_device(dev)
    if world == 1:
        return DistContext(0, 1, 0, dev)
    import torch.distributed as dist

    started = False
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device == "cuda" else "gloo")
        started = True
    return DistContext(dist.get_rank(), dist.get_world_size(), local, dev, started)


def shutdown(ctx: DistContext) -> None:
    if ctx.started_here:
        import torch.distributed as dist

        dist.destroy_process_group()


def wrap_ddp(model: nn.Module, ctx: DistContext) -> nn.Module:
    """DistributedDataParallel with find_unused_parameters (each step trains one elastic subnet)."""
    if not ctx.distributed:
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids, find_unused_parameters=True)


def sync_buffers(model: nn.Module, ctx: DistContext) -> None:
    """Copy rank 0's buffers (BN statistics) to every rank, so that every rank holds the same state dict."""
    if not ctx.distributed:
        return
    import torch.distributed as dist

    for buf in model.buffers():
        dist.broadcast(buf.data, src=0)


def broadcast_object(obj: Any, ctx: DistContext) -> Any:
    """Rank 0's value of a picklable object on every rank (validation results, so decisions agree)."""
    if not ctx.distributed:
        return obj
    import torch.distributed as dist

    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier(ctx: DistContext) -> None:
    if ctx.distributed:
        import torch.distributed as dist

        dist.barrier()
