"""Load an artifact into its runtime through hwnat.backends (one loader per format family) and run it on images."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from hwnat.backends.base import Backend, CompiledModel, ModelSource, create_backend

if TYPE_CHECKING:
    from hwnat.config.targets import TargetSpec
    from hwnat.latency.networks import Interleaved


def _torch(backend: Backend, model_file: Path, input_shape: tuple[int, ...]) -> CompiledModel:
    from hwnat.models.checkpoint import load_subnet

    return backend.compile(ModelSource(tuple(input_shape), module=load_subnet(model_file)[0]))


def _onnx_like(backend: Backend, model_file: Path, input_shape: tuple[int, ...]) -> CompiledModel:
    return backend.compile(ModelSource(tuple(input_shape), onnx_path=model_file))


def _engine(backend: Backend, model_file: Path, input_shape: tuple[int, ...]) -> CompiledModel:
    """The saved plan deserialised as it is (not rebuilt from the ONNX)."""
    from hwnat.backends.tensorrt import TensorRTCompiled, import_cudart, import_tensorrt

    return TensorRTCompiled(import_tensorrt(), import_cudart(), model_file.read_bytes(), tuple(input_shape),
                            str(model_file))


LOADERS: dict[str, Callable[[Backend, Path, tuple[int, ...]], CompiledModel]] = {
    "torch": _torch, "onnx": _onnx_like, "openvino": _onnx_like, "tensorrt": _engine,
}


def load_artifact(family: str, model_file: Path, target: TargetSpec,
                  input_shape: tuple[int, ...]) -> tuple[Backend, CompiledModel]:
    """The target's backend and the artifact compiled in it (RuntimeUnavailableError when the runtime is missing)."""
    backend = create_backend(target)
    return backend, LOADERS[family](backend, Path(model_file), input_shape)


def run_all(compiled: CompiledModel, images: np.ndarray) -> np.ndarray:
    """Logits (N, classes) float32 of one call per image (artifacts have batch 1)."""
    return np.concatenate([np.asarray(compiled.run(images[i:i + 1]), dtype=np.float32).reshape(1, -1)
                           for i in range(len(images))])


def time_artifacts(target: TargetSpec, artifacts: Sequence[tuple[str, Path, int]], rounds: int, *, seed: int = 0,
                   progress: bool = False, title: str = "timing artifacts",
                   reference: tuple[str, Path, int] | None = None, scale_ms: float | None = None) -> Interleaved:
    """Each (family, model_file, resolution) timed on `target` in `rounds` round-robin passes in a shuffled order,
    compiled afresh each round; per artifact the median over rounds of its statistics. The target's timing
    settings are spread over the rounds, so that a speed regime of the host that lasts seconds does not decide a
    whole measurement. Alone and back to back (as deployed: `raw`), or with a `reference` artifact in bursts
    alternating with it, `scaled` then holding the statistics scaled to the reference's fast regime over the run
    (as latency tables time networks: hwnat.latency.networks.time_interleaved), or to its p10 `scale_ms`."""
    from hwnat.latency.networks import default_network_timing, time_interleaved

    backend = create_backend(target)

    def loader(family: str, file: Path, res: int) -> Callable[[], CompiledModel]:
        return lambda: LOADERS[family](backend, Path(file), (target.batch, 3, int(res), int(res)))

    return time_interleaved([loader(*a) for a in artifacts],
                            [(target.batch, 3, int(res), int(res)) for _, _, res in artifacts],
                            default_network_timing(target.timing, rounds), seed=seed, progress=progress, title=title,
                            reference=None if reference is None else loader(*reference), scale_ms=scale_ms)
