"""Predictor protocol, the name registry and the `create_predictor` factory (modules load on first use)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import numpy as np

from hwnat.errors import ConfigError, unknown_name


@runtime_checkable
class Predictor(Protocol):
    """A regressor on integer genome features; `seed` fixes every random choice it makes."""

    name: str

    def fit(self, X: np.ndarray, y: np.ndarray) -> Predictor: ...

    def predict(self, X: np.ndarray) -> np.ndarray: ...


_FACTORIES: dict[str, Callable[..., Predictor]] = {}
# Built-ins are registered when their module is imported; the module is imported on first use.
_BUILTIN = {"lightgbm": "lightgbm", "rbf": "rbf", "mlp": "mlp", "adaptive": "adaptive", "gp": "classic",
            "cart": "classic", "ridge": "classic"}


def register_predictor(name: str) -> Callable[[Callable[..., Predictor]], Callable[..., Predictor]]:
    def add(factory: Callable[..., Predictor]) -> Callable[..., Predictor]:
        if name in _FACTORIES:
            raise ValueError(f"predictor {name!r} registered twice")
        _FACTORIES[name] = factory
        return factory
    return add


def list_predictors() -> list[str]:
    return sorted({*_FACTORIES, *_BUILTIN})


def create_predictor(name: str, seed: int, **options: Any) -> Predictor:
    """A fresh predictor by name; unknown names and options raise ConfigError."""
    if name not in _FACTORIES and name in _BUILTIN:
        importlib.import_module(f"hwnat.search.predictors.{_BUILTIN[name]}")
    if name not in _FACTORIES:
        raise ConfigError(unknown_name("predictor", name, list_predictors()))
    try:
        return _FACTORIES[name](seed=int(seed), **options)
    except TypeError as exc:
        raise ConfigError(f"predictor {name!r}: {exc}") from exc


def scale_columns(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Min-max scaling parameters of the non-constant columns: (kept columns, offset, scale)."""
    X = np.asarray(X, dtype=np.float64)
    lo, hi = X.min(axis=0), X.max(axis=0)
    keep = np.flatnonzero(hi > lo)
    return keep, lo[keep], (hi - lo)[keep]


def check_xy(X: np.ndarray, y: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ConfigError(f"predictor features must be a 2-D array, got shape {X.shape}")
    if y is None:
        return X, None
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if len(y) != len(X) or len(y) < 2:
        raise ConfigError(f"predictor needs ≥ 2 samples with one target each, got X {X.shape}, y {y.shape}")
    return X, y
