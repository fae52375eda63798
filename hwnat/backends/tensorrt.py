"""TensorRT ≥ 10 backend: ONNX → engine (strongly typed), device buffers through cuda-python, CUDA-event timing."""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from hwnat.backends.base import Backend, CompiledModel, ModelSource, onnx_file
from hwnat.errors import ConfigError, HwnatError, RuntimeUnavailableError

if TYPE_CHECKING:
    from hwnat.config.targets import TimingSpec

INSTALL = "pip install 'hwnat[tensorrt]'"


class CudaError(HwnatError):
    """A CUDA runtime call returned an error."""


def import_tensorrt() -> ModuleType:
    """The tensorrt module (≥ 10), or RuntimeUnavailableError naming the package to install."""
    try:
        import tensorrt as trt
    except ImportError as exc:
        raise RuntimeUnavailableError(f"tensorrt is not installed: {INSTALL}") from exc
    major = int(str(trt.__version__).split(".")[0])
    if major < 10:
        raise RuntimeUnavailableError(f"TensorRT {trt.__version__} is too old: hwnat needs ≥ 10 ({INSTALL})")
    return trt


def import_cudart() -> ModuleType:
    """cuda-python's runtime API module (cuda.bindings.runtime, or cuda.cudart before cuda-python 12.6)."""
    try:
        from cuda.bindings import runtime as cudart
    except ImportError:
        try:
            from cuda import cudart
        except ImportError as exc:
            raise RuntimeUnavailableError(f"cuda-python is not installed: {INSTALL}") from exc
    return cudart


def cuda_call(cudart: ModuleType, result: tuple[Any, ...], what: str) -> Any:
    """The value of a cuda-python call's (error, value...) result, or CudaError naming the call."""
    err, *values = result
    if err != cudart.cudaError_t.cudaSuccess:
        raise CudaError(f"CUDA {what} failed: {err}")
    return values[0] if len(values) == 1 else tuple(values) or None


class TensorRTCompiled(CompiledModel):
    """An engine with its execution context, one stream and one device buffer per I/O tensor, bound by name.

    time_calls times compute only (input copied once, outputs left on the device): the median of per-call
    CUDA-event times, like trtexec's "GPU Compute Time".
    """

    def __init__(self, trt: ModuleType, cudart: ModuleType, plan: bytes, input_shape: tuple[int, ...],
                 source: str) -> None:
        self.trt, self.cudart, self.source = trt, cudart, source
        self.input_shape = input_shape
        self.logger = trt.Logger(trt.Logger.WARNING)
        self.runtime = trt.Runtime(self.logger)
        self.engine = self.runtime.deserialize_cuda_engine(plan)
        if self.engine is None:
            raise ConfigError(f"{source}: TensorRT cannot deserialize the engine it built")
        self.context = self.engine.create_execution_context()
        self.stream = self._cuda(cudart.cudaStreamCreate(), "cudaStreamCreate")
        self.buffers: dict[str, int] = {}
        self.host: dict[str, np.ndarray] = {}
        self.inputs: list[str] = []
        self.outputs: list[str] = []
        for i in range(self.engine.num_io_tensors):
            name = self.engine.get_tensor_name(i)
            is_input = self.engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT
            (self.inputs if is_input else self.outputs).append(name)
            if is_input and any(d < 0 for d in self.engine.get_tensor_shape(name)):
                self.context.set_input_shape(name, input_shape)
        if len(self.inputs) != 1:
            raise ConfigError(f"{source}: the engine has {len(self.inputs)} inputs; hwnat runs single-input models")
        for name in (*self.inputs, *self.outputs):
            shape = tuple(self.context.get_tensor_shape(name))
            array = np.empty(shape, dtype=trt.nptype(self.engine.get_tensor_dtype(name)))
            self.host[name] = array
            self.buffers[name] = self._cuda(cudart.cudaMalloc(max(array.nbytes, 1)), f"cudaMalloc({name})")
            self.context.set_tensor_address(name, int(self.buffers[name]))
        bound = self.host[self.inputs[0]].shape
        if tuple(bound) != input_shape:
            raise ConfigError(f"{source}: the engine takes input shape {tuple(bound)}, not {input_shape}")

    def _cuda(self, result: tuple[Any, ...], what: str) -> Any:
        return cuda_call(self.cudart, result, what)

    def _copy(self, dst: int, src: int, nbytes: int, kind: str) -> None:
        cudart = self.cudart
        self._cuda(cudart.cudaMemcpyAsync(dst, src, nbytes, getattr(cudart.cudaMemcpyKind, kind), self.stream),
                   "cudaMemcpyAsync")

    def _execute(self) -> None:
        if not self.context.execute_async_v3(self.stream):
            raise CudaError(f"{self.source}: TensorRT execute_async_v3 failed")

    def bind(self, x: np.ndarray) -> Callable[[], object]:
        name = self.inputs[0]
        host = self.host[name]
        if tuple(x.shape) != host.shape:
            raise ConfigError(f"{self.source}: input of shape {tuple(x.shape)}, the engine takes {host.shape}")
        np.copyto(host, x, casting="same_kind")
        self._copy(self.buffers[name], host.ctypes.data, host.nbytes, "cudaMemcpyHostToDevice")
        return self._execute

    def run(self, x: np.ndarray) -> np.ndarray:
        self.bind(x)()
        out = self.host[self.outputs[0]]
        self._copy(out.ctypes.data, self.buffers[self.outputs[0]], out.nbytes, "cudaMemcpyDeviceToHost")
        self._cuda(self.cudart.cudaStreamSynchronize(self.stream), "cudaStreamSynchronize")
        return out.astype(np.float32)

    def time_calls(self, x: np.ndarray, timing: TimingSpec) -> list[float]:
        cudart = self.cudart
        call = self.bind(x)
        for _ in range(timing.warmup):
            call()
        self._cuda(cudart.cudaStreamSynchronize(self.stream), "cudaStreamSynchronize")
        begin = self._cuda(cudart.cudaEventCreate(), "cudaEventCreate")
        end = self._cuda(cudart.cudaEventCreate(), "cudaEventCreate")
        samples: list[float] = []
        try:
            start = time.perf_counter()
            while len(samples) < timing.min_runs or time.perf_counter() - start < timing.min_time_s:
                self._cuda(cudart.cudaEventRecord(begin, self.stream), "cudaEventRecord")
                call()
                self._cuda(cudart.cudaEventRecord(end, self.stream), "cudaEventRecord")
                self._cuda(cudart.cudaEventSynchronize(end), "cudaEventSynchronize")
                ms = self._cuda(cudart.cudaEventElapsedTime(begin, end), "cudaEventElapsedTime")
                samples.append(float(ms) * 1e-3)
        finally:
            cudart.cudaEventDestroy(begin)
            cudart.cudaEventDestroy(end)
        return samples

    def close(self) -> None:
        """Free the device buffers and the stream (also done when the object is collected)."""
        buffers, self.buffers = getattr(self, "buffers", {}), {}
        for ptr in buffers.values():
            self.cudart.cudaFree(ptr)
        stream = getattr(self, "stream", None)
        if stream is not None:
            self.cudart.cudaStreamDestroy(stream)
            self.stream = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass


