"""End-to-end timing of whole subnets, interleaved: all are exported and compiled first, then timed round-robin
for several rounds (the order shuffled per round) so that drift of a shared, noisy machine hits all of them
alike. Each round compiles every subnet afresh (by default): OpenVINO's speed differs from one compilation of
the same model to the next by up to 1.7× (bimodal), so a subnet's latency is taken over several compilations,
as a table's entries are over several passes."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

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


def measure_networks(backend: Backend, space: SearchSpace, archs: Sequence[Arch], timing: NetworkTiming, *,
                     seed: int = 0, progress: bool = True, recompile: bool = True,
                     use_probe: bool = True) -> list[UnitTiming]:
    """End-to-end timings of `archs` (in order), measured interleaved over `timing.rounds` rounds (compiled
    afresh each round unless `recompile` is False), each scaled by the speed probe sampled just before it
    (hwnat.latency.probe); each statistic is the median over rounds."""
    with tempfile.TemporaryDirectory(prefix="hwnat-nets-") as tmp:
        sources = export_networks(space, archs, Path(tmp), backend.spec.batch, progress)
        loaders = [lambda s=s: backend.compile(s) for s in sources]
        raw, scaled = time_interleaved(backend, loaders, [s.input_shape for s in sources], timing, seed=seed,
                                       progress=progress, recompile=recompile, use_probe=use_probe,
                                       probe_dir=Path(tmp))
    return scaled if use_probe else raw


def time_interleaved(backend: Backend, loaders: Sequence[Callable[[], CompiledModel]],
                     input_shapes: Sequence[tuple[int, ...]], timing: NetworkTiming, *, seed: int = 0,
                     progress: bool = True, recompile: bool = True, use_probe: bool = True,
                     probe_dir: Path | None = None, title: str = "timing networks",
                     ) -> tuple[list[UnitTiming], list[UnitTiming]]:
    """Time already-built models (each `loaders[i]()` compiles one) round-robin in a shuffled order per round;
    returns per model the raw statistics and the ones scaled by the speed probe (equal to raw without a probe),
    each the median over rounds."""
    from hwnat.latency.probe import SpeedProbe, normalise
    from hwnat.latency.timing import combine_passes

    rng = np.random.default_rng(seed)
    rounds: list[list[tuple[UnitTiming, float | None]]] = [[] for _ in loaders]
    with tempfile.TemporaryDirectory(prefix="hwnat-probe-") as own_dir:
        probe = SpeedProbe(backend, probe_dir or Path(own_dir)) if use_probe and loaders else None
        compiled: list[CompiledModel | None] = [load() for load in loaders]
        inputs = [rng.standard_normal(shape).astype(np.float32) for shape in input_shapes]
        with progress_bar(timing.rounds * len(loaders), title, progress, unit="net") as bar:
            for r in range(timing.rounds):
                for i in rng.permutation(len(loaders)):
                    model = compiled[i] if (r == 0 or not recompile) else loaders[i]()
                    assert model is not None
                    probe_ms = probe.sample() if probe is not None else None
                    stats = UnitTiming.from_seconds(model.time_calls(inputs[i], timing.per_round))
                    rounds[i].append((stats, probe_ms))
                    compiled[i] = None if recompile else model
                    bar.update(1)
    samples = [p for r in rounds for _, p in r if p is not None]
    median = float(np.median(samples)) if samples else None
    raw = [combine_passes([s for s, _ in r]) for r in rounds]
    scaled = [combine_passes([normalise(s, p, median) for s, p in r]) for r in rounds]
    return raw, scaled
