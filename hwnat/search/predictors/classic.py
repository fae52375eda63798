"""Classic surrogates NAT's adaptive switching chooses among: Gaussian process, CART, ridge regression."""

from __future__ import annotations

from typing import Any

import numpy as np

from hwnat.search.predictors.base import check_xy, register_predictor, scale_columns


class _Sklearn:
    """A scikit-learn regressor on min-max scaled genes with a standardised target."""

    name = "sklearn"

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.model: Any = None

    def make(self) -> Any:
        raise NotImplementedError

    def fit(self, X: np.ndarray, y: np.ndarray) -> _Sklearn:
        X, y = check_xy(X, y)
        self.keep, self.offset, self.scale = scale_columns(X)
        self.mean, self.std = float(y.mean()), float(y.std()) or 1.0
        self.model = self.make().fit((X[:, self.keep] - self.offset) / self.scale, (y - self.mean) / self.std)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        X, _ = check_xy(X)
        return self.mean + self.std * self.model.predict((X[:, self.keep] - self.offset) / self.scale)


def _short_lbfgs(objective: Any, theta: np.ndarray, bounds: np.ndarray) -> tuple[np.ndarray, float]:
    """Kernel hyper-parameters by at most 15 L-BFGS-B steps (sklearn's default runs to convergence: slow)."""
    from scipy.optimize import minimize

    res = minimize(objective, theta, method="L-BFGS-B", jac=True, bounds=bounds, options={"maxiter": 15})
    return res.x, float(res.fun)


@register_predictor("gp")
class GaussianProcess(_Sklearn):
    name = "gp"

    def make(self) -> Any:
        from sklearn.gaussian_process import GaussianProcessRegressor
        from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

        kernel = ConstantKernel(1.0) * RBF(length_scale=1.0) + WhiteKernel(1e-2)
        return GaussianProcessRegressor(kernel, optimizer=_short_lbfgs, normalize_y=False, random_state=self.seed)


@register_predictor("cart")
class CART(_Sklearn):
    name = "cart"

    def make(self) -> Any:
        from sklearn.tree import DecisionTreeRegressor

        return DecisionTreeRegressor(min_samples_leaf=3, random_state=self.seed)


@register_predictor("ridge")
class Ridge(_Sklearn):
    name = "ridge"

    def make(self) -> Any:
        from sklearn.linear_model import Ridge as SkRidge

        return SkRidge(alpha=1.0)
