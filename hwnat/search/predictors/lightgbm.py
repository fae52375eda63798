"""NATv2's surrogate: a pool of LightGBM regressors (huber loss) trained on the folds of a 10-fold split."""

from __future__ import annotations

from typing import Any

import numpy as np

from hwnat.search.predictors.base import check_xy, register_predictor


@register_predictor("lightgbm")
class LightGBMPool:
    """Mean of `folds` LightGBM models, each fitted on all but one fold; integer genome genes as features."""

    name = "lightgbm"

    def __init__(self, seed: int, folds: int = 10, n_estimators: int = 200, learning_rate: float = 0.05,
                 num_leaves: int = 15, min_child_samples: int = 5, huber_alpha: float = 0.9,
                 threads: int = 1) -> None:
        self.seed, self.folds = seed, folds
        self.params: dict[str, Any] = {"objective": "huber", "alpha": huber_alpha, "n_estimators": n_estimators,
                                           "learning_rate": learning_rate, "num_leaves": num_leaves,
                                           "min_child_samples": min_child_samples, "subsample": 1.0,
                                           "colsample_bytree": 1.0, "n_jobs": threads, "deterministic": True,
                                           "force_row_wise": True, "verbose": -1}
        self.models: list[Any] = []

    def fit(self, X: np.ndarray, y: np.ndarray) -> LightGBMPool:
        import lightgbm as lgb
        from sklearn.model_selection import KFold

        X, y = check_xy(X, y)
        folds = min(self.folds, len(y))
        splits = [(np.arange(len(y)), None)] if folds < 2 else \
            KFold(folds, shuffle=True, random_state=self.seed).split(X)
        self.models = []
        for i, (train, _) in enumerate(splits):
            model = lgb.LGBMRegressor(random_state=self.seed + i, **self.params)
            model.fit(X[train], y[train], categorical_feature=[])
            self.models.append(model)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        X, _ = check_xy(X)
        return np.mean([m.predict(X) for m in self.models], axis=0)
