"""Load an artifact into its runtime through hwnat.backends (one loader per format family) and run it on images."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from hwnat.backends.base import Backend, CompiledModel, ModelSource, create_backend

if TYPE_CHECKING:
    from hwnat.config.targets import TargetSpec


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
