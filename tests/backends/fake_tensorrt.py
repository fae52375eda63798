"""Fake `tensorrt` and `cuda.bindings.runtime` modules that record every call, for tests without NVIDIA's stack.

The fake device memory is real host memory, so copies move bytes; the fake engine writes, for each output
element, the sum of the input, and each CUDA event pair reports the next of EVENT_MS.
"""

from __future__ import annotations

import ctypes
import enum
import importlib.machinery
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import ModuleType, SimpleNamespace
from typing import Any

import numpy as np

EVENT_MS = (0.5, 0.1, 0.3, 0.2, 0.4)
INPUT_SHAPE = (1, 3, 32, 32)
OUTPUT_SHAPE = (1, 10)


@dataclass
class Calls:
    """The calls made on the fake modules, in order, as (name, args)."""

    log: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    parse_ok: bool = True
    build_ok: bool = True
    fail: str = ""

    def __call__(self, name: str, *args: Any) -> None:
        self.log.append((name, args))

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.log]

    def args(self, name: str) -> list[tuple[Any, ...]]:
        return [args for n, args in self.log if n == name]


class DataType(enum.IntEnum):
    FLOAT = 0
    HALF = 1


class TensorIOMode(enum.IntEnum):
    NONE = 0
    INPUT = 1
    OUTPUT = 2


class NetworkDefinitionCreationFlag(enum.IntEnum):
    EXPLICIT_BATCH = 0
    STRONGLY_TYPED = 1


class MemoryPoolType(enum.IntEnum):
    WORKSPACE = 0


class BuilderFlag(enum.IntEnum):
    FP16 = 0
    INT8 = 1


class CudaError(enum.IntEnum):
    cudaSuccess = 0
    cudaErrorMemoryAllocation = 2


class CudaMemcpyKind(enum.IntEnum):
    cudaMemcpyHostToDevice = 1
    cudaMemcpyDeviceToHost = 2


def _module(name: str, **attrs: Any) -> ModuleType:
    module = ModuleType(name)
    module.__spec__ = importlib.machinery.ModuleSpec(name, None)
    module.__dict__.update(attrs)
    return module


def _float_view(address: int, shape: tuple[int, ...]) -> np.ndarray:
    n = int(np.prod(shape))
    return np.ctypeslib.as_array((ctypes.c_float * n).from_address(address)).reshape(shape)


