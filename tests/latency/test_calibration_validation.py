"""Calibration fits and model choice; validation metrics on known examples."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hwnat.errors import ConfigError
from hwnat.latency.calibration import TIE_MAPE, Calibration, fit_calibration
from hwnat.latency.validation import accuracy, kendall, spearman


def test_validation_metrics_on_a_known_example() -> None:
    measured = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    predicted = np.array([1.04, 2.3, 2.85, 4.5, 4.99])  # errors +4%, +15%, -5%, +12.5%, -0.2%
    m = accuracy(predicted, measured)
    assert m["n"] == 5
    assert m["within_5pct"] == pytest.approx(3 / 5)
    assert m["within_10pct"] == pytest.approx(3 / 5)
    assert m["mape"] == pytest.approx((4 + 15 + 5 + 12.5 + 0.2) / 5)
    assert m["max_abs_pct"] == pytest.approx(15)
    assert m["spearman"] == pytest.approx(1.0) and m["kendall"] == pytest.approx(1.0)


def test_rank_correlations_match_scipy_with_ties() -> None:
    from scipy import stats

    rng = np.random.default_rng(0)
    a = rng.integers(0, 8, 60).astype(float)
    b = a + rng.normal(0, 2, 60)
    b[:5] = b[5]  # ties in both
    assert spearman(a, b) == pytest.approx(stats.spearmanr(a, b).statistic, abs=1e-12)
    assert kendall(a, b) == pytest.approx(stats.kendalltau(a, b).statistic, abs=1e-12)
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert kendall([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(4 / 6)


def test_accuracy_rejects_bad_input() -> None:
    with pytest.raises(ConfigError, match="equal-length"):
        accuracy([1.0, 2.0], [1.0])
    with pytest.raises(ConfigError, match="positive"):
        accuracy([1.0, 2.0], [0.0, 1.0])


def test_fit_recovers_a_linear_correction_and_picks_by_held_out_error() -> None:
    rng = np.random.default_rng(1)
    raw = rng.uniform(0.5, 3.0, 30)
    calls = rng.integers(15, 30, 30).astype(float)
    measured = (0.8 * raw + 0.12) * (1 + rng.normal(0, 0.003, 30))
    cal = fit_calibration(raw, calls, measured)
    assert cal.n == 30 and set(cal.loo_mape) == {"identity", "linear", "loglinear", "calls"}
    assert cal.loo_mape[cal.model] <= min(cal.loo_mape.values()) + TIE_MAPE
    assert cal.model in ("linear", "calls")
    np.testing.assert_allclose(cal.apply(raw, calls), 0.8 * raw + 0.12, rtol=0.01)
    assert Calibration.from_dict(cal.to_dict()) == cal


def test_fit_models_per_call_overhead() -> None:
    rng = np.random.default_rng(2)
    calls = rng.integers(12, 30, 30).astype(float)
    work = rng.uniform(0.2, 1.0, 30)
    raw = work + 0.01 * calls          # every unit pays 10 µs of call overhead
    measured = work + 0.01             # a whole network pays it once
    cal = fit_calibration(raw, calls, measured)
    assert cal.model == "calls"
    np.testing.assert_allclose(cal.apply(raw, calls), measured, rtol=1e-6)


def test_identity_and_robustness_to_an_outlier() -> None:
    raw = np.linspace(1, 3, 20)
    measured = 1.1 * raw
    measured[3] *= 2  # one disturbed measurement
    cal = fit_calibration(raw, np.full(20, 20.0), measured, models=("scale",))
    assert cal.model == "scale" and cal.params[0] == pytest.approx(1.1, rel=0.01)
    assert Calibration().apply(2.0, 20)[0] == 2.0


def test_calibration_input_errors() -> None:
    with pytest.raises(ConfigError, match="unknown calibration model 'cubic'"):
        fit_calibration([1.0, 2.0], [1, 2], [1.0, 2.0], models=("cubic",))
    with pytest.raises(ConfigError, match="positive"):
        fit_calibration([1.0, -2.0], [1, 2], [1.0, 2.0])
    with pytest.raises(ConfigError, match="takes 2 parameters"):
        Calibration.from_dict({"model": "linear", "params": [1.0]})


def test_per_width_calibration_when_widths_need_their_own() -> None:
    rng = np.random.default_rng(4)
    widths = np.repeat([0.5, 1.0], 15)
    raw = rng.uniform(0.5, 3.0, 30)
    calls = rng.integers(15, 25, 30).astype(float)
    truth = np.where(widths == 0.5, 0.8 * raw + 0.1, 1.2 * raw - 0.1)
    cal = fit_calibration(raw, calls, truth * (1 + rng.normal(0, 0.002, 30)), widths=widths)
    assert set(cal.per_width) == {"0.5", "1.0"} and cal.loo_mape["per_width"] < cal.loo_mape[cal.model]
    np.testing.assert_allclose(cal.apply(raw, calls, widths), truth, rtol=0.02)
    assert cal.apply(raw[:1], calls[:1], 1.0)[0] == pytest.approx(truth[0] * 1.2 / 0.8 - 0.25, rel=0.03)
    with pytest.raises(ConfigError, match="pass the subnets' widths"):
        cal.apply(raw, calls)
    with pytest.raises(ConfigError, match="no calibration for width 0.75"):
        cal.apply(raw[:1], calls[:1], 0.75)
    assert Calibration.from_dict(json.loads(json.dumps(cal.to_dict()))) == cal


def test_one_correction_is_kept_when_widths_agree() -> None:
    rng = np.random.default_rng(5)
    widths = np.repeat([0.5, 0.75, 1.0], 10)
    raw = rng.uniform(0.5, 3.0, 30)
    cal = fit_calibration(raw, np.full(30, 20.0), 0.9 * raw + 0.05, widths=widths)
    assert not cal.per_width and "per_width" in cal.loo_mape
    few = fit_calibration(raw[:12], np.full(12, 20.0), 0.9 * raw[:12], widths=widths[:12])  # < 6 at some width
    assert "per_width" not in few.loo_mape


def test_weights_model_charges_parameters_beyond_the_cache() -> None:
    # Networks whose weights outgrow the cache (knot 1.5 M parameters) pay 0.3 ms per million beyond it.
    rng = np.random.default_rng(6)
    raw = rng.uniform(0.5, 8.0, 30)
    params = rng.uniform(0.5, 6.0, 30)
    calls = np.full(30, 20.0)
    truth = 1.1 * raw + 0.3 * np.maximum(0.0, params - 1.5) + 0.05
    cal = fit_calibration(raw, calls, truth * (1 + rng.normal(0, 0.002, 30)), params_m=params)
    assert cal.model == "weights" and cal.uses_params
    assert cal.params[:3] == pytest.approx((1.1, 0.3, 0.05), rel=0.1, abs=0.02)
    assert cal.params[3] == pytest.approx(1.5, abs=0.15)  # the knot
    np.testing.assert_allclose(cal.apply(raw, calls, params_m=params), truth, rtol=0.01)
    assert Calibration.from_dict(json.loads(json.dumps(cal.to_dict()))) == cal
    with pytest.raises(ConfigError, match="parameter counts"):
        cal.apply(raw, calls)
    # Without parameter counts the model is not a candidate; with them and no cache effect it is not chosen.
    assert "weights" not in fit_calibration(raw, calls, truth).loo_mape
    plain = fit_calibration(raw, calls, (0.9 * raw + 0.1) * (1 + rng.normal(0, 0.002, 30)), params_m=params)
    assert plain.model != "weights" and not plain.uses_params
