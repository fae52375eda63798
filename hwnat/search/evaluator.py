"""Evaluators: genomes -> measured top-1 error. A super-network evaluator and a deterministic synthetic one."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from hwnat.complexity import complexity_many
from hwnat.space.arch import max_arch, min_arch
from hwnat.space.genome import decode, encode
from hwnat.space.spec import SearchSpace

if TYPE_CHECKING:
    from hwnat.supernet import OFAMobileNetV3


@runtime_checkable
class Evaluator(Protocol):
    """Measures the top-1 error (in [0, 1]) of each genome of an (N, G) array."""

    def evaluate(self, genomes: np.ndarray) -> np.ndarray: ...


class SyntheticEvaluator:
    """A deterministic stand-in for a super-network: error falls with log-MACs, plus a seeded per-gene effect and
    a hash-based noise term. Same genome, same error, whatever the call order."""

    def __init__(self, space: SearchSpace, seed: int = 0, noise: float = 0.01, delay_s: float = 0.0) -> None:
        self.space, self.noise, self.delay_s = space, noise, delay_s
        rng = np.random.default_rng(seed)
        self.weights = rng.normal(0.0, 1.0, space.genome_length) / np.sqrt(space.genome_length)
        self.mix = rng.integers(1, 2**31 - 1, space.genome_length, dtype=np.int64)
        self.calls = 0
        self.adapted: list[tuple[np.ndarray, float]] = []  # (centre genome, gain) per SyntheticAdapter round
        ends = np.stack([encode(space, min_arch(space)), encode(space, max_arch(space))])
        self.log_range = np.log(complexity_many(space, ends)[0].astype(np.float64))

    def evaluate(self, genomes: np.ndarray) -> np.ndarray:
        g = np.atleast_2d(np.asarray(genomes, dtype=np.int64))
        self.calls += len(g)
        if self.delay_s:
            time.sleep(self.delay_s)
        macs, _ = complexity_many(self.space, g)
        capacity = (np.log(np.maximum(macs, 1)) - self.log_range[0]) / (self.log_range[1] - self.log_range[0])
        base = 0.3 * np.exp(-3.0 * capacity)
        # a row-wise sum, not a BLAS product: BLAS may sum a row in another order when the batch has another size
        effect = 0.03 * np.tanh((g * self.weights).sum(axis=1) / 3.0)
        h = (g * self.mix).sum(axis=1) % 1_000_003
        noise = self.noise * (h / 1_000_003 - 0.5)
        gain = sum((w * np.exp(-np.square(g - c).sum(axis=1) / g.shape[1]) for c, w in self.adapted),
                   np.zeros(len(g)))
        return np.clip(0.05 + base + effect + noise - gain, 0.0, 1.0)


class SyntheticLatency:
    """A deterministic stand-in for a latency table (ms): per-MAC and per-parameter costs plus a fixed overhead."""

    def __init__(self, space: SearchSpace, ms_per_gmac: float = 40.0, ms_per_mparam: float = 0.05,
                 overhead_ms: float = 0.1) -> None:
        self.space, self.per_mac, self.per_param = space, ms_per_gmac / 1e9, ms_per_mparam / 1e6
        self.overhead = overhead_ms

    def __call__(self, genomes: np.ndarray) -> np.ndarray:
        macs, params = complexity_many(self.space, np.atleast_2d(np.asarray(genomes, dtype=np.int64)))
        return self.overhead + self.per_mac * macs + self.per_param * params


class SupernetEvaluator:
    """Extract each subnet, recalibrate its BN on fixed training batches, return 1 - validation accuracy.

    `data` is `hwnat.training.validate.EvalData` (train/val splits, transforms, batch size, calibration batches,
    device, seed); `max_images` caps the validation images (0 = all).
    """

    def __init__(self, supernet: OFAMobileNetV3, data: Any, max_images: int = 0) -> None:
        self.supernet, self.data, self.max_images = supernet, data, max_images
        self.space = supernet.space
        self.train_config: Any = None  # the run's TrainConfig, set by supernet_evaluator (for adaptation)

    @property
    def images(self) -> int:
        """How many validation images each subnet is scored on."""
        n = len(self.data.val)
        return min(n, self.max_images) if self.max_images else n

    def evaluate(self, genomes: np.ndarray) -> np.ndarray:
        from hwnat.training.validate import evaluate_arch

        g = np.atleast_2d(np.asarray(genomes, dtype=np.int64))
        acc = [evaluate_arch(self.supernet, decode(self.space, row), self.data, self.max_images) for row in g]
        return 1.0 - np.asarray(acc, dtype=np.float64)
