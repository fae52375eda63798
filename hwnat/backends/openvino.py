"""OpenVINO backend: the CPU plugin with an explicit precision hint and one reused infer request."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from hwnat.backends.base import Backend, CompiledModel, ModelSource, onnx_file
from hwnat.errors import ConfigError

if TYPE_CHECKING:
    import openvino

    from hwnat.config.targets import TargetSpec


class OpenVINOCompiled(CompiledModel):
    """A compiled model and its one infer request; the input tensor is set once per bind or run."""

    def __init__(self, compiled: openvino.CompiledModel, input_shape: tuple[int, ...], source: str) -> None:
        self.compiled = compiled
        self.request = compiled.create_infer_request()
        self.input_shape = input_shape
        self.source = source
        self.input_type = compiled.input(0).get_element_type().to_dtype()
        self._bound: np.ndarray | None = None

    def _bind_input(self, x: np.ndarray) -> None:
        import openvino as ov

        if tuple(x.shape) != self.input_shape:
            raise ConfigError(f"{self.source}: input of shape {tuple(x.shape)}, the model takes {self.input_shape}")
        array = np.ascontiguousarray(x, dtype=self.input_type)
        self.request.set_input_tensor(ov.Tensor(array, shared_memory=True))
        self._bound = array

    def bind(self, x: np.ndarray) -> Callable[[], object]:
        self._bind_input(x)
        return self.request.infer

    def run(self, x: np.ndarray) -> np.ndarray:
        self._bind_input(x)
        self.request.infer()
        return self.request.get_output_tensor(0).data.copy()


class OpenVINOBackend(Backend):
    runtime = "openvino"

    def __init__(self, spec: TargetSpec) -> None:
        super().__init__(spec)
        self._core: openvino.Core | None = None

    @property
    def core(self) -> openvino.Core:
        """One OpenVINO Core per backend, created on first use."""
        import openvino as ov

        if self._core is None:
            self._core = ov.Core()
        return self._core

    def compile_config(self) -> dict[str, str]:
        """CPU plugin properties from the target (f32 precision hint by default: bf16 on AMX changes outputs)."""
        opt = self.spec.options
        return {
            "INFERENCE_PRECISION_HINT": opt["inference_precision_hint"],
            "INFERENCE_NUM_THREADS": str(self.spec.threads),
            "PERFORMANCE_HINT": opt["performance_hint"],
            "NUM_STREAMS": str(opt["num_streams"]),
        }

    def compile(self, source: ModelSource) -> OpenVINOCompiled:
        path = onnx_file(source, self.runtime)
        try:
            compiled = self.core.compile_model(str(path), "CPU", self.compile_config())
        except RuntimeError as exc:
            raise ConfigError(f"{path}: OpenVINO cannot compile the model: {_first_lines(exc)}") from exc
        if len(compiled.inputs) != 1:
            raise ConfigError(f"{path}: the model has {len(compiled.inputs)} inputs; hwnat runs single-input models")
        declared = compiled.input(0).get_partial_shape()
        shape = tuple(source.input_shape)
        if declared.is_static and tuple(declared.to_shape()) != shape:
            raise ConfigError(f"{path}: the model takes input shape {tuple(declared.to_shape())}, not {shape}")
        return OpenVINOCompiled(compiled, shape, str(path))

    def runtime_version(self) -> str:
        import openvino as ov

        return ov.get_version()


def _first_lines(exc: BaseException, n: int = 6) -> str:
    lines = [line for line in str(exc).splitlines() if line.strip() and not line.startswith("Exception from src/")]
    return " ".join(lines[:n])
