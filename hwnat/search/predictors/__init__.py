"""Accuracy predictors (surrogates) behind one interface: fit(X, y) / predict(X), created by name."""

from hwnat.search.predictors.base import (
    Predictor,
    create_predictor,
    list_predictors,
    register_predictor,
)

__all__ = ["Predictor", "create_predictor", "list_predictors", "register_predictor"]
