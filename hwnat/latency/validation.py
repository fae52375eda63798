"""Accuracy of predicted against measured latencies: within ±5% / ±10%, MAPE, Spearman and Kendall."""

from __future__ import annotations

from typing import Any

import numpy as np

from hwnat.errors import ConfigError


def _ranks(x: np.ndarray) -> np.ndarray:
    """Average ranks (ties share the mean of their ranks), 1-based."""
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x), dtype=np.float64)
    ranks[order] = np.arange(1, len(x) + 1)
    for value in np.unique(x):
        tied = x == value
        if tied.sum() > 1:
            ranks[tied] = ranks[tied].mean()
    return ranks


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation (Pearson correlation of average ranks)."""
    ra, rb = _ranks(np.asarray(a, dtype=np.float64)), _ranks(np.asarray(b, dtype=np.float64))
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denom = np.sqrt((ra**2).sum() * (rb**2).sum())
    return float((ra * rb).sum() / denom) if denom > 0 else float("nan")


def kendall(a: np.ndarray, b: np.ndarray) -> float:
    """Kendall's tau-b (accounts for ties), O(n²) in memory and time (n up to a few thousand)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    da = np.sign(a[:, None] - a[None, :])
    db = np.sign(b[:, None] - b[None, :])
    upper = np.triu_indices(len(a), k=1)
    da, db = da[upper], db[upper]
    concordance = (da * db).sum()
    denom = np.sqrt((da != 0).sum() * (db != 0).sum())
    return float(concordance / denom) if denom > 0 else float("nan")


def accuracy(predicted: np.ndarray, measured: np.ndarray) -> dict[str, Any]:
    """Fractions within ±5% and ±10% of measured, MAPE (%), mean signed error (%), Spearman, Kendall, n."""
    p, m = np.asarray(predicted, dtype=np.float64), np.asarray(measured, dtype=np.float64)
    if p.shape != m.shape or p.ndim != 1 or len(p) < 2:
        raise ConfigError(f"need two equal-length lists of ≥ 2 latencies, got shapes {p.shape} and {m.shape}")
    if (m <= 0).any():
        raise ConfigError("measured latencies must be positive")
    rel = p / m - 1
    return {
        "n": len(p),
        "within_5pct": float(np.mean(np.abs(rel) <= 0.05)),
        "within_10pct": float(np.mean(np.abs(rel) <= 0.10)),
        "mape": float(np.mean(np.abs(rel)) * 100),
        "bias_pct": float(np.mean(rel) * 100),
        "max_abs_pct": float(np.max(np.abs(rel)) * 100),
        "spearman": spearman(p, m),
        "kendall": kendall(p, m),
    }
