"""Every predictor through the one interface: fits, ranks a learnable target, is seeded; quality metrics."""

from __future__ import annotations

import numpy as np
import pytest

from hwnat.errors import ConfigError
from hwnat.search.evaluator import SyntheticEvaluator
from hwnat.search.metrics import predictor_quality
from hwnat.search.operators import unique_sample
from hwnat.search.predictors import create_predictor, list_predictors

FAST = {"rbf": {"members": 8}, "mlp": {"members": 1, "max_iter": 300}, "lightgbm": {"n_estimators": 60},
        "adaptive": {"candidates": ("ridge", "cart", "rbf")}}


@pytest.fixture(scope="module")
def data(space, bounds):
    g = unique_sample(space, "natv2", 160, np.random.default_rng(0), *bounds)
    y = SyntheticEvaluator(space, seed=0, noise=0.0).evaluate(g)
    return g[:120], y[:120], g[120:], y[120:]


@pytest.mark.parametrize("name", list_predictors())
def test_predictor_ranks_and_is_seeded(name, data) -> None:
    X, y, Xt, yt = data
    opts = FAST.get(name, {})
    pred = create_predictor(name, seed=3, **opts).fit(X, y).predict(Xt)
    assert pred.shape == yt.shape and np.isfinite(pred).all()
    q = predictor_quality(pred, yt)
    assert q["kendall"] is not None and q["kendall"] > 0.4, q
    again = create_predictor(name, seed=3, **opts).fit(X, y).predict(Xt)
    assert np.allclose(pred, again)


def test_adaptive_reports_its_choice(data) -> None:
    X, y, _, _ = data
    p = create_predictor("adaptive", seed=0, candidates=("ridge", "cart")).fit(X, y)
    assert p.chosen in ("ridge", "cart") and set(p.scores) == {"ridge", "cart"}


def test_unknown_predictor_and_option() -> None:
    with pytest.raises(ConfigError, match="did you mean 'lightgbm'"):
        create_predictor("lightgmb", seed=0)
    with pytest.raises(ConfigError, match="unexpected keyword"):
        create_predictor("rbf", seed=0, member=3)


def test_quality_metrics() -> None:
    q = predictor_quality(np.array([0.1, 0.2, 0.3, 0.4]), np.array([0.1, 0.25, 0.3, 0.5]))
    assert q["spearman"] == pytest.approx(1.0) and q["kendall"] == pytest.approx(1.0)
    assert q["rmse"] == pytest.approx(np.sqrt((0.05**2 + 0.1**2) / 4))
    assert predictor_quality(np.ones(3), np.array([1.0, 2.0, 3.0]))["kendall"] is None
