"""A small multilayer-perceptron surrogate (scikit-learn, scaled features, early stopping)."""

from __future__ import annotations

import numpy as np

from hwnat.search.predictors.base import check_xy, register_predictor, scale_columns


@register_predictor("mlp")
class MLPPredictor:
    """Mean of `members` MLPs with different seeds on min-max scaled genes."""

    name = "mlp"

    def __init__(self, seed: int, hidden: tuple[int, ...] = (64, 64), members: int = 1, max_iter: int = 300,
                 alpha: float = 1e-3) -> None:
        self.seed, self.hidden, self.members, self.max_iter, self.alpha = seed, tuple(hidden), members, max_iter, alpha
        self.models: list[object] = []

    def fit(self, X: np.ndarray, y: np.ndarray) -> MLPPredictor:
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPRegressor

        X, y = check_xy(X, y)
        self.keep, self.offset, self.scale = scale_columns(X)
        self.mean, self.std = float(y.mean()), float(y.std()) or 1.0
        Z, t = (X[:, self.keep] - self.offset) / self.scale, (y - self.mean) / self.std
        self.models = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            for i in range(self.members):
                m = MLPRegressor(hidden_layer_sizes=self.hidden, alpha=self.alpha, max_iter=self.max_iter,
                                 learning_rate_init=1e-3, early_stopping=len(t) >= 50, n_iter_no_change=20,
                                 random_state=self.seed + i)
                self.models.append(m.fit(Z, t))
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        X, _ = check_xy(X)
        Z = (X[:, self.keep] - self.offset) / self.scale
        return self.mean + self.std * np.mean([m.predict(Z) for m in self.models], axis=0)
