"""Correction of raw block sums to end-to-end latency, fitted on a few whole subnets measured on the target.

Block sums miss cross-block fusion and cache effects and count the runtime's per-call overhead once per block
instead of once per network, so a raw sum is off by a scale and an offset that depend on the runtime and on
the width multiplier (ONNX Runtime, one correction for widths 0.5-1.0: biases of +2%, −4%, −9%). A unit timed
alone runs with its weights in cache; inside a network whose weights outgrow the cache they stream from
memory on every call (`tools/bench_in_network.py`: the heaviest units of a width-1.0 subnet run 3× slower in
the network than alone on OpenVINO), which the `weights` model charges per parameter beyond a fitted knot. Each
model below maps (raw sum in ms, number of unit calls, parameters in millions) to milliseconds; `fit_calibration`
fits every model by relative-error least squares (Huber-reweighted) and keeps the one with the smallest leave-one-out
error, once for all subnets and once per width multiplier, and keeps per-width corrections when they predict
held-out subnets better.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from hwnat.errors import ConfigError

HUBER_DELTA = 0.05  # relative residuals beyond 5% get linearly decreasing weight
IRLS_STEPS = 10
KNOT_GRID = 49  # knot candidates of the `weights` model
TIE_MAPE = 0.01  # leave-one-out MAPEs (percentage points) this close count as a tie


Design = Callable[[np.ndarray, np.ndarray, np.ndarray, float], np.ndarray]


@dataclass(frozen=True)
class CalibrationModel:
    """`design(raw, calls, params_m, knot)` gives the regressors; the prediction is design @ params (exp'd in log
    space). A model with `knot` also fits one knot on the subnets' parameter counts (millions), stored as its
    last parameter, and needs those counts."""

    design: Design
    log_space: bool = False
    description: str = ""
    knot: bool = False

    def n_params(self) -> int:
        one = np.ones(1)
        return self.design(one, one, one, 0.0).shape[1] + int(self.knot)


def _ones(s: np.ndarray) -> np.ndarray:
    return np.ones_like(s)


CALIBRATION_MODELS: dict[str, CalibrationModel] = {
    "identity": CalibrationModel(lambda s, n, p, k: np.zeros((len(s), 0)), description="the raw sum"),
    "scale": CalibrationModel(lambda s, n, p, k: s[:, None], description="a·sum"),
    "linear": CalibrationModel(lambda s, n, p, k: np.stack([s, _ones(s)], axis=1), description="a·sum + b"),
    "loglinear": CalibrationModel(lambda s, n, p, k: np.stack([np.log(s), _ones(s)], axis=1), log_space=True,
                                  description="exp(b)·sum^a"),
    "calls": CalibrationModel(lambda s, n, p, k: np.stack([s, n, _ones(s)], axis=1),
                              description="a·sum + c·calls + b (per-call overhead)"),
    "weights": CalibrationModel(lambda s, n, p, k: np.stack([s, np.maximum(0.0, p - k), _ones(s)], axis=1),
                                knot=True,
                                description="a·sum + c·max(0, params − knot) + b (weights beyond the cache)"),
}
DEFAULT_MODELS = ("linear", "loglinear", "calls", "weights")
MIN_PER_WIDTH = 6  # subnets per width multiplier needed to fit that width on its own
PER_WIDTH_GAIN = 0.95  # per-width fits are kept only when their held-out error is ≥ 5% (relative) lower


def _predict(model: CalibrationModel, params: np.ndarray, raw: np.ndarray, calls: np.ndarray,
             params_m: np.ndarray) -> np.ndarray:
    raw = np.asarray(raw, dtype=np.float64)
    knot = float(params[-1]) if model.knot else 0.0
    coefs = params[:-1] if model.knot else params
    x = model.design(raw, np.asarray(calls, dtype=np.float64), np.asarray(params_m, dtype=np.float64), knot)
    if x.shape[1] == 0:
        return raw.copy()
    y = x @ coefs
    return np.exp(y) if model.log_space else y


def _huber(rel: np.ndarray) -> float:
    a = np.abs(rel)
    return float(np.sum(np.where(a <= HUBER_DELTA, 0.5 * a**2, HUBER_DELTA * (a - 0.5 * HUBER_DELTA))))


def _fit_at(model: CalibrationModel, knot: float, raw: np.ndarray, calls: np.ndarray, params_m: np.ndarray,
            measured: np.ndarray) -> np.ndarray:
    """Minimise Σ huber((pred − y) / y) at a fixed knot: least squares with weights 1/y², reweighted (IRLS)."""
    x = model.design(raw, calls, params_m, knot)
    tail = (knot,) if model.knot else ()
    if x.shape[1] == 0:
        return np.zeros(0)
    target = np.log(measured) if model.log_space else measured
    scale = np.ones_like(measured) if model.log_space else 1.0 / measured
    weights = np.ones_like(measured)
    params = np.zeros(x.shape[1])
    for _ in range(IRLS_STEPS):
        w = np.sqrt(weights) * scale
        params, *_ = np.linalg.lstsq(x * w[:, None], target * w, rcond=None)
        rel = np.abs(_predict(model, np.array([*params, *tail]), raw, calls, params_m) / measured - 1)
        weights = np.where(rel <= HUBER_DELTA, 1.0, HUBER_DELTA / np.maximum(rel, 1e-12))
    return np.array([*params, *tail])


def _fit(model: CalibrationModel, raw: np.ndarray, calls: np.ndarray, params_m: np.ndarray,
         measured: np.ndarray) -> np.ndarray:
    """The model's parameters; a knot is chosen on a grid from 0 to the third-largest parameter count (at least
    two subnets lie beyond it) by the Huber loss of the relative errors."""
    if not model.knot:
        return _fit_at(model, 0.0, raw, calls, params_m, measured)
    top = np.sort(params_m)[-3] if len(params_m) >= 3 else 0.0
    knots = np.linspace(0.0, top, KNOT_GRID)
    fits = [_fit_at(model, k, raw, calls, params_m, measured) for k in knots]
    losses = [_huber(_predict(model, f, raw, calls, params_m) / measured - 1) for f in fits]
    return fits[int(np.argmin(losses))]


def _loo_mape(model: CalibrationModel, raw: np.ndarray, calls: np.ndarray, params_m: np.ndarray,
              measured: np.ndarray) -> float:
    """Leave-one-out mean absolute percentage error of the model (its knot chosen again for every fold)."""
    n = len(measured)
    errors = []
    for i in range(n):
        keep = np.arange(n) != i
        params = _fit(model, raw[keep], calls[keep], params_m[keep], measured[keep])
        pred = _predict(model, params, raw[i : i + 1], calls[i : i + 1], params_m[i : i + 1])[0]
        errors.append(abs(pred / measured[i] - 1))
    return float(np.mean(errors)) * 100


@dataclass(frozen=True)
class Calibration:
    """A fitted correction: model name, its parameters, the subnets it was fitted on and the errors seen, or
    one such correction per width multiplier (`per_width`, keyed by str(width)) used in place of this one."""

    model: str = "identity"
    params: tuple[float, ...] = ()
    n: int = 0
    loo_mape: dict[str, float] = field(default_factory=dict)
    per_width: dict[str, Calibration] = field(default_factory=dict)
    reference_ms: float | None = None  # the reference subnet's speed the measurements were scaled to (paired)

    @property
    def uses_params(self) -> bool:
        """Whether predictions need the subnets' parameter counts (`params_m` of `apply`)."""
        return CALIBRATION_MODELS[self.model].knot or any(c.uses_params for c in self.per_width.values())

    def apply(self, raw_ms: np.ndarray | float, calls: np.ndarray | float,
              widths: np.ndarray | float | None = None, params_m: np.ndarray | float | None = None) -> np.ndarray:
        """Calibrated milliseconds for raw block sums (ms), numbers of unit calls, width multipliers and
        parameter counts (millions; needed only when `uses_params`)."""
        raw = np.atleast_1d(np.asarray(raw_ms, dtype=np.float64))
        n = np.broadcast_to(np.atleast_1d(np.asarray(calls, dtype=np.float64)), raw.shape)
        if params_m is None and self.uses_params:
            raise ConfigError("this calibration charges weights beyond the cache: pass the subnets' parameter "
                              "counts (params_m)")
        p = np.broadcast_to(np.atleast_1d(np.asarray(0.0 if params_m is None else params_m, dtype=np.float64)),
                            raw.shape)
        if not self.per_width:
            return _predict(CALIBRATION_MODELS[self.model], np.asarray(self.params), raw, n, p)
        if widths is None:
            raise ConfigError("this calibration is per width multiplier: pass the subnets' widths")
        w = np.broadcast_to(np.atleast_1d(np.asarray(widths, dtype=np.float64)), raw.shape)
        out = np.empty_like(raw)
        for width in np.unique(w):
            group = self.per_width.get(str(float(width)))
            if group is None:
                raise ConfigError(f"no calibration for width {float(width)}; calibrated widths: "
                                  + ", ".join(sorted(self.per_width)))
            k = w == width
            out[k] = group.apply(raw[k], n[k], params_m=p[k])
        return out

    def to_dict(self) -> dict[str, Any]:
        d = {"model": self.model, "description": CALIBRATION_MODELS[self.model].description,
             "params": list(self.params), "n": self.n, "loo_mape": dict(self.loo_mape)}
        if self.per_width:
            d["per_width"] = {k: v.to_dict() for k, v in self.per_width.items()}
        if self.reference_ms is not None:
            d["reference_ms"] = self.reference_ms
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Calibration:
        model = str(d.get("model", "identity"))
        if model not in CALIBRATION_MODELS:
            raise ConfigError(f"unknown calibration model {model!r}; allowed: {', '.join(CALIBRATION_MODELS)}")
        params = tuple(float(p) for p in d.get("params", ()))
        expected = CALIBRATION_MODELS[model].n_params()
        if len(params) != expected:
            raise ConfigError(f"calibration model {model!r} takes {expected} parameters, got {len(params)}")
        per_width = {str(float(k)): cls.from_dict(v) for k, v in (d.get("per_width") or {}).items()}
        reference = d.get("reference_ms")
        return cls(model, params, int(d.get("n", 0)), {str(k): float(v) for k, v in d.get("loo_mape", {}).items()},
                   per_width, None if reference is None else float(reference))


