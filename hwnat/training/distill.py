"""Knowledge distillation: the loss, ENS-KD soft targets and the frozen, BN-recalibrated teacher."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from hwnat.errors import ConfigError
from hwnat.space.arch import max_arch
from hwnat.space.spec import SearchSpace
from hwnat.supernet import OFAMobileNetV3, extract, recalibrate_bn


def soft_cross_entropy(logits: torch.Tensor, target_probs: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of −Σ p · log softmax(logits) (OFA's cross_entropy_loss_with_soft_target)."""
    return torch.mean(torch.sum(-target_probs * F.log_softmax(logits, dim=1), dim=1))


def distillation_loss(logits: torch.Tensor, labels: torch.Tensor, soft_target: torch.Tensor | None,
                      kd_ratio: float, label_smoothing: float) -> torch.Tensor:
    """CE(labels, label smoothing) + kd_ratio · CE(soft teacher target)."""
    loss = F.cross_entropy(logits, labels, label_smoothing=label_smoothing)
    if soft_target is not None and kd_ratio > 0:
        loss = loss + kd_ratio * soft_cross_entropy(logits, soft_target)
    return loss


def ens_weights(mode: str, teacher_exits: Iterable[int], student_exit: int) -> dict[int, float]:
    """ENS-KD weights over the teacher's trained exits (they sum to 1).

    uniform: equal weights; up-to-student: equal weights over the trained exits no deeper than the student's
    exit (the shallowest trained exit when there is none); linear: proportional to the exit's stage index.
    A single-exit teacher gets weight 1 on its exit in every mode (plain KD).
    """
    exits = sorted({int(e) for e in teacher_exits})
    if not exits:
        raise ConfigError("ENS-KD needs at least one trained teacher exit")
    if mode == "uniform":
        raw = {e: 1.0 for e in exits}
    elif mode == "up-to-student":
        chosen = [e for e in exits if e <= student_exit] or exits[:1]
        raw = {e: 1.0 for e in chosen}
    elif mode == "linear":
        raw = {e: float(e) for e in exits}
    else:
        raise ConfigError(f"unknown ens_kd mode {mode!r}; allowed: uniform, up-to-student, linear")
    total = sum(raw.values())
    return {e: w / total for e, w in raw.items()}


def ensemble_target(exit_logits: Mapping[int, torch.Tensor], weights: Mapping[int, float]) -> torch.Tensor:
    """softmax(Σ w_e · logits_e): the ENS-KD soft target."""
    combined = sum(weights[e] * exit_logits[e] for e in sorted(weights))
    assert isinstance(combined, torch.Tensor)
    return F.softmax(combined, dim=1)


class _AllExits(nn.Module):
    """Forward through every exit head of a super-network (so BN recalibration reaches all heads)."""

    def __init__(self, net: OFAMobileNetV3) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.net.forward_exits(x)


class Teacher:
    """The maximal subnet of a super-network state, frozen in eval mode, with its trained exits' logits."""

    def __init__(self, module: nn.Module, exits: tuple[int, ...], all_exits: bool) -> None:
        self.module = module
        self.exits = exits
        self._all_exits = all_exits

    @torch.no_grad()
    def exit_logits(self, x: torch.Tensor) -> dict[int, torch.Tensor]:
        if not self._all_exits:
            return {self.exits[-1]: self.module(x)}
        outputs = self.module(x)
        return {e: outputs[e - 1] for e in self.exits}

    def soft_target(self, logits: Mapping[int, torch.Tensor], mode: str, student_exit: int) -> torch.Tensor:
        return ensemble_target(logits, ens_weights(mode, self.exits, student_exit))


def build_teacher(space: SearchSpace, width_mult: float, state: Mapping[str, torch.Tensor],
                  trained_exits: tuple[int, ...], calib_batches: Iterable[torch.Tensor],
                  device: torch.device, channels_last: bool = False) -> Teacher:
    """Load `state` into a fresh super-network, take its maximal subnet (extracted when it has a single trained
    exit, all exit heads kept otherwise), recalibrate BN on `calib_batches`, freeze it and put it in eval mode."""
    net = OFAMobileNetV3(space, width_mult)
    net.load_state_dict(dict(state), strict=True)
    arch = max_arch(space, width_mult)
    all_exits = space.variant.early_exit and len(trained_exits) > 1
    if all_exits:
        net.set_active_subnet(arch)
        module: nn.Module = _AllExits(net)
    else:
        module = extract(net, arch)
    module.to(device)
    if channels_last:
        module.to(memory_format=torch.channels_last)
    recalibrate_bn(module, calib_batches)
    module.eval()
    for p in module.parameters():
        p.requires_grad_(False)
    return Teacher(module, tuple(sorted(trained_exits)) if all_exits else (space.num_stages,), all_exits)
