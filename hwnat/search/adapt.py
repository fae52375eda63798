"""Supernet adaptation (NAT's online transfer): train on subnets drawn from the archive's top-N gene distribution."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from hwnat.search.archive import Archive
from hwnat.search.survival import survive
from hwnat.space.genome import canonicalise, decode

if TYPE_CHECKING:
    import torch

    from hwnat.data.dataset import ImageDataset
    from hwnat.supernet import OFAMobileNetV3
    from hwnat.training.config import TrainConfig


class Adapter(Protocol):
    """Adapts the evaluator's super-network in place; `save`/`load` its weights so that a resumed search
    continues from the adapted network (the loop re-evaluates the archive after `adapt`). `suffix` is the weights
    file's extension."""

    suffix: str

    def adapt(self, archive: Archive, objectives: Sequence[str], lo: np.ndarray, hi: np.ndarray,
              seed: int) -> dict[str, Any]: ...

    def save(self, path: Path) -> None: ...

    def load(self, path: Path) -> None: ...


@dataclass(frozen=True)
class AdaptSettings:
    """One adaptation round: epochs over the training split (steps capped per epoch, 0 = all), the peak learning
    rate for `lr_reference_batch` images (warm-up free cosine), subnets per step, KD ratio and the top-N size."""

    epochs: int = 1
    lr: float = 0.0025
    max_steps: int = 0
    subnets_per_step: int = 1
    kd_ratio: float = 1.0
    top_n: int = 100

    @classmethod
    def from_config(cls, config: Any) -> AdaptSettings:
        """From a SearchConfig's adapt_* fields."""
        return cls(config.adapt_epochs, config.adapt_lr, config.adapt_steps, config.adapt_subnets,
                   config.adapt_kd_ratio, config.adapt_top_n)


@dataclass(frozen=True)
class GeneDistribution:
    """probs[i][v - lo[i]] = P(gene i = v); sampled genomes are canonicalised by the caller."""

    lo: np.ndarray
    probs: tuple[np.ndarray, ...]

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        cols = [lo + rng.choice(len(p), size=n, p=p) for lo, p in zip(self.lo, self.probs)]
        return np.column_stack(cols).astype(np.int64)


def gene_distribution(archive: Archive, objectives: Sequence[str], top_n: int, lo: np.ndarray, hi: np.ndarray,
                      rng: np.random.Generator, smoothing: float = 1.0) -> GeneDistribution:
    """Frequencies of each gene value among the top-N archive members (by survival), Laplace-smoothed."""
    top = archive.take(survive(archive.F(objectives), min(top_n, len(archive)), rng))
    probs = []
    for i in range(len(lo)):
        counts = np.bincount(top.genomes[:, i] - lo[i], minlength=int(hi[i] - lo[i] + 1)).astype(np.float64)
        counts += smoothing
        probs.append(counts / counts.sum())
    return GeneDistribution(np.asarray(lo, dtype=np.int64), tuple(probs))


