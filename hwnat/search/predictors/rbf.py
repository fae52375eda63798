"""NAT's RBF ensemble: cubic radial basis functions with a linear tail, each on a random subset of the archive."""

from __future__ import annotations

import numpy as np

from hwnat.search.predictors.base import check_xy, register_predictor, scale_columns


@register_predictor("rbf")
class RBFEnsemble:
    """Mean of `members` RBF interpolants, each fitted on `sample_fraction` of the rows (without replacement)."""

    name = "rbf"

    def __init__(self, seed: int, members: int = 50, sample_fraction: float = 0.7, kernel: str = "cubic",
                 smoothing: float = 1e-3) -> None:
        self.seed, self.members, self.sample_fraction = seed, members, sample_fraction
        self.kernel, self.smoothing = kernel, smoothing
        self.models: list[tuple[np.ndarray, object]] = []

    def _scale(self, X: np.ndarray) -> np.ndarray:
        return (X[:, self.keep] - self.offset) / self.scale

    def fit(self, X: np.ndarray, y: np.ndarray) -> RBFEnsemble:
        from scipy.interpolate import RBFInterpolator

        X, y = check_xy(X, y)
        self.keep, self.offset, self.scale = scale_columns(X)
        Z = self._scale(X)
        self.mean = float(y.mean())
        rng = np.random.default_rng(self.seed)
        n = max(Z.shape[1] + 2, round(self.sample_fraction * len(y)))
        # a linear tail needs more samples than features; below that, a linear kernel without one
        kernel, degree = (self.kernel, 1) if min(n, len(y)) > Z.shape[1] + 1 else ("linear", 0)
        self.models = []
        for _ in range(self.members):
            rows = rng.choice(len(y), size=min(n, len(y)), replace=False)
            try:
                model = RBFInterpolator(Z[rows], y[rows] - self.mean, kernel=kernel,
                                        smoothing=self.smoothing, degree=degree)
            except (np.linalg.LinAlgError, ValueError):
                continue
            self.models.append((rows, model))
        if not self.models:  # degenerate samples: one smoothed linear-kernel interpolant on everything
            self.models.append((np.arange(len(y)), RBFInterpolator(Z, y - self.mean, kernel="linear",
                                                                    smoothing=max(self.smoothing, 1e-2),
                                                                    degree=0)))
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        X, _ = check_xy(X)
        Z = self._scale(X)
        return self.mean + np.mean([m(Z) for _, m in self.models], axis=0)
