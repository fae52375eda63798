"""Measurement jobs: the models exported and timed to obtain each unit's entry, alone or between context layers.

`alone` (ONNX Runtime, torch): each unit is one job, timed as exported. `context` (OpenVINO, TensorRT): these
runtimes convert tensors to their blocked internal layouts at a model's inputs and outputs, which inside a
network happens once but in a unit timed alone costs up to 5× the unit itself (OpenVINO, a 1×1 conv 8→16 at
64×64: 0.28 ms alone, ~0.05 ms inside a network). So each unit is timed between a 1×1-conv prefix and suffix,
and a reference job with the same boundaries (prefix → cheapest adapter to the output shape → suffix) is
subtracted: entry = ctx − ref, per statistic. What stays out (call overhead, the network's own input and
output conversions, the adapters) is per-network and is left to the calibration.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hwnat.errors import ConfigError
from hwnat.latency.blocks import UNIT_KINDS, Unit
from hwnat.latency.timing import UnitTiming

if TYPE_CHECKING:
    from torch import nn

MODES = ("alone", "context")
# Runtimes whose timings of lone units carry layout conversions at the model boundaries.
CONTEXT_RUNTIMES = frozenset({"openvino", "tensorrt"})
STAT_FIELDS = ("p50_ms", "p90_ms", "mean_ms", "p10_ms", "min_ms")


def default_mode(runtime: str) -> str:
    return "context" if runtime in CONTEXT_RUNTIMES else "alone"


@dataclass(frozen=True)
class Job:
    """One model to export and time: a key (journal and bundle id), its input shape and how to build it."""

    key: str
    input_shape: tuple[int, ...]
    make: Callable[[], nn.Module] = field(compare=False, repr=False)

    def build(self, seed: int = 0) -> nn.Module:
        import torch

        from hwnat.models.init import init_weights

        torch.manual_seed(seed)
        module = self.make()
        init_weights(module)
        return module.eval()

    def export(self, path: str | Path) -> Path:
        """Write this job's model to an ONNX file at `path` (fixed input shape) and return the path."""
        from hwnat.backends.onnx_export import export_onnx

        return export_onnx(self.build(), self.input_shape, path)


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Module:
    from hwnat.models.layers import ConvLayer

    return ConvLayer(cin, cout, 1, stride)


def _adapter(in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> nn.Module | None:
    """The cheapest layer from in_shape to out_shape: none, a (strided) 1×1 conv, or pool + linear for logits."""
    from torch import nn

    if in_shape == out_shape:
        return None
    if len(out_shape) == 2:
        return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(in_shape[1], out_shape[1]))
    stride = max(1, in_shape[2] // out_shape[2])
    return _conv(in_shape[1], out_shape[1], stride)


def _chain(*parts: Callable[[], nn.Module | None]) -> Callable[[], nn.Module]:
    def make() -> nn.Module:
        from torch import nn

        return nn.Sequential(*[m for m in (p() for p in parts) if m is not None])

    return make


def _signature(shape: tuple[int, ...]) -> str:
    return "x".join(str(d) for d in shape[1:])


def _ref_key(unit: Unit) -> str:
    kind = UNIT_KINDS[unit.kind]
    ends = ("img" if kind.network_input else "", "logits" if kind.network_output else "")
    return f"ref:{ends[0]}{_signature(unit.input_shape)}->{ends[1]}{_signature(unit.output_shape)}"


def _context_jobs(unit: Unit) -> tuple[Job, Job]:
    """(unit between prefix and suffix, the same boundaries around the cheapest adapter)."""
    kind = UNIT_KINDS[unit.kind]
    cin, cout = unit.input_shape[1], unit.output_shape[1]
    prefix = (lambda: None) if kind.network_input else (lambda: _conv(cin, cin))
    suffix = (lambda: None) if kind.network_output else (lambda: _conv(cout, cout))

    def body() -> nn.Module:
        return UNIT_KINDS[unit.kind].build(unit.config)

    def adapter() -> nn.Module | None:
        return _adapter(unit.input_shape, unit.output_shape)

    return (Job(f"ctx:{unit.key}", unit.input_shape, _chain(prefix, body, suffix)),
            Job(_ref_key(unit), unit.input_shape, _chain(prefix, adapter, suffix)))


@dataclass(frozen=True)
class JobPlan:
    """The jobs that measure `units` in `mode`, and how their timings become one entry per unit."""

    mode: str
    units: tuple[Unit, ...]
    jobs: tuple[Job, ...]

    def entries(self, timings: dict[str, UnitTiming]) -> dict[str, UnitTiming]:
        """One entry per unit from the jobs' timings (every job must be timed)."""
        missing = [j.key for j in self.jobs if j.key not in timings]
        if missing:
            raise ConfigError(f"{len(missing)} measurement jobs have no timing, e.g. {missing[0]!r}")
        if self.mode == "alone":
            return {u.key: timings[u.key] for u in self.units}
        return {u.key: _difference(timings[f"ctx:{u.key}"], timings[_ref_key(u)]) for u in self.units}

    def references(self, timings: dict[str, UnitTiming]) -> dict[str, float]:
        """p10 (ms) of each reference job (context mode), for the record."""
        return {j.key: timings[j.key].p10_ms for j in self.jobs if j.key.startswith("ref:") and j.key in timings}


def _difference(ctx: UnitTiming, ref: UnitTiming) -> UnitTiming:
    """ctx − ref for every latency statistic, never below zero (noise can make a tiny unit look negative)."""
    values: dict[str, Any] = {}
    for name in STAT_FIELDS:
        a, b = getattr(ctx, name), getattr(ref, name)
        values[name] = None if a is None or b is None else max(0.0, a - b)
    return UnitTiming(values["p50_ms"], values["p90_ms"], values["mean_ms"], ctx.std_ms, ctx.n,
                      values["p10_ms"], values["min_ms"])


def plan_jobs(units: Sequence[Unit], mode: str) -> JobPlan:
    """The jobs for `units` (unique by key, in order) in `mode` ('alone' or 'context')."""
    if mode not in MODES:
        raise ConfigError(f"unknown unit timing mode {mode!r}; allowed: {', '.join(MODES)}")
    unique = tuple({u.key: u for u in units}.values())
    if mode == "alone":
        return JobPlan(mode, unique, tuple(Job(u.key, u.input_shape, _lone(u)) for u in unique))
    jobs: dict[str, Job] = {}
    for unit in unique:
        ctx, ref = _context_jobs(unit)
        jobs[ctx.key] = ctx
        jobs.setdefault(ref.key, ref)
    return JobPlan(mode, unique, tuple(jobs.values()))


def _lone(unit: Unit) -> Callable[[], nn.Module]:
    return lambda: UNIT_KINDS[unit.kind].build(unit.config)
