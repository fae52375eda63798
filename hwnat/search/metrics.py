"""Search metrics: normalised hypervolume, predictor quality (RMSE, Spearman, Kendall), high trade-off points."""

from __future__ import annotations

import warnings

import numpy as np


def predictor_quality(predicted: np.ndarray, measured: np.ndarray) -> dict[str, float | None]:
    """RMSE, Spearman rho and Kendall tau of predictions against measurements (None where undefined)."""
    from scipy.stats import kendalltau, spearmanr

    p, m = np.asarray(predicted, dtype=np.float64), np.asarray(measured, dtype=np.float64)
    out: dict[str, float | None] = {"rmse": float(np.sqrt(np.mean((p - m) ** 2))) if len(p) else None,
                                    "spearman": None, "kendall": None}
    if len(p) >= 3 and np.ptp(p) > 0 and np.ptp(m) > 0:
        out["spearman"] = float(spearmanr(p, m).statistic)
        out["kendall"] = float(kendalltau(p, m).statistic)
    return out


def normalise(F: np.ndarray, ideal: np.ndarray, nadir: np.ndarray) -> np.ndarray:
    span = np.where(nadir > ideal, nadir - ideal, 1.0)
    return (np.asarray(F, dtype=np.float64) - ideal) / span


def hypervolume(F: np.ndarray, ideal: np.ndarray, nadir: np.ndarray, margin: float = 0.1) -> float:
    """HV of points normalised to [0, 1] by fixed ideal/nadir, against the reference point 1 + margin."""
    from pymoo.indicators.hv import HV

    if len(F) == 0:
        return 0.0
    Z = normalise(F, ideal, nadir)
    ref = np.full(Z.shape[1], 1.0 + margin)
    Z = Z[(Z < ref).all(axis=1)]
    return float(HV(ref_point=ref)(Z)) if len(Z) else 0.0


def non_dominated(F: np.ndarray) -> np.ndarray:
    """Indices of the first non-dominated front."""
    from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

    if len(F) == 0:
        return np.zeros(0, dtype=np.int64)
    return np.asarray(NonDominatedSorting().do(np.asarray(F, dtype=np.float64), only_non_dominated_front=True))


def high_tradeoff(F: np.ndarray, ideal: np.ndarray, nadir: np.ndarray) -> np.ndarray:
    """Indices (into F, a non-dominated set) of pymoo's high trade-off points on normalised objectives."""
    if len(F) < 3:
        return np.arange(len(F))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pymoo.mcdm.high_tradeoff import HighTradeoffPoints

        found = HighTradeoffPoints().do(normalise(F, ideal, nadir))
    return np.zeros(0, dtype=np.int64) if found is None else np.sort(np.asarray(found, dtype=np.int64).reshape(-1))