class TensorRTBackend(Backend):
    runtime = "tensorrt"

    def build_engine(self, onnx_path: str | Path) -> bytes:
        """Parse the ONNX file and build a serialized engine (the plan) with the target's builder settings."""
        trt = import_tensorrt()
        path = Path(onnx_path)
        opt = self.spec.options
        logger = trt.Logger(trt.Logger.WARNING)
        builder = trt.Builder(logger)
        flags = 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED) if opt["strongly_typed"] else 0
        network = builder.create_network(flags)
        parser = trt.OnnxParser(network, logger)
        if not parser.parse(path.read_bytes(), str(path)):
            errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors)) or "no details"
            raise ConfigError(f"{path}: TensorRT cannot parse the ONNX model: {errors}")
        config = builder.create_builder_config()
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, opt["workspace_mb"] << 20)
        config.builder_optimization_level = opt["builder_optimization_level"]
        if not opt["strongly_typed"] and self.spec.precision in ("fp16", "int8"):
            config.set_flag(trt.BuilderFlag.FP16 if self.spec.precision == "fp16" else trt.BuilderFlag.INT8)
        plan = builder.build_serialized_network(network, config)
        if plan is None:
            raise ConfigError(f"{path}: TensorRT failed to build an engine (see its log above)")
        return bytes(plan)

    def compile(self, source: ModelSource) -> TensorRTCompiled:
        path = onnx_file(source, self.runtime)
        plan = self.build_engine(path)
        return TensorRTCompiled(import_tensorrt(), import_cudart(), plan, tuple(source.input_shape), str(path))

    def save_engine(self, onnx_path: str | Path, engine_path: str | Path) -> Path:
        """Build the engine of an ONNX file and write its plan to engine_path."""
        engine_path = Path(engine_path)
        engine_path.write_bytes(self.build_engine(onnx_path))
        return engine_path

    def trtexec_command(self, onnx_path: str | Path, engine_path: str | Path | None = None) -> str:
        """The trtexec command line that builds the same engine as build_engine."""
        opt = self.spec.options
        engine = Path(engine_path) if engine_path is not None else Path(onnx_path).with_suffix(".engine")
        args = ["trtexec", f"--onnx={onnx_path}", f"--saveEngine={engine}"]
        if opt["strongly_typed"]:
            args.append("--stronglyTyped")
        elif self.spec.precision in ("fp16", "int8"):
            args.append(f"--{self.spec.precision}")
        args += [f"--memPoolSize=workspace:{opt['workspace_mb']}M",
                 f"--builderOptimizationLevel={opt['builder_optimization_level']}"]
        return shlex.join(args)

    def runtime_version(self) -> str:
        return str(import_tensorrt().__version__)

    def device_name(self) -> str:
        cudart = import_cudart()
        device = cuda_call(cudart, cudart.cudaGetDevice(), "cudaGetDevice")
        props = cuda_call(cudart, cudart.cudaGetDeviceProperties(device), "cudaGetDeviceProperties")
        name = props.name
        return (name.decode() if isinstance(name, bytes) else str(name)).rstrip("\x00")