def _fit_one(raw: np.ndarray, calls: np.ndarray, params_m: np.ndarray | None, y: np.ndarray,
             models: tuple[str, ...]) -> Calibration:
    """Every model fitted; the one with the smallest leave-one-out MAPE kept (the raw sum as a baseline; of models
    within TIE_MAPE of it, the first, simplest, one). Models that need parameter counts are left out without
    them."""
    candidates = ["identity", *[m for m in models if m != "identity"]]
    usable = [m for m in candidates if len(y) >= CALIBRATION_MODELS[m].n_params() + 2
              and (params_m is not None or not CALIBRATION_MODELS[m].knot)]
    p = np.zeros_like(y) if params_m is None else params_m
    scores = {m: _loo_mape(CALIBRATION_MODELS[m], raw, calls, p, y) for m in usable}
    lowest = min(scores.values())
    best = next(m for m in usable if scores[m] <= lowest + TIE_MAPE)  # the simplest of the (near-)best
    params = _fit(CALIBRATION_MODELS[best], raw, calls, p, y)
    return Calibration(best, tuple(float(v) for v in params), len(y), {m: round(s, 3) for m, s in scores.items()})


def fit_calibration(raw_ms: np.ndarray, calls: np.ndarray, measured_ms: np.ndarray,
                    models: tuple[str, ...] = DEFAULT_MODELS, widths: np.ndarray | None = None,
                    params_m: np.ndarray | None = None) -> Calibration:
    """The best model for all subnets together; with `widths`, also the best per width multiplier, kept when
    every width has ≥ MIN_PER_WIDTH subnets and the per-width leave-one-out MAPE is clearly lower. `params_m`
    (the subnets' parameter counts in millions) makes the `weights` model available."""
    raw = np.asarray(raw_ms, dtype=np.float64)
    calls_ = np.asarray(calls, dtype=np.float64)
    y = np.asarray(measured_ms, dtype=np.float64)
    p = None if params_m is None else np.asarray(params_m, dtype=np.float64)
    if not (len(raw) == len(calls_) == len(y)) or (p is not None and len(p) != len(y)):
        raise ConfigError("calibration needs one raw sum, one call count, one measurement (and one parameter "
                          "count, if any) per subnet")
    if (raw <= 0).any() or (y <= 0).any():
        raise ConfigError("calibration needs positive latencies")
    for name in models:
        if name not in CALIBRATION_MODELS:
            raise ConfigError(f"unknown calibration model {name!r}; allowed: {', '.join(CALIBRATION_MODELS)}")
    overall = _fit_one(raw, calls_, p, y, models)
    if widths is None:
        return overall
    w = np.asarray(widths, dtype=np.float64)
    groups = np.unique(w)
    if len(groups) < 2 or min((w == g).sum() for g in groups) < MIN_PER_WIDTH:
        return overall
    per_width = {str(float(g)): _fit_one(raw[w == g], calls_[w == g], None if p is None else p[w == g], y[w == g],
                                         models) for g in groups}
    split = float(sum(c.loo_mape[c.model] * c.n for c in per_width.values()) / len(y))
    scores = {**overall.loo_mape, "per_width": round(split, 3)}
    if split >= PER_WIDTH_GAIN * overall.loo_mape[overall.model]:
        return replace(overall, loo_mape=scores)
    return replace(overall, loo_mape=scores, per_width=per_width)
