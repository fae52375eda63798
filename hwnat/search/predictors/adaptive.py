"""NAT's adaptive switching: cross-validate several surrogates, keep the one with the best Kendall tau."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hwnat.search.predictors.base import (
    Predictor,
    check_xy,
    create_predictor,
    register_predictor,
)


@register_predictor("adaptive")
class AdaptiveSwitching:
    """Each fit: `folds`-fold Kendall tau of every candidate predictor; the winner is refitted on all samples."""

    name = "adaptive"

    def __init__(self, seed: int, candidates: Sequence[str] = ("rbf", "gp", "mlp", "cart"), folds: int = 5) -> None:
        self.seed, self.candidates, self.folds = seed, tuple(candidates), folds
        self.chosen: str | None = None
        self.scores: dict[str, float] = {}
        self.model: Predictor | None = None

    def fit(self, X: np.ndarray, y: np.ndarray) -> AdaptiveSwitching:
        from scipy.stats import kendalltau
        from sklearn.model_selection import KFold

        X, y = check_xy(X, y)
        folds = max(2, min(self.folds, len(y) // 2))
        self.scores = {}
        for name in self.candidates:
            pred = np.empty_like(y)
            for i, (train, test) in enumerate(KFold(folds, shuffle=True, random_state=self.seed).split(X)):
                pred[test] = create_predictor(name, self.seed + i).fit(X[train], y[train]).predict(X[test])
            tau = kendalltau(pred, y).statistic
            self.scores[name] = float(tau) if np.isfinite(tau) else -1.0
        self.chosen = max(self.candidates, key=lambda n: self.scores[n])
        self.model = create_predictor(self.chosen, self.seed).fit(X, y)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        assert self.model is not None, "fit() first"
        return self.model.predict(X)
