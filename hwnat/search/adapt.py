"""Supernet adaptation (NAT's online transfer): a categorical distribution per gene from the archive's top-N."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from hwnat.search.archive import Archive
from hwnat.search.survival import survive


class AdaptHook(Protocol):
    """Called once per iteration with the archive; adapts the super-network in place (the loop re-evaluates)."""

    def __call__(self, archive: Archive) -> None: ...


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


def train_on_distribution(supernet: Any, distribution: GeneDistribution, config: Any) -> None:
    """Train the super-network for a few epochs on subnets drawn from `distribution`, KD from the maximal subnet.

    TODO: needs a public per-step training function from hwnat.training (not exposed yet); until then
    adaptation stays disabled in every preset and this raises instead of pretending to train.
    """
    raise NotImplementedError("supernet adaptation needs a training step from hwnat.training, which does not "
                              "expose one yet; run the search with adapt=False")
