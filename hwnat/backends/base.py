"""The one interface every runtime backend implements: availability, compile, run, timed measurement."""

from __future__ import annotations

import platform
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from hwnat.backends.registry import Availability, get_runtime
from hwnat.errors import ConfigError, RuntimeUnavailableError

if TYPE_CHECKING:
    from torch import nn

    from hwnat.config.targets import TargetSpec, TimingSpec


@dataclass(frozen=True)
class TimingStats:
    """Robust statistics of repeated timed calls, in milliseconds."""

    p50_ms: float
    p90_ms: float
    mean_ms: float
    std_ms: float
    n: int

    @classmethod
    def from_seconds(cls, samples: list[float] | np.ndarray) -> TimingStats:
        ms = np.asarray(samples, dtype=np.float64) * 1e3
        if ms.size == 0:
            raise ValueError("no timing samples")
        return cls(float(np.percentile(ms, 50)), float(np.percentile(ms, 90)), float(ms.mean()),
                   float(ms.std(ddof=1)) if ms.size > 1 else 0.0, int(ms.size))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TimingStats:
        return cls(float(d["p50_ms"]), float(d["p90_ms"]), float(d["mean_ms"]), float(d["std_ms"]), int(d["n"]))


@dataclass(frozen=True)
class ModelSource:
    """What a backend compiles: an ONNX file (every runtime but torch) and/or the torch module it came from."""

    input_shape: tuple[int, ...]
    onnx_path: Path | None = None
    module: nn.Module | None = None


class CompiledModel(ABC):
    """A model loaded in a runtime, ready to run on numpy float32 inputs of a fixed shape."""

    input_shape: tuple[int, ...]

    @abstractmethod
    def run(self, x: np.ndarray) -> np.ndarray:
        """Outputs for one input batch (the first output when the model has several)."""

    def bind(self, x: np.ndarray) -> Callable[[], object]:
        """A no-argument call that runs the model on `x`, with the one-off work (binding the input) done here."""
        return lambda: self.run(x)

    def time_calls(self, x: np.ndarray, timing: TimingSpec) -> list[float]:
        """Seconds per call of bind(x): `warmup` untimed calls, then ≥ min_runs calls and ≥ min_time_s seconds."""
        call = self.bind(x)
        for _ in range(timing.warmup):
            call()
        samples: list[float] = []
        start = time.perf_counter()
        while len(samples) < timing.min_runs or time.perf_counter() - start < timing.min_time_s:
            t0 = time.perf_counter()
            call()
            samples.append(time.perf_counter() - t0)
        return samples


class Backend(ABC):
    """A runtime on a device, configured by a TargetSpec. Subclasses import their runtime lazily."""

    runtime: ClassVar[str]

    def __init__(self, spec: TargetSpec) -> None:
        if spec.runtime != self.runtime:
            raise ConfigError(f"target {spec.name!r} uses runtime {spec.runtime!r}, not {self.runtime!r}")
        ok, reason = self.availability()
        if not ok:
            raise RuntimeUnavailableError(f"target {spec.name!r} cannot run here: {reason}")
        self.spec = spec

    @classmethod
    def availability(cls) -> Availability:
        return get_runtime(cls.runtime).availability()

    @abstractmethod
    def compile(self, source: ModelSource) -> CompiledModel:
        """Load/compile the model for this target's device, precision and threads."""

    @abstractmethod
    def runtime_version(self) -> str:
        """The runtime's version string (part of a latency table's target fingerprint)."""

    def device_name(self) -> str:
        """The CPU (or GPU) model the measurements run on."""
        return cpu_model()

    def measure(self, compiled: CompiledModel, seed: int = 0) -> TimingStats:
        """Time `compiled` on a random input of its shape with the target's timing settings."""
        x = np.random.default_rng(seed).standard_normal(compiled.input_shape).astype(np.float32)
        return TimingStats.from_seconds(compiled.time_calls(x, self.spec.timing))


def onnx_file(source: ModelSource, runtime: str) -> Path:
    """The source's ONNX path, or ConfigError when it has none or the file does not exist."""
    if source.onnx_path is None:
        raise ConfigError(f"the {runtime} runtime compiles an ONNX model: ModelSource.onnx_path is not set")
    path = Path(source.onnx_path)
    if not path.is_file():
        raise ConfigError(f"ONNX file not found: {path}")
    return path


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo, else platform.processor()."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def create_backend(spec: TargetSpec) -> Backend:
    """The backend of the target's runtime (RuntimeUnavailableError naming the package when it is missing)."""
    return get_runtime(spec.runtime).backend_class()(spec)
