"""TensorRT backend: the builder and runtime call sequence against a fake `tensorrt`, and the contract on a real GPU."""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from contract import BackendContract
from fake_tensorrt import EVENT_MS, INPUT_SHAPE, OUTPUT_SHAPE, Calls, CudaMemcpyKind, MemoryPoolType, make_modules

from hwnat.backends import registry
from hwnat.backends.base import ModelSource, create_backend
from hwnat.backends.tensorrt import CudaError, TensorRTBackend, TensorRTCompiled
from hwnat.config.targets import TargetSpec, TimingSpec, load_target
from hwnat.errors import ConfigError, RuntimeUnavailableError

EXACT_TIMING = TimingSpec(warmup=2, min_runs=5, min_time_s=0.0)


@pytest.mark.tensorrt
@pytest.mark.gpu
class TestTensorRT(BackendContract):
    target_name = "tensorrt-gpu"
    parity_atol = 1e-2


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Calls:
    recorded = Calls()
    for name, module in make_modules(recorded).items():
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setattr(registry, "cuda_gpu_present", lambda: (True, ""))
    return recorded


@pytest.fixture
def onnx_file(tmp_path: Path) -> Path:
    path = tmp_path / "block.onnx"
    path.write_bytes(b"\x08\x09pretend ONNX bytes")
    return path


def fake_target(**options: object) -> TargetSpec:
    spec = dataclasses.replace(load_target("tensorrt-gpu"), timing=EXACT_TIMING)
    return dataclasses.replace(spec, options={**spec.options, **options})


def compile_fake(onnx_file: Path, **options: object) -> tuple[TensorRTBackend, TensorRTCompiled]:
    backend = create_backend(fake_target(**options))
    assert isinstance(backend, TensorRTBackend)
    return backend, backend.compile(ModelSource(INPUT_SHAPE, onnx_path=onnx_file))


def test_builds_and_times_with_the_exact_call_sequence(calls: Calls, onnx_file: Path) -> None:
    backend, compiled = compile_fake(onnx_file)
    stats = backend.measure(compiled)
    timed = ["cudaEventRecord", "execute_async_v3", "cudaEventRecord", "cudaEventSynchronize", "cudaEventElapsedTime"]
    assert calls.names == [
        "Builder", "create_network", "OnnxParser", "parse", "create_builder_config", "set_memory_pool_limit",
        "builder_optimization_level", "build_serialized_network",
        "Runtime", "deserialize_cuda_engine", "create_execution_context", "cudaStreamCreate",
        "cudaMalloc", "set_tensor_address", "cudaMalloc", "set_tensor_address",
        "cudaMemcpyAsync", "execute_async_v3", "execute_async_v3", "cudaStreamSynchronize",
        "cudaEventCreate", "cudaEventCreate", *timed * 5, "cudaEventDestroy", "cudaEventDestroy",
    ]
    assert calls.args("create_network") == [(1 << 1,)]
    assert calls.args("parse") == [(onnx_file.read_bytes(), str(onnx_file))]
    assert calls.args("set_memory_pool_limit") == [(MemoryPoolType.WORKSPACE, 1024 << 20)]
    assert calls.args("builder_optimization_level") == [(3,)]
    assert calls.args("deserialize_cuda_engine") == [(b"fake-plan",)]
    assert "set_flag" not in calls.names

    assert calls.args("cudaMalloc") == [(4 * int(np.prod(INPUT_SHAPE)),), (4 * int(np.prod(OUTPUT_SHAPE)),)]
    addresses = dict(calls.args("set_tensor_address"))
    assert set(addresses) == {"input", "output"} and addresses["input"] != addresses["output"]
    dst, _, nbytes, kind, stream = calls.args("cudaMemcpyAsync")[0]
    assert (dst, nbytes, kind, stream) == (addresses["input"], 4 * int(np.prod(INPUT_SHAPE)),
                                           CudaMemcpyKind.cudaMemcpyHostToDevice, "stream1")
    assert set(calls.args("execute_async_v3")) == {("stream1",)}
    assert calls.args("cudaEventRecord")[:2] == [("event1", "stream1"), ("event2", "stream1")]
    assert set(calls.args("cudaEventElapsedTime")) == {("event1", "event2")}

    assert stats.n == 5
    assert stats.p50_ms == pytest.approx(float(np.median(EVENT_MS)))
    assert stats.mean_ms == pytest.approx(float(np.mean(EVENT_MS)))


