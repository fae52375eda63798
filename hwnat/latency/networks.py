"""End-to-end timing of whole subnets, interleaved: all are exported and compiled first, then timed round-robin
for several rounds (the order shuffled per round) so that drift of a shared, noisy machine hits all of them
alike, each compiled afresh per round (by default), the median over rounds taken.

The 2-core VMs switch between speed regimes that last seconds: the same compiled network runs 1.3-1.6× slower
in one than in another, and a probe timed just before it follows only part of that. For latency tables each
network is therefore timed in bursts of a few calls alternating with a fixed reference subnet (paired timing)
and scaled by the reference's speed in the same window: that ratio repeats within a few percent where the
network's own time does not (`python tools/bench_repeatability.py` measures both). The common scale is the
reference's speed in the fast regime (the 10th percentile of its windows), which sessions share, where the
median moves with how long a session spent in slow regimes."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from hwnat.backends.base import ModelSource
from hwnat.latency.profiler import single_threaded_torch
from hwnat.latency.timing import UnitTiming
from hwnat.progress import progress_bar

if TYPE_CHECKING:
    from hwnat.backends.base import Backend, CompiledModel
    from hwnat.config.targets import TimingSpec
    from hwnat.space.arch import Arch
    from hwnat.space.spec import SearchSpace


# Timed calls per burst in paired timing (each burst starts with one untimed call).
PAIRED_BURST = 3
# Percentile of the reference's window timings that sets the common scale (its fast-regime speed).
REFERENCE_SCALE_PERCENTILE = 10


class MeasuredNetworks(list["UnitTiming"]):
    """Timings of whole networks, in order, with the reference's p10 (ms) they were scaled to (`scale_ms`; None
    when timed alone), and, when paired, their own unscaled timings (`raw`) and the reference's median window p10
    (`reference_window_ms`)."""

    scale_ms: float | None = None
    raw: list[UnitTiming] | None = None
    reference_window_ms: float | None = None


class Interleaved(NamedTuple):
    """What time_interleaved measured: per model the raw and the scaled statistics, the common scale, and the
    reference's median window p10 (None without a reference; over `scale_ms`: how much slower the host ran)."""

    raw: list[UnitTiming]
    scaled: list[UnitTiming]
    scale_ms: float | None
    reference_window_ms: float | None = None


@dataclass(frozen=True)
class NetworkTiming:
    """How whole networks are timed: `rounds` round-robin passes, each with `per_round` timing settings."""

    rounds: int
    per_round: TimingSpec