class SupernetAdapter:
    """NAT's adaptation of a super-network: each round draws every step's subnets from the gene distribution of
    the archive's top-N, trains them with `hwnat.training.train_step` (KD from the maximal subnet of the weights
    the round starts from, BN-recalibrated and frozen; the run's optimiser, augmentation and batch size), for
    `settings.epochs` epochs of the training split. Everything random comes from the round's `seed`."""

    suffix = ".pt"

    def __init__(self, supernet: OFAMobileNetV3, train: ImageDataset, train_config: TrainConfig,
                 settings: AdaptSettings, device: torch.device | str = "cpu", native_resolution: int | None = None,
                 identity: dict[str, Any] | None = None) -> None:
        import torch

        from hwnat.training.api import training_transform
        from hwnat.training.checkpoint import space_identity

        self.net, self.train, self.cfg, self.settings = supernet, train, train_config, settings
        self.space = supernet.space
        self.device = torch.device(device)
        self.transform = training_transform(native_resolution or train.resolution, train_config.augment)
        self.identity = identity or space_identity(self.space, float(supernet.width_mult))

    def adapt(self, archive: Archive, objectives: Sequence[str], lo: np.ndarray, hi: np.ndarray,
              seed: int) -> dict[str, Any]:
        import time

        import torch

        from hwnat.training.batches import ShardedLoader, calibration_batches, prepare
        from hwnat.training.distill import build_teacher
        from hwnat.training.optim import WarmupCosine, make_optimizer
        from hwnat.training.step import train_step

        t0 = time.perf_counter()
        s, cfg, net, space = self.settings, self.cfg, self.net, self.space
        rng = np.random.default_rng([seed, 0])
        dist = gene_distribution(archive, objectives, s.top_n, lo, hi, rng)
        loader = ShardedLoader(self.train, batch_size=cfg.batch_size, transform=self.transform, seed=seed,
                               max_steps=s.max_steps)
        resolutions = tuple(space.resolutions[int(r)] for r in range(int(lo[0]), int(hi[0]) + 1))
        losses: list[float] = []
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            exits = tuple(range(1, space.num_stages + 1)) if space.variant.early_exit else (space.num_stages,)
            calib = calibration_batches(self.train, self.transform, cfg.batch_size,
                                        max(cfg.bn_calib_batches, len(resolutions)), seed, resolutions,
                                        self.device, cfg.channels_last)
            state = {k: v.detach().to("cpu", copy=True) for k, v in net.state_dict().items()}
            teacher = build_teacher(space, float(net.width_mult), state, exits, calib, self.device,
                                    cfg.channels_last) if s.kd_ratio > 0 else None
            lr = s.lr * cfg.batch_size / cfg.lr_reference_batch
            optimizer = make_optimizer(net, lr, cfg.momentum, cfg.nesterov, cfg.weight_decay)
            schedule = WarmupCosine(optimizer, lr, s.epochs * len(loader))
            net.train()
            for epoch in range(s.epochs):
                loader.set_epoch(epoch)
                for step, (x, y) in enumerate(loader):
                    step_rng = np.random.default_rng([seed, 1, epoch, step])
                    genomes = canonicalise(space, dist.sample(s.subnets_per_step, step_rng), fill_required=1)
                    archs = [decode(space, g) for g in genomes]
                    archs = [archs[0], *(replace(a, resolution=archs[0].resolution) for a in archs[1:])]
                    x = prepare(x, archs[0].resolution, self.device, cfg.channels_last)
                    y = y.to(self.device)
                    losses.append(train_step(net, x, y, archs, optimizer, schedule=schedule, teacher=teacher,
                                             kd_ratio=s.kd_ratio, label_smoothing=cfg.label_smoothing,
                                             ens_kd=cfg.ens_kd))
            net.eval()
        return {"adapt_steps": len(losses), "adapt_loss": float(np.mean(losses)) if losses else None,
                "adapt_s": round(time.perf_counter() - t0, 3)}

    def save(self, path: Path) -> None:
        """A super-network file (`load_supernet` reads it), written atomically, loaded with weights_only."""
        from hwnat.training import checkpoint as ckpt

        ckpt.atomic_save({"format": ckpt.SUPERNET_FORMAT, **self.identity, "config": self.cfg.to_dict(),
                          "state_dict": self.net.state_dict()}, path)

    def load(self, path: Path) -> None:
        from hwnat.training import checkpoint as ckpt

        data = ckpt.load_file(path)
        ckpt.check_identity(data, self.space, float(self.net.width_mult), path)
        self.net.load_state_dict(data["state_dict"], strict=True)


class SyntheticAdapter:
    """A deterministic stand-in for SupernetAdapter with the SyntheticEvaluator: each round lowers the error of
    genomes near the mean of the top-N gene distribution (by `gain`); its state is a JSON file."""

    suffix = ".json"

    def __init__(self, evaluator: Any, top_n: int = 100, gain: float = 0.01) -> None:
        self.evaluator, self.top_n, self.gain = evaluator, top_n, gain

    def adapt(self, archive: Archive, objectives: Sequence[str], lo: np.ndarray, hi: np.ndarray,
              seed: int) -> dict[str, Any]:
        dist = gene_distribution(archive, objectives, self.top_n, lo, hi, np.random.default_rng([seed, 0]))
        centre = np.array([lo_i + p @ np.arange(len(p)) for lo_i, p in zip(dist.lo, dist.probs)])
        self.evaluator.adapted.append((centre, self.gain))
        return {"adapt_steps": 0, "adapt_loss": None}

    def save(self, path: Path) -> None:
        from hwnat.io import atomic_write_json

        atomic_write_json(path, [[c.tolist(), w] for c, w in self.evaluator.adapted])

    def load(self, path: Path) -> None:
        from hwnat.errors import CheckpointError
        from hwnat.io import read_json

        data = read_json(path, "adapted synthetic evaluator", CheckpointError)
        self.evaluator.adapted = [(np.asarray(c, dtype=np.float64), float(w)) for c, w in data]
