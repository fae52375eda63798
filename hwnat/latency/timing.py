"""Timings for latency tables: TimingStats plus the low quantiles that shared, noisy CPUs cannot inflate much.

On the 2-core CI VMs, neighbours slow whole stretches of calls by 10-50% (CPU time rises with wall time, so it
is contention, not preemption). Slowdowns only ever add time, so the 10th percentile of many calls is a far
steadier estimate of the uncontended latency than the median: measured on the same 60 subnets in three
sessions, the session-to-session ratio of p50 spread 0.90-1.26 (10th-90th percentile over subnets), of p10
0.94-1.15 and of the minimum 0.95-1.08. Tables therefore use p10 (for units and whole subnets alike).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hwnat.backends.base import TimingStats

DEFAULT_STATISTIC = "p10_ms"
STATISTICS = ("p10_ms", "p50_ms", "min_ms", "mean_ms")


@dataclass(frozen=True)
class UnitTiming(TimingStats):
    """TimingStats with the 10th percentile and the minimum (None when the source did not record them)."""

    p10_ms: float | None = None
    min_ms: float | None = None

    @classmethod
    def from_seconds(cls, samples: list[float] | np.ndarray) -> UnitTiming:
        base = TimingStats.from_seconds(samples)
        ms = np.asarray(samples, dtype=np.float64) * 1e3
        return cls(base.p50_ms, base.p90_ms, base.mean_ms, base.std_ms, base.n,
                   float(np.percentile(ms, 10)), float(ms.min()))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> UnitTiming:
        base = TimingStats.from_dict(d)
        p10, low = d.get("p10_ms"), d.get("min_ms")
        return cls(base.p50_ms, base.p90_ms, base.mean_ms, base.std_ms, base.n,
                   None if p10 is None else float(p10), None if low is None else float(low))

    @classmethod
    def of(cls, stats: TimingStats) -> UnitTiming:
        return stats if isinstance(stats, UnitTiming) else cls.from_dict(stats.to_dict())


def combine_passes(passes: Sequence[TimingStats]) -> UnitTiming:
    """One entry from several passes: median of the p10s, p50s and p90s, the minimum of the minima, and the
    pooled mean and standard deviation."""
    items = [UnitTiming.of(s) for s in passes]
    if len(items) == 1:
        return items[0]
    n = np.array([s.n for s in items], dtype=np.float64)
    means = np.array([s.mean_ms for s in items])
    mean = float((n * means).sum() / n.sum())
    within = ((n - 1) * np.array([s.std_ms for s in items]) ** 2).sum()
    between = (n * (means - mean) ** 2).sum()
    std = float(np.sqrt((within + between) / max(n.sum() - 1, 1)))
    p10 = [s.p10_ms for s in items]
    low = [s.min_ms for s in items]
    return UnitTiming(float(np.median([s.p50_ms for s in items])), float(np.median([s.p90_ms for s in items])),
                      mean, std, int(n.sum()), None if None in p10 else float(np.median(p10)),
                      None if None in low else float(min(low)))  # type: ignore[type-var]