def default_network_timing(timing: TimingSpec, rounds: int = 5) -> NetworkTiming:
    """Spread the target's measuring time over `rounds` passes (each ≥ 20 ms and ≥ 10 runs)."""
    from hwnat.config.targets import TimingSpec

    per_round = TimingSpec(warmup=max(2, timing.warmup // 2), min_runs=max(10, timing.min_runs // rounds),
                           min_time_s=max(0.02, timing.min_time_s / 2), statistic=timing.statistic)
    return NetworkTiming(rounds, per_round)


def export_networks(space: SearchSpace, archs: Sequence[Arch], folder: Path, batch: int,
                    progress: bool) -> list[ModelSource]:
    """Build each arch as a freshly initialised static network and export it to ONNX in `folder`."""
    import torch

    from hwnat.backends.onnx_export import export_onnx
    from hwnat.models import build_static

    sources = []
    with single_threaded_torch(), progress_bar(len(archs), "exporting networks", progress, unit="net") as bar:
        for i, arch in enumerate(archs):
            torch.manual_seed(i)
            shape = (batch, 3, arch.resolution, arch.resolution)
            path = export_onnx(build_static(space, arch), shape, folder / f"net{i}.onnx")
            sources.append(ModelSource(shape, onnx_path=path))
            bar.update(1)
    return sources


def export_reference(space: SearchSpace, folder: Path, batch: int) -> tuple[str, Path, int]:
    """The space's reference subnet (`mid_arch`, the one paired timing alternates with) exported to ONNX in
    `folder` as tables export it: (family, model file, resolution), an artifact for time_artifacts."""
    from hwnat.space import mid_arch

    arch = mid_arch(space)
    source, = export_networks(space, [arch], folder, batch, progress=False)
    return "onnx", Path(str(source.onnx_path)), arch.resolution


def measure_networks(backend: Backend, space: SearchSpace, archs: Sequence[Arch], timing: NetworkTiming, *,
                     seed: int = 0, progress: bool = True, recompile: bool = True,
                     paired: bool = True, scale_ms: float | None = None) -> MeasuredNetworks:
    """End-to-end timings of `archs` (in order), measured interleaved over `timing.rounds` rounds (compiled
    afresh each round unless `recompile` is False); each statistic is the median over rounds.

    `paired` (for latency tables): each network is timed in bursts alternating with the space's reference
    subnet (`mid_arch`) and scaled by (the reference's fast-regime speed over the session) / (the reference in
    the same window), so that the host's speed regimes cancel; `scale_ms` fixes that speed instead (a table
    calibration's `reference_ms`: timings at the speed the table was calibrated at). Otherwise the network alone,
    back to back, unscaled (how it runs when deployed)."""
    from hwnat.space import mid_arch

    with tempfile.TemporaryDirectory(prefix="hwnat-nets-") as tmp:
        sources = export_networks(space, [*archs, mid_arch(space)] if paired else archs, Path(tmp),
                                  backend.spec.batch, progress)
        loaders = [lambda s=s: backend.compile(s) for s in sources]
        reference = loaders.pop() if paired else None
        timed = time_interleaved(loaders, [s.input_shape for s in sources[:len(loaders)]], timing, seed=seed,
                                 progress=progress, recompile=recompile, reference=reference, scale_ms=scale_ms)
    out = MeasuredNetworks(timed.scaled if paired else timed.raw)
    out.scale_ms = timed.scale_ms
    out.raw = timed.raw if paired else None
    out.reference_window_ms = timed.reference_window_ms
    return out


def time_paired(model: CompiledModel, x: np.ndarray, reference: CompiledModel, ref_x: np.ndarray,
                timing: TimingSpec, burst: int = PAIRED_BURST) -> tuple[list[float], list[float]]:
    """Seconds per call of `model` and of `reference`, timed in alternating bursts (one untimed call, then
    `burst` timed ones, each through the backend's own `time_calls`) after `timing.warmup` calls of both, until
    `model` has ≥ min_runs calls and ≥ min_time_s seconds. Bursts last milliseconds, the host's speed regimes
    seconds: both see the same machine."""
    from hwnat.config.targets import TimingSpec

    warm, one_burst = TimingSpec(timing.warmup, 0, 0.0), TimingSpec(1, burst, 0.0)
    reference.time_calls(ref_x, warm)
    model.time_calls(x, warm)
    samples: list[float] = []
    ref_samples: list[float] = []
    while len(samples) < timing.min_runs or sum(samples) < timing.min_time_s:
        ref_samples += reference.time_calls(ref_x, one_burst)
        samples += model.time_calls(x, one_burst)
    return samples, ref_samples


def time_interleaved(loaders: Sequence[Callable[[], CompiledModel]],
                     input_shapes: Sequence[tuple[int, ...]], timing: NetworkTiming, *, seed: int = 0,
                     progress: bool = True, recompile: bool = True,
                     reference: Callable[[], CompiledModel] | None = None, title: str = "timing networks",
                     scale_ms: float | None = None) -> Interleaved:
    """Time already-built models (each `loaders[i]()` compiles one) round-robin in a shuffled order per round;
    returns per model the raw statistics and the ones scaled by the reference (equal to raw without one), each
    the median over rounds. With a `reference` (compiled once), every window is timed by `time_paired` and
    scaled by (REFERENCE_SCALE_PERCENTILE of the reference's p10 over all windows, or `scale_ms` when given) / (its
    p10 in that window), the median of those window p10s kept as `reference_window_ms`."""
    from hwnat.latency.probe import normalise
    from hwnat.latency.timing import combine_passes

    rng = np.random.default_rng(seed)
    rounds: list[list[tuple[UnitTiming, float | None]]] = [[] for _ in loaders]
    ref_model = reference() if reference is not None and loaders else None
    compiled: list[CompiledModel | None] = [load() for load in loaders]
    inputs = [rng.standard_normal(shape).astype(np.float32) for shape in input_shapes]
    ref_x = rng.standard_normal(ref_model.input_shape).astype(np.float32) if ref_model is not None else None
    with progress_bar(timing.rounds * len(loaders), title, progress, unit="net") as bar:
        for r in range(timing.rounds):
            for i in rng.permutation(len(loaders)):
                model = compiled[i] if (r == 0 or not recompile) else loaders[i]()
                assert model is not None
                if ref_model is None or ref_x is None:
                    stats, ref_ms = UnitTiming.from_seconds(model.time_calls(inputs[i], timing.per_round)), None
                else:
                    samples, ref_samples = time_paired(model, inputs[i], ref_model, ref_x, timing.per_round)
                    stats, ref_ms = UnitTiming.from_seconds(samples), UnitTiming.from_seconds(ref_samples).p10_ms
                rounds[i].append((stats, ref_ms))
                compiled[i] = None if recompile else model
                bar.update(1)
    samples_ms = [p for r in rounds for _, p in r if p is not None]
    scale = (scale_ms if scale_ms is not None else float(np.percentile(samples_ms, REFERENCE_SCALE_PERCENTILE))
             if samples_ms else None)
    raw = [combine_passes([s for s, _ in r]) for r in rounds]
    scaled = [combine_passes([normalise(s, p, scale) for s, p in r]) for r in rounds]
    return Interleaved(raw, scaled, scale, float(np.median(samples_ms)) if samples_ms else None)