def test_run_copies_in_executes_and_copies_out(calls: Calls, onnx_file: Path) -> None:
    _, compiled = compile_fake(onnx_file)
    x = np.full(INPUT_SHAPE, 0.5, np.float32)
    del calls.log[:]
    out = compiled.run(x)
    assert calls.names == ["cudaMemcpyAsync", "execute_async_v3", "cudaMemcpyAsync", "cudaStreamSynchronize"]
    assert calls.args("cudaMemcpyAsync")[1][3] == CudaMemcpyKind.cudaMemcpyDeviceToHost
    assert out.shape == OUTPUT_SHAPE and out.dtype == np.float32
    np.testing.assert_allclose(out, x.sum())


def test_close_frees_buffers_and_stream(calls: Calls, onnx_file: Path) -> None:
    _, compiled = compile_fake(onnx_file)
    pointers = [args[1] for args in calls.args("set_tensor_address")]
    del calls.log[:]
    compiled.close()
    compiled.close()
    frees = [("cudaFree", (pointer,)) for pointer in pointers]
    assert calls.log == [*frees, ("cudaStreamDestroy", ("stream1",))]


def test_weakly_typed_fp16_sets_the_builder_flag(calls: Calls, onnx_file: Path) -> None:
    compile_fake(onnx_file, strongly_typed=False, workspace_mb=64, builder_optimization_level=5)
    trt = sys.modules["tensorrt"]
    assert calls.args("create_network") == [(0,)]
    assert calls.args("set_flag") == [(trt.BuilderFlag.FP16,)]
    assert calls.args("set_memory_pool_limit") == [(MemoryPoolType.WORKSPACE, 64 << 20)]
    assert calls.args("builder_optimization_level") == [(5,)]


def test_parser_errors_are_raised_naming_the_file(calls: Calls, onnx_file: Path) -> None:
    calls.parse_ok = False
    with pytest.raises(ConfigError, match=f"{onnx_file}: TensorRT cannot parse.*unsupported operator FancyOp"):
        compile_fake(onnx_file)
    assert "build_serialized_network" not in calls.names


def test_failed_build_is_raised_naming_the_file(calls: Calls, onnx_file: Path) -> None:
    calls.build_ok = False
    with pytest.raises(ConfigError, match=f"{onnx_file}: TensorRT failed to build"):
        compile_fake(onnx_file)


def test_cuda_errors_name_the_call(calls: Calls, onnx_file: Path) -> None:
    calls.fail = "cudaMalloc"
    with pytest.raises(CudaError, match=r"cudaMalloc\(input\) failed"):
        compile_fake(onnx_file)


def test_wrong_input_shape_is_refused(calls: Calls, onnx_file: Path) -> None:
    backend = create_backend(fake_target())
    with pytest.raises(ConfigError, match=r"engine takes input shape \(1, 3, 32, 32\), not \(1, 3, 40, 40\)"):
        backend.compile(ModelSource((1, 3, 40, 40), onnx_path=onnx_file))


def test_version_and_device_name(calls: Calls) -> None:
    backend = create_backend(fake_target())
    assert backend.runtime_version() == "10.9.0.34"
    assert backend.device_name() == "Fake GPU 80GB"


def test_tensorrt_older_than_10_is_refused(calls: Calls, onnx_file: Path) -> None:
    sys.modules["tensorrt"].__version__ = "8.6.1"
    with pytest.raises(RuntimeUnavailableError, match=r"TensorRT 8.6.1 is too old.*hwnat\[tensorrt\]"):
        compile_fake(onnx_file)


def test_trtexec_command(calls: Calls) -> None:
    backend = create_backend(fake_target(workspace_mb=2048, builder_optimization_level=4))
    assert backend.trtexec_command("out/net.onnx") == (
        "trtexec --onnx=out/net.onnx --saveEngine=out/net.engine --stronglyTyped "
        "--memPoolSize=workspace:2048M --builderOptimizationLevel=4"
    )
    weak = create_backend(fake_target(strongly_typed=False))
    assert weak.trtexec_command("a b.onnx", "e.plan") == (
        "trtexec '--onnx=a b.onnx' --saveEngine=e.plan --fp16 "
        "--memPoolSize=workspace:1024M --builderOptimizationLevel=3"
    )


def test_save_engine_writes_the_plan(calls: Calls, onnx_file: Path, tmp_path: Path) -> None:
    backend = create_backend(fake_target())
    path = backend.save_engine(onnx_file, tmp_path / "block.engine")
    assert path.read_bytes() == b"fake-plan"


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None, reason="TensorRT is installed here")
def test_unavailable_here_names_the_extra() -> None:
    with pytest.raises(RuntimeUnavailableError, match=r"pip install 'hwnat\[tensorrt\]'"):
        create_backend(load_target("tensorrt-gpu"))

