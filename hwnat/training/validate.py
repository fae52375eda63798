"""Validation: accuracy of extracted, BN-recalibrated subnets (largest, median, smallest, a few random ones)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from hwnat.data.dataset import ImageDataset
from hwnat.data.splits import stratified_order
from hwnat.models.fuse import fold_batchnorm
from hwnat.space.arch import Arch
from hwnat.space.spec import SearchSpace
from hwnat.supernet import OFAMobileNetV3, extract, recalibrate_bn
from hwnat.training.batches import (
    ShardedLoader,
    Transform,
    calibration_batches,
    prepare,
)
from hwnat.training.phases import Choices, ranked_arch, sample_phase_arch

RANKS = ("largest", "median", "smallest")


@dataclass(frozen=True)
class EvalData:
    """What validation needs: training images for BN recalibration, the validation split and their transforms."""

    train: ImageDataset
    val: ImageDataset
    train_transform: Transform
    eval_transform: Transform
    batch_size: int
    calib_batches: int
    device: torch.device
    channels_last: bool
    seed: int


def validation_archs(space: SearchSpace, choices: Choices, width_mult: float, resolutions: tuple[int, ...],
                     n_random: int, seed: int) -> dict[str, Arch]:
    """The phase's largest, median and smallest subnets and `n_random` seeded random ones (same every epoch)."""
    archs = {rank: ranked_arch(space, choices, width_mult, resolutions, rank) for rank in RANKS}
    rng = np.random.default_rng(seed)
    for i in range(n_random):
        archs[f"random-{i + 1}"] = sample_phase_arch(space, choices, rng, width_mult, int(rng.choice(resolutions)))
    return archs


@torch.no_grad()
def accuracy(model: nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor]], resolution: int,
             device: torch.device, channels_last: bool) -> float:
    model.eval()
    correct = total = 0
    for x, y in batches:
        logits = model(prepare(x, resolution, device, channels_last))
        correct += int((logits.argmax(1).cpu() == y).sum())
        total += len(y)
    return correct / max(1, total)


def evaluate_arch(supernet: OFAMobileNetV3, arch: Arch, data: EvalData, max_images: int = 0) -> float:
    """Extract `arch`, recalibrate its BN on fixed training batches (then fold it into the convolutions), return
    its validation accuracy.

    Runs under a forked torch RNG with a fixed seed, so validation never shifts the training random stream.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(data.seed)
        model = extract(supernet, arch).to(data.device)
        if data.channels_last:
            model = model.to(memory_format=torch.channels_last)
        recalibrate_bn(model, calibration_batches(data.train, data.train_transform, data.batch_size,
                                                  data.calib_batches, data.seed, arch.resolution, data.device,
                                                  data.channels_last))
        fold_batchnorm(model)
        val = data.val
        if max_images and max_images < len(val):  # a class-stratified subset (splits are sorted by file order)
            val = val.subset(np.sort(stratified_order(val.labels, data.seed)[:max_images]))
        loader = ShardedLoader(val, batch_size=max(data.batch_size, 100), transform=data.eval_transform,
                               seed=0, shuffle=False, drop_last=False)
        return accuracy(model, loader, arch.resolution, data.device, data.channels_last)


def evaluate_subnets(supernet: OFAMobileNetV3, archs: dict[str, Arch], data: EvalData,
                     max_images: int = 0) -> dict[str, float]:
    return {label: evaluate_arch(supernet, arch, data, max_images) for label, arch in archs.items()}