def make_modules(calls: Calls) -> dict[str, ModuleType]:
    """The fake `tensorrt`, `cuda`, `cuda.bindings` and `cuda.bindings.runtime` modules, recording into `calls`."""
    memory: dict[int, ctypes.Array] = {}
    streams = itertools.count(1)
    events = itertools.count(1)
    event_ms: Iterator[float] = itertools.cycle(EVENT_MS)
    shapes = {"input": INPUT_SHAPE, "output": OUTPUT_SHAPE}

    class Logger:
        WARNING = 2

        def __init__(self, severity: int) -> None:
            self.severity = severity

    class Network:
        pass

    class ParserError:
        def __str__(self) -> str:
            return "In node 0: unsupported operator FancyOp"

    class OnnxParser:
        def __init__(self, network: Network, logger: Logger) -> None:
            calls("OnnxParser", network, logger)
            self.num_errors = 0

        def parse(self, model: bytes, path: str | None = None) -> bool:
            calls("parse", bytes(model), path)
            self.num_errors = 0 if calls.parse_ok else 2
            return calls.parse_ok

        def get_error(self, i: int) -> ParserError:
            return ParserError()

    class BuilderConfig:
        def set_memory_pool_limit(self, pool: MemoryPoolType, size: int) -> None:
            calls("set_memory_pool_limit", pool, size)

        def set_flag(self, flag: BuilderFlag) -> None:
            calls("set_flag", flag)

        @property
        def builder_optimization_level(self) -> int:
            return self._level

        @builder_optimization_level.setter
        def builder_optimization_level(self, level: int) -> None:
            calls("builder_optimization_level", level)
            self._level = level

    class Builder:
        def __init__(self, logger: Logger) -> None:
            calls("Builder", logger.severity)

        def create_network(self, flags: int) -> Network:
            calls("create_network", flags)
            return Network()

        def create_builder_config(self) -> BuilderConfig:
            calls("create_builder_config")
            return BuilderConfig()

        def build_serialized_network(self, network: Network, config: BuilderConfig) -> bytearray | None:
            calls("build_serialized_network", network, config)
            return bytearray(b"fake-plan") if calls.build_ok else None

    class Context:
        def __init__(self) -> None:
            self.addresses: dict[str, int] = {}

        def set_input_shape(self, name: str, shape: tuple[int, ...]) -> bool:
            calls("set_input_shape", name, tuple(shape))
            return True

        def get_tensor_shape(self, name: str) -> tuple[int, ...]:
            return shapes[name]

        def set_tensor_address(self, name: str, address: int) -> bool:
            calls("set_tensor_address", name, address)
            self.addresses[name] = address
            return True

        def execute_async_v3(self, stream: str) -> bool:
            calls("execute_async_v3", stream)
            total = _float_view(self.addresses["input"], INPUT_SHAPE).sum()
            _float_view(self.addresses["output"], OUTPUT_SHAPE)[...] = total
            return True

    class Engine:
        num_io_tensors = 2

        def get_tensor_name(self, i: int) -> str:
            return ("input", "output")[i]

        def get_tensor_mode(self, name: str) -> TensorIOMode:
            return TensorIOMode.INPUT if name == "input" else TensorIOMode.OUTPUT

        def get_tensor_shape(self, name: str) -> tuple[int, ...]:
            return shapes[name]

        def get_tensor_dtype(self, name: str) -> DataType:
            return DataType.FLOAT

        def create_execution_context(self) -> Context:
            calls("create_execution_context")
            return Context()

    class Runtime:
        def __init__(self, logger: Logger) -> None:
            calls("Runtime", logger.severity)

        def deserialize_cuda_engine(self, plan: bytes) -> Engine:
            calls("deserialize_cuda_engine", bytes(plan))
            return Engine()

    def nptype(dtype: DataType) -> type:
        return {DataType.FLOAT: np.float32, DataType.HALF: np.float16}[dtype]

    def result(name: str, *args: Any, value: Any = None) -> tuple[Any, ...]:
        calls(name, *args)
        err = CudaError.cudaErrorMemoryAllocation if calls.fail == name else CudaError.cudaSuccess
        return (err,) if value is None else (err, value)

    def cudaMalloc(nbytes: int) -> tuple[Any, ...]:
        buffer = ctypes.create_string_buffer(nbytes)
        address = ctypes.addressof(buffer)
        memory[address] = buffer
        return result("cudaMalloc", nbytes, value=address)

    def cudaMemcpyAsync(dst: int, src: int, nbytes: int, kind: CudaMemcpyKind, stream: str) -> tuple[Any, ...]:
        ctypes.memmove(dst, src, nbytes)
        return result("cudaMemcpyAsync", dst, src, nbytes, kind, stream)

    def cudaGetDeviceProperties(device: int) -> tuple[Any, ...]:
        return result("cudaGetDeviceProperties", device, value=SimpleNamespace(name=b"Fake GPU 80GB\x00\x00"))

    runtime = _module(
        "cuda.bindings.runtime",
        cudaError_t=CudaError,
        cudaMemcpyKind=CudaMemcpyKind,
        cudaMalloc=cudaMalloc,
        cudaMemcpyAsync=cudaMemcpyAsync,
        cudaFree=lambda ptr: result("cudaFree", ptr),
        cudaStreamCreate=lambda: result("cudaStreamCreate", value=f"stream{next(streams)}"),
        cudaStreamSynchronize=lambda stream: result("cudaStreamSynchronize", stream),
        cudaStreamDestroy=lambda stream: result("cudaStreamDestroy", stream),
        cudaEventCreate=lambda: result("cudaEventCreate", value=f"event{next(events)}"),
        cudaEventRecord=lambda event, stream: result("cudaEventRecord", event, stream),
        cudaEventSynchronize=lambda event: result("cudaEventSynchronize", event),
        cudaEventElapsedTime=lambda begin, end: result("cudaEventElapsedTime", begin, end, value=next(event_ms)),
        cudaEventDestroy=lambda event: result("cudaEventDestroy", event),
        cudaGetDevice=lambda: result("cudaGetDevice", value=0),
        cudaGetDeviceProperties=cudaGetDeviceProperties,
    )
    bindings = _module("cuda.bindings", runtime=runtime)
    cuda = _module("cuda", bindings=bindings)
    cuda.__path__ = []
    bindings.__path__ = []
    tensorrt = _module(
        "tensorrt",
        __version__="10.9.0.34",
        Logger=Logger,
        Builder=Builder,
        OnnxParser=OnnxParser,
        Runtime=Runtime,
        DataType=DataType,
        TensorIOMode=TensorIOMode,
        NetworkDefinitionCreationFlag=NetworkDefinitionCreationFlag,
        MemoryPoolType=MemoryPoolType,
        BuilderFlag=BuilderFlag,
        nptype=nptype,
    )
    return {"tensorrt": tensorrt, "cuda": cuda, "cuda.bindings": bindings, "cuda.bindings.runtime": runtime}
