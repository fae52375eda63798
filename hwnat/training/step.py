"""One super-network training step: the batch's subnets, KD from a teacher, one optimiser (and schedule) step."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from hwnat.space.arch import Arch
from hwnat.supernet import OFAMobileNetV3
from hwnat.training.distill import Teacher, distillation_loss
from hwnat.training.optim import WarmupCosine


def train_step(net: OFAMobileNetV3, x: torch.Tensor, y: torch.Tensor, archs: Sequence[Arch],
               optimizer: torch.optim.Optimizer, *, schedule: WarmupCosine | None = None,
               teacher: Teacher | None = None, kd_ratio: float = 0.0, label_smoothing: float = 0.0,
               ens_kd: str = "uniform", model: nn.Module | None = None) -> float:
    """Accumulate the gradients of every subnet in `archs` on the batch (x, y), then take one optimiser step.

    Loss per subnet: CE(labels, label smoothing) + kd_ratio · CE(the teacher's soft target; ENS-KD for early-exit
    teachers). `x` must already be at the archs' resolution and on the net's device; `model` runs the forward
    (a DistributedDataParallel wrapper of `net`; default `net`). Returns the mean loss over the subnets. The net
    is left with the last arch active and in whatever train/eval mode the caller set.
    """
    if not archs:
        raise ValueError("train_step needs at least one subnet")
    model = net if model is None else model
    exit_logits = teacher.exit_logits(x) if teacher is not None and kd_ratio > 0 else None
    optimizer.zero_grad(set_to_none=True)
    total = 0.0
    for arch in archs:
        net.set_active_subnet(arch)
        target = None
        if exit_logits is not None and teacher is not None:
            target = teacher.soft_target(exit_logits, ens_kd, arch.exit_stage(net.space))
        loss = distillation_loss(model(x), y, target, kd_ratio, label_smoothing)
        loss.backward()
        total += float(loss.detach())
    optimizer.step()
    if schedule is not None:
        schedule.step()
    return total / len(archs)
