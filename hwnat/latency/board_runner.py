#!/usr/bin/env python3
"""hwnat board runner: time every model of a latency bundle on this device and write timings.json.

Self-contained: Python ≥ 3.8, numpy and the target's runtime (onnxruntime, openvino, or tensorrt with
cuda-python); never torch or hwnat. Run it inside the extracted bundle:

    python3 run.py [--out timings.json] [--runtime ort|openvino|tensorrt]

Each unit is measured as the bundle's jobs (alone, or between context layers with a reference job subtracted
back home); a speed probe timed just before each job rescales it by (median probe of the run) / (probe then), as
hwnat's profiler does; whole networks are timed as hwnat's measure_networks does (compiled afresh each round,
each timed in bursts alternating with the bundle's reference subnet and scaled by the reference's speed in the
same window, median over rounds). Every completed measurement (raw, with its speed sample) is appended to
<out>.journal.jsonl: run it again after an interruption and it resumes where it stopped. The runtime is configured
and the calls are timed as hwnat's backends do.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

try:
    import numpy as np
except ImportError:
    sys.exit("error: numpy is not installed on this device: pip install numpy")

RUNNER_VERSION = 3
BUNDLE_SCHEMA_VERSIONS = (3,)
TIMINGS_SCHEMA_VERSION = 3
JOURNAL_VERSION = 3
RUNTIMES = ("ort", "openvino", "tensorrt")
UNIT_INPUT_SEED = 0
PROBE_INPUT_SEED = 0
REFERENCE_SCALE_PERCENTILE = 10  # the networks' common scale: the reference's fast-regime speed
SCALED_FIELDS = ("p50_ms", "p90_ms", "mean_ms", "std_ms", "p10_ms", "min_ms")
PROGRESS_EVERY_S = 2.0

ORT_OPT_LEVELS = {"disable": "ORT_DISABLE_ALL", "basic": "ORT_ENABLE_BASIC", "extended": "ORT_ENABLE_EXTENDED",
                  "all": "ORT_ENABLE_ALL"}
ORT_EXECUTION_MODES = {"sequential": "ORT_SEQUENTIAL", "parallel": "ORT_PARALLEL"}
ORT_NUMPY_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64,
                   "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(int8)": np.int8,
                   "tensor(uint8)": np.uint8, "tensor(bool)": np.bool_}


class RunnerError(Exception):
    """A bundle, runtime or journal problem, reported as one line."""


# -- timing -----------------------------------------------------------------------------------------------------
class Timing:
    """Warm-up calls, then at least `min_runs` calls and `min_time_s` seconds."""

    def __init__(self, warmup: int, min_runs: int, min_time_s: float) -> None:
        self.warmup, self.min_runs, self.min_time_s = int(warmup), int(min_runs), float(min_time_s)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Timing:
        return cls(d["warmup"], d["min_runs"], d["min_time_s"])


def time_calls(call: Callable[[], object], timing: Timing) -> list[float]:
    """Seconds per call: the same loop as hwnat.backends.base.CompiledModel.time_calls."""
    for _ in range(timing.warmup):
        call()
    samples: list[float] = []
    start = time.perf_counter()
    while len(samples) < timing.min_runs or time.perf_counter() - start < timing.min_time_s:
        t0 = time.perf_counter()
        call()
        samples.append(time.perf_counter() - t0)
    return samples


def stats(samples_s: Sequence[float]) -> dict[str, Any]:
    """p50/p90/mean/std/p10/min in ms and n, as hwnat's UnitTiming.from_seconds computes them."""
    ms = np.asarray(samples_s, dtype=np.float64) * 1e3
    if ms.size == 0:
        raise RunnerError("no timing samples")
    return {"p50_ms": float(np.percentile(ms, 50)), "p90_ms": float(np.percentile(ms, 90)),
            "mean_ms": float(ms.mean()), "std_ms": float(ms.std(ddof=1)) if ms.size > 1 else 0.0, "n": int(ms.size),
            "p10_ms": float(np.percentile(ms, 10)), "min_ms": float(ms.min())}


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo, else platform.processor() (as hwnat.backends.base.cpu_model)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _import(module: str, install: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise RunnerError(f"{module} is not installed on this device: {install} ({exc})") from exc


# -- runtimes ---------------------------------------------------------------------------------------------------
class Model:
    """A compiled model with a fixed input shape; `bind(x)` returns the call to time."""

    input_shape: tuple[int, ...] = ()

    def bind(self, x: np.ndarray) -> Callable[[], object]:
        raise NotImplementedError

    def time_calls(self, x: np.ndarray, timing: Timing) -> list[float]:
        return time_calls(self.bind(x), timing)

    def close(self) -> None:
        """Release what the runtime holds for this model beyond Python's reach (device memory)."""


class OrtModel(Model):
    """An InferenceSession with its input and outputs pre-bound through IOBinding."""

    def __init__(self, session: Any, input_shape: tuple[int, ...], source: str) -> None:
        self.session, self.input_shape, self.source = session, input_shape, source
        (meta,) = session.get_inputs()
        self.input_name = meta.name
        self.input_type = ORT_NUMPY_TYPES.get(meta.type, np.float32)
        self.binding = session.io_binding()
        self.outputs: list[np.ndarray | None] = []
        for out in session.get_outputs():
            if all(isinstance(d, int) for d in out.shape):
                array = np.empty(out.shape, ORT_NUMPY_TYPES.get(out.type, np.float32))
                self.binding.bind_output(out.name, "cpu", 0, array.dtype, list(array.shape), array.ctypes.data)
                self.outputs.append(array)
            else:
                self.binding.bind_output(out.name, "cpu")
                self.outputs.append(None)
        self._bound: np.ndarray | None = None

    def bind(self, x: np.ndarray) -> Callable[[], object]:
        array = np.ascontiguousarray(x, dtype=self.input_type)
        self.binding.bind_input(self.input_name, "cpu", 0, array.dtype, list(array.shape), array.ctypes.data)
        self._bound = array
        return lambda: self.session.run_with_iobinding(self.binding)


class OrtRuntime:
    """ONNX Runtime configured from the target: threads, graph optimisation, execution mode, provider."""

    def __init__(self, settings: dict[str, Any]) -> None:
        self.ort = _import("onnxruntime", "pip install onnxruntime")
        self.threads = int(settings.get("threads", 1))
        self.options = settings.get("options", {})

    def version(self) -> str:
        return str(self.ort.__version__)

    def device_name(self) -> str:
        return cpu_model()

    def compile(self, path: Path, input_shape: tuple[int, ...]) -> OrtModel:
        ort, opt = self.ort, self.options
        so = ort.SessionOptions()
        so.intra_op_num_threads = self.threads
        so.inter_op_num_threads = int(opt.get("inter_op_threads", 1))
        level = ORT_OPT_LEVELS[opt.get("graph_optimization_level", "all")]
        so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
        so.execution_mode = getattr(ort.ExecutionMode, ORT_EXECUTION_MODES[opt.get("execution_mode", "sequential")])
        so.log_severity_level = 3
        provider = opt.get("execution_provider", "CPUExecutionProvider")
        if provider not in ort.get_available_providers():
            raise RunnerError(f"execution provider {provider} is not in this onnxruntime build; available: "
                              f"{', '.join(ort.get_available_providers())}")
        try:
            session = ort.InferenceSession(str(path), so, providers=[provider])
        except Exception as exc:
            raise RunnerError(f"{path}: onnxruntime cannot load the model: {exc}") from exc
        return OrtModel(session, input_shape, str(path))


class OpenVINOModel(Model):
    """A compiled model and its one reused infer request."""

    def __init__(self, ov: Any, compiled: Any, input_shape: tuple[int, ...]) -> None:
        self.ov, self.compiled, self.input_shape = ov, compiled, input_shape
        self.request = compiled.create_infer_request()
        self.input_type = compiled.input(0).get_element_type().to_dtype()
        self._bound: np.ndarray | None = None

    def bind(self, x: np.ndarray) -> Callable[[], object]:
        array = np.ascontiguousarray(x, dtype=self.input_type)
        self.request.set_input_tensor(self.ov.Tensor(array, shared_memory=True))
        self._bound = array
        return self.request.infer


class OpenVINORuntime:
    """The OpenVINO CPU plugin with the target's precision hint, threads, performance hint and streams."""

    def __init__(self, settings: dict[str, Any]) -> None:
        self.ov = _import("openvino", "pip install openvino")
        self.core = self.ov.Core()
        opt = settings.get("options", {})
        self.config = {"INFERENCE_PRECISION_HINT": opt.get("inference_precision_hint", "f32"),
                       "INFERENCE_NUM_THREADS": str(settings.get("threads", 1)),
                       "PERFORMANCE_HINT": opt.get("performance_hint", "LATENCY"),
                       "NUM_STREAMS": str(opt.get("num_streams", 1))}

    def version(self) -> str:
        return str(self.ov.get_version())

    def device_name(self) -> str:
        return cpu_model()

    def compile(self, path: Path, input_shape: tuple[int, ...]) -> OpenVINOModel:
        try:
            compiled = self.core.compile_model(str(path), "CPU", self.config)
        except RuntimeError as exc:
            raise RunnerError(f"{path}: OpenVINO cannot compile the model: {str(exc).splitlines()[:3]}") from exc
        return OpenVINOModel(self.ov, compiled, input_shape)


def _import_cudart() -> Any:
    try:
        from cuda.bindings import runtime as cudart
    except ImportError:
        try:
            from cuda import cudart  # type: ignore[no-redef]
        except ImportError as exc:
            raise RunnerError(f"cuda-python is not installed on this device: pip install cuda-python ({exc})") from exc
    return cudart


def _cuda(cudart: Any, result: tuple[Any, ...], what: str) -> Any:
    err, *values = result
    if err != cudart.cudaError_t.cudaSuccess:
        raise RunnerError(f"CUDA {what} failed: {err}")
    return values[0] if len(values) == 1 else (tuple(values) or None)


class TensorRTModel(Model):
    """An engine with one stream and one device buffer per I/O tensor; timed with CUDA events (compute only)."""

    def __init__(self, trt: Any, cudart: Any, plan: bytes, input_shape: tuple[int, ...], source: str) -> None:
        self.trt, self.cudart, self.input_shape, self.source = trt, cudart, input_shape, source
        self.runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        self.engine = self.runtime.deserialize_cuda_engine(plan)
        if self.engine is None:
            raise RunnerError(f"{source}: TensorRT cannot deserialize the engine it built")
        self.context = self.engine.create_execution_context()
        self.stream = _cuda(cudart, cudart.cudaStreamCreate(), "cudaStreamCreate")
        self.buffers: dict[str, int] = {}
        self.host: dict[str, np.ndarray] = {}
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        self.inputs = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        if len(self.inputs) != 1:
            raise RunnerError(f"{source}: the engine has {len(self.inputs)} inputs; hwnat runs single-input models")
        if any(d < 0 for d in self.engine.get_tensor_shape(self.inputs[0])):
            self.context.set_input_shape(self.inputs[0], input_shape)
        for name in names:
            shape = tuple(self.context.get_tensor_shape(name))
            array = np.empty(shape, dtype=trt.nptype(self.engine.get_tensor_dtype(name)))
            self.host[name] = array
            self.buffers[name] = _cuda(cudart, cudart.cudaMalloc(max(array.nbytes, 1)), f"cudaMalloc({name})")
            self.context.set_tensor_address(name, int(self.buffers[name]))
        if self.host[self.inputs[0]].shape != tuple(input_shape):
            self.close()
            raise RunnerError(f"{source}: the engine takes input shape {self.host[self.inputs[0]].shape}, "
                              f"not {tuple(input_shape)}")

    def _execute(self) -> None:
        if not self.context.execute_async_v3(self.stream):
            raise RunnerError(f"{self.source}: TensorRT execute_async_v3 failed")

    def bind(self, x: np.ndarray) -> Callable[[], object]:
        cudart, name = self.cudart, self.inputs[0]
        host = self.host[name]
        np.copyto(host, x, casting="same_kind")
        _cuda(cudart, cudart.cudaMemcpyAsync(self.buffers[name], host.ctypes.data, host.nbytes,
                                             cudart.cudaMemcpyKind.cudaMemcpyHostToDevice, self.stream),
              "cudaMemcpyAsync")
        return self._execute

    def time_calls(self, x: np.ndarray, timing: Timing) -> list[float]:
        cudart = self.cudart
        call = self.bind(x)
        for _ in range(timing.warmup):
            call()
        _cuda(cudart, cudart.cudaStreamSynchronize(self.stream), "cudaStreamSynchronize")
        begin = _cuda(cudart, cudart.cudaEventCreate(), "cudaEventCreate")
        end = _cuda(cudart, cudart.cudaEventCreate(), "cudaEventCreate")
        samples: list[float] = []
        try:
            start = time.perf_counter()
            while len(samples) < timing.min_runs or time.perf_counter() - start < timing.min_time_s:
                _cuda(cudart, cudart.cudaEventRecord(begin, self.stream), "cudaEventRecord")
                call()
                _cuda(cudart, cudart.cudaEventRecord(end, self.stream), "cudaEventRecord")
                _cuda(cudart, cudart.cudaEventSynchronize(end), "cudaEventSynchronize")
                samples.append(float(_cuda(cudart, cudart.cudaEventElapsedTime(begin, end),
                                           "cudaEventElapsedTime")) * 1e-3)
        finally:
            cudart.cudaEventDestroy(begin)
            cudart.cudaEventDestroy(end)
        return samples

    def close(self) -> None:
        for ptr in self.buffers.values():
            self.cudart.cudaFree(ptr)
        self.buffers = {}
        if self.stream is not None:
            self.cudart.cudaStreamDestroy(self.stream)
            self.stream = None


class TensorRTRuntime:
    """TensorRT ≥ 10: ONNX → engine with the target's builder settings (strongly typed by default)."""

    def __init__(self, settings: dict[str, Any]) -> None:
        self.trt = _import("tensorrt", "install TensorRT ≥ 10 (JetPack, or pip install tensorrt)")
        if int(str(self.trt.__version__).split(".")[0]) < 10:
            raise RunnerError(f"TensorRT {self.trt.__version__} is too old: hwnat needs ≥ 10")
        self.cudart = _import_cudart()
        self.precision = settings.get("precision", "fp32")
        self.options = settings.get("options", {})
        self.plans: dict[str, bytes] = {}

    def version(self) -> str:
        return str(self.trt.__version__)

    def device_name(self) -> str:
        cudart = self.cudart
        device = _cuda(cudart, cudart.cudaGetDevice(), "cudaGetDevice")
        name = _cuda(cudart, cudart.cudaGetDeviceProperties(device), "cudaGetDeviceProperties").name
        return (name.decode() if isinstance(name, bytes) else str(name)).rstrip("\x00")

    def build(self, path: Path) -> bytes:
        trt, opt = self.trt, self.options
        logger = trt.Logger(trt.Logger.WARNING)
        builder = trt.Builder(logger)
        strongly_typed = bool(opt.get("strongly_typed", True))
        flags = 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED) if strongly_typed else 0
        network = builder.create_network(flags)
        parser = trt.OnnxParser(network, logger)
        if not parser.parse(path.read_bytes(), str(path)):
            errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors)) or "no details"
            raise RunnerError(f"{path}: TensorRT cannot parse the ONNX model: {errors}")
        config = builder.create_builder_config()
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(opt.get("workspace_mb", 1024)) << 20)
        config.builder_optimization_level = int(opt.get("builder_optimization_level", 3))
        if not strongly_typed and self.precision in ("fp16", "int8"):
            config.set_flag(trt.BuilderFlag.FP16 if self.precision == "fp16" else trt.BuilderFlag.INT8)
        plan = builder.build_serialized_network(network, config)
        if plan is None:
            raise RunnerError(f"{path}: TensorRT failed to build an engine (see its log above)")
        return bytes(plan)

    def compile(self, path: Path, input_shape: tuple[int, ...]) -> TensorRTModel:
        """An engine of the ONNX file, built once per file and run (the plan is reused by later passes)."""
        if str(path) not in self.plans:
            self.plans[str(path)] = self.build(path)
        return TensorRTModel(self.trt, self.cudart, self.plans[str(path)], input_shape, str(path))


RUNTIME_CLASSES = {"ort": OrtRuntime, "openvino": OpenVINORuntime, "tensorrt": TensorRTRuntime}


def create_runtime(name: str, settings: dict[str, Any]) -> Any:
    """The runtime `name` configured from the target settings of the manifest."""
    if name not in RUNTIME_CLASSES:
        raise RunnerError(f"unknown runtime {name!r}; this runner runs: {', '.join(RUNTIMES)}")
    return RUNTIME_CLASSES[name](settings)


# -- journal ----------------------------------------------------------------------------------------------------
class Journal:
    """Append-only JSONL of completed measurements (line 1: what they are for), fsynced per line."""

    def __init__(self, path: Path, header: dict[str, Any]) -> None:
        self.path = path
        self.header = json.loads(json.dumps(header, sort_keys=True))
        self._file: Any = None

    def load(self) -> list[dict[str, Any]]:
        """Completed rows; a torn last line is dropped, a journal of another run is moved to *.stale."""
        if not self.path.exists():
            return []
        raw = self.path.read_bytes()
        lines = raw[: raw.rfind(b"\n") + 1].decode("utf-8", errors="replace").splitlines()
        try:
            header = json.loads(lines[0]) if lines else None
        except ValueError:
            header = None
        if header != self.header:
            stale = self.path.with_name(self.path.name + ".stale")
            log(f"journal {self.path} belongs to another bundle, runtime or device: moved to {stale}")
            os.replace(str(self.path), str(stale))
            return []
        rows: list[dict[str, Any]] = []
        good = len(lines[0].encode("utf-8")) + 1
        for line in lines[1:]:
            try:
                row = json.loads(line)
                if row.get("kind") not in ("job", "net"):
                    raise ValueError(line)
            except (ValueError, AttributeError):
                break
            rows.append(row)
            good += len(line.encode("utf-8")) + 1
        if good != len(raw):
            with open(str(self.path), "r+b") as f:
                f.truncate(good)
                os.fsync(f.fileno())
        return rows

    def append(self, row: dict[str, Any]) -> None:
        if self._file is None:
            new = not self.path.exists() or self.path.stat().st_size == 0
            self._file = open(str(self.path), "a", encoding="utf-8")  # noqa: SIM115
            if new:
                self._write(self.header)
        self._write(row)

    def _write(self, row: dict[str, Any]) -> None:
        self._file.write(json.dumps(row, sort_keys=True) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


# -- running a bundle -------------------------------------------------------------------------------------------
def log(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def _clock(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Progress:
    """One line on stderr at most every PROGRESS_EVERY_S seconds: done/total, elapsed and ETA."""

    def __init__(self, label: str, total: int, enabled: bool = True) -> None:
        self.label, self.total, self.enabled = label, total, enabled
        self.done, self.start, self.last = 0, time.perf_counter(), 0.0

    def update(self, detail: str = "") -> None:
        self.done += 1
        now = time.perf_counter()
        if not self.enabled or (now - self.last < PROGRESS_EVERY_S and self.done < self.total):
            return
        self.last = now
        elapsed = now - self.start
        eta = elapsed / self.done * (self.total - self.done)
        log(f"{self.label} {self.done}/{self.total}  elapsed {_clock(elapsed)}  eta {_clock(eta)}  {detail}".rstrip())


def load_manifest(bundle: Path) -> dict[str, Any]:
    """The bundle's manifest.json, checked: a schema this runner reads and every model file present."""
    path = bundle / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RunnerError(f"no bundle manifest at {path}: run this from the extracted bundle or pass --bundle "
                          f"({exc.strerror})") from exc
    except ValueError as exc:
        raise RunnerError(f"{path} is corrupt: {exc}") from exc
    version = manifest.get("bundle_schema_version")
    if version not in BUNDLE_SCHEMA_VERSIONS:
        raise RunnerError(f"{path} has bundle schema version {version!r}; this runner reads "
                          f"{list(BUNDLE_SCHEMA_VERSIONS)}: use the run.py shipped with the bundle")
    models = manifest["jobs"] + manifest["networks"] + [manifest["probe"], manifest["reference"]]
    missing = [m["file"] for m in models if not (bundle / m["file"]).is_file()]
    if missing:
        raise RunnerError(f"bundle {bundle} lacks {len(missing)} model file(s): {', '.join(missing[:5])}"
                          + (" ..." if len(missing) > 5 else ""))
    return manifest


def _shape(entry: dict[str, Any]) -> tuple[int, ...]:
    return tuple(int(v) for v in entry["input_shape"])


def combine_passes(passes: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One entry from several passes: median of the p10s, p50s and p90s, the minimum of the minima, pooled mean
    and standard deviation (as hwnat.latency.timing.combine_passes)."""
    if len(passes) == 1:
        return dict(passes[0])
    n = np.array([s["n"] for s in passes], dtype=np.float64)
    means = np.array([s["mean_ms"] for s in passes])
    mean = float((n * means).sum() / n.sum())
    within = ((n - 1) * np.array([s["std_ms"] for s in passes]) ** 2).sum()
    between = (n * (means - mean) ** 2).sum()
    return {"p50_ms": float(np.median([s["p50_ms"] for s in passes])),
            "p90_ms": float(np.median([s["p90_ms"] for s in passes])), "mean_ms": mean,
            "std_ms": float(np.sqrt((within + between) / max(n.sum() - 1, 1))), "n": int(n.sum()),
            "p10_ms": float(np.median([s["p10_ms"] for s in passes])), "min_ms": float(min(s["min_ms"] for s in passes))}


class Probe:
    """The bundle's speed-probe model compiled once; `sample()`: its p10 (ms) over a short window, now (as
    hwnat.latency.probe.SpeedProbe)."""

    def __init__(self, runtime: Any, bundle: Path, entry: dict[str, Any]) -> None:
        shape = _shape(entry)
        self.model = runtime.compile(bundle / entry["file"], shape)
        self.x = np.random.default_rng(PROBE_INPUT_SEED).standard_normal(shape).astype(np.float32)
        self.timing = Timing.from_dict(entry["timing"])

    def sample(self) -> float:
        return float(np.percentile(self.model.time_calls(self.x, self.timing), 10) * 1e3)

    def close(self) -> None:
        self.model.close()


def session_medians(rows: Iterable[dict[str, Any]], key: str = "probe_ms",
                    percentile: float = 50) -> dict[str, float]:
    """Median (or another percentile of the) speed samples (`key`: the probe's for jobs, the reference's for
    networks) of each run (session) of the journal (as hwnat.latency.profiler._session_medians and
    hwnat.latency.networks.time_interleaved)."""
    samples: dict[str, list[float]] = {}
    for row in rows:
        if row.get(key) is not None:
            samples.setdefault(str(row.get("session", "")), []).append(float(row[key]))
    return {s: float(np.percentile(v, percentile)) for s, v in samples.items()}


def normalise(row: dict[str, Any], medians: dict[str, float], key: str = "probe_ms") -> dict[str, Any]:
    """A measurement's stats scaled by (median speed sample of its session) / (its own), unchanged without a
    sample (as hwnat.latency.probe.normalise)."""
    probe, median = row.get(key), medians.get(str(row.get("session", "")))
    if probe is None or median is None or probe <= 0:
        return dict(row["stats"])
    factor = median / float(probe)
    return {k: (v * factor if k in SCALED_FIELDS and v is not None else v) for k, v in row["stats"].items()}


def measure_jobs(runtime: Any, bundle: Path, manifest: dict[str, Any], journal: Journal,
                 done: dict[tuple[str, int], dict[str, Any]], session: str, progress: bool) -> None:
    """Time every job in each pass, each pass in its own seeded shuffled order (the order of hwnat's
    profile_units), the probe sampled just before each; each (job, pass) is journalled raw with its probe sample
    as soon as it is timed."""
    spec = manifest["timing"]["units"]
    timing, passes, seed = Timing.from_dict(spec), int(spec.get("passes", 1)), int(spec.get("seed", 0))
    jobs = manifest["jobs"]
    left = [[j for j in jobs if (j["key"], p) not in done] for p in range(passes)]
    total = sum(len(pending) for pending in left)
    if not total:
        return
    probe = Probe(runtime, bundle, manifest["probe"])
    bar = Progress("unit jobs", total, progress)
    try:
        for p, pending in enumerate(left):
            for i in np.random.default_rng([seed, p]).permutation(len(pending)):
                job = pending[int(i)]
                shape = _shape(job)
                model = runtime.compile(bundle / job["file"], shape)
                x = np.random.default_rng(UNIT_INPUT_SEED).standard_normal(shape).astype(np.float32)
                try:
                    probe_ms = probe.sample()
                    result = stats(model.time_calls(x, timing))
                finally:
                    model.close()
                row = {"stats": result, "probe_ms": probe_ms, "session": session}
                done[(job["key"], p)] = row
                journal.append({"kind": "job", "key": job["key"], "pass": p, **row})
                bar.update(f"pass {p + 1}/{passes} {job['key']} {result['p50_ms']:.4f} ms")
    finally:
        probe.close()


def time_paired(model: Model, x: np.ndarray, reference: Model, ref_x: np.ndarray, timing: Timing,
                burst: int) -> tuple[list[float], list[float]]:
    """Seconds per call of `model` and `reference` timed in alternating bursts (as
    hwnat.latency.networks.time_paired)."""
    warm, one_burst = Timing(timing.warmup, 0, 0.0), Timing(1, burst, 0.0)
    reference.time_calls(ref_x, warm)
    model.time_calls(x, warm)
    samples: list[float] = []
    ref_samples: list[float] = []
    while len(samples) < timing.min_runs or sum(samples) < timing.min_time_s:
        ref_samples += reference.time_calls(ref_x, one_burst)
        samples += model.time_calls(x, one_burst)
    return samples, ref_samples


def measure_networks(runtime: Any, bundle: Path, manifest: dict[str, Any], journal: Journal,
                     done: dict[tuple[str, int], dict[str, Any]], session: str, progress: bool) -> None:
    """Time whole networks interleaved, as hwnat's measure_networks: `rounds` passes in a seeded shuffled order,
    each network compiled afresh per round and timed paired with the reference subnet (compiled once); each
    (network, round) is journalled raw with the reference's p10 of the same window when done."""
    nets, ref_entry = manifest["networks"], manifest["reference"]
    spec = manifest["timing"]["networks"]
    rounds, timing, burst = int(spec["rounds"]), Timing.from_dict(spec["per_round"]), int(spec["burst"])
    rng = np.random.default_rng(int(spec.get("seed", 0)))
    inputs = [rng.standard_normal(_shape(n)).astype(np.float32) for n in nets]
    ref_x = rng.standard_normal(_shape(ref_entry)).astype(np.float32)
    orders = [rng.permutation(len(nets)) for _ in range(rounds)]
    todo = [(r, int(i)) for r in range(rounds) for i in orders[r] if (nets[int(i)]["arch_id"], r) not in done]
    if not todo:
        return
    reference = runtime.compile(bundle / ref_entry["file"], _shape(ref_entry))
    bar = Progress("networks", len(todo), progress)
    try:
        for r, i in todo:
            model = runtime.compile(bundle / nets[i]["file"], _shape(nets[i]))
            try:
                samples, ref_samples = time_paired(model, inputs[i], reference, ref_x, timing, burst)
            finally:
                model.close()
            row = {"stats": stats(samples), "reference_ms": stats(ref_samples)["p10_ms"], "session": session}
            done[(nets[i]["arch_id"], r)] = row
            journal.append({"kind": "net", "key": nets[i]["arch_id"], "round": r, **row})
            bar.update(f"round {r + 1}/{rounds}")
    finally:
        reference.close()


def host_info() -> dict[str, Any]:
    """Where the runner ran: Python, numpy, OS and machine."""
    return {"python": platform.python_version(), "numpy": np.__version__, "platform": platform.platform(),
            "machine": platform.machine(), "runner_version": RUNNER_VERSION}


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write JSON to a temporary file beside `path`, fsync, then rename it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=str(path.parent), prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, str(path))
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@contextmanager
def locked(out: Path) -> Iterator[None]:
    """Hold an exclusive lock on <out>.lock, so that two runs never measure into one journal (no lock where
    fcntl is missing)."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    path = out.with_name(out.name + ".lock")
    with open(str(path), "a") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise RunnerError(f"another run.py is already measuring into {out} (it holds {path}): wait for it to "
                              f"finish or stop it, then run again") from None
        yield


def run(bundle: Path, out: Path, runtime_name: str | None = None, progress: bool = True) -> dict[str, Any]:
    """Measure every unit and network of the bundle (resuming from the journal) and write `out`."""
    with locked(out):
        return _run(bundle, out, runtime_name, progress)


def _run(bundle: Path, out: Path, runtime_name: str | None, progress: bool) -> dict[str, Any]:
    start = time.perf_counter()
    manifest = load_manifest(bundle)
    settings = manifest["target"]["settings"]
    name = runtime_name or settings["runtime"]
    runtime = create_runtime(name, settings)
    version, device = runtime.version(), runtime.device_name()
    header = {"journal_version": JOURNAL_VERSION, "bundle_id": manifest["bundle_id"], "runtime": name,
              "runtime_version": version, "device_name": device}
    journal = Journal(out.with_name(out.name + ".journal.jsonl"), header)
    rows = journal.load()
    jobs = {(r["key"], int(r["pass"])): r for r in rows if r["kind"] == "job"}
    nets = {(r["key"], int(r["round"])): r for r in rows if r["kind"] == "net"}
    log(f"bundle {manifest['bundle_id'][:12]} for target {settings['name']}: {len(manifest['units'])} units timed "
        f"{manifest['unit_mode']} as {len(manifest['jobs'])} jobs, {len(manifest['networks'])} networks on {name} "
        f"{version}, {device}" + (f"; resuming with {len(rows)} measurement(s) from the journal" if rows else ""))
    try:
        session = uuid.uuid4().hex[:8]
        measure_jobs(runtime, bundle, manifest, journal, jobs, session, progress)
        measure_networks(runtime, bundle, manifest, journal, nets, session, progress)
    finally:
        journal.close()
    passes = int(manifest["timing"]["units"].get("passes", 1))
    medians = session_medians(jobs.values())
    job_passes = {j["key"]: [normalise(jobs[(j["key"], p)], medians) for p in range(passes)]
                  for j in manifest["jobs"]}
    rounds = int(manifest["timing"]["networks"]["rounds"])
    net_scale = session_medians(nets.values(), "reference_ms", REFERENCE_SCALE_PERCENTILE)
    networks = {net["arch_id"]: combine_passes([normalise(nets[(net["arch_id"], r)], net_scale, "reference_ms")
                                                for r in range(rounds)])
                for net in manifest["networks"]}
    timings = {
        "timings_schema_version": TIMINGS_SCHEMA_VERSION,
        "bundle_id": manifest["bundle_id"],
        "target": settings["name"],
        "runtime": name,
        "runtime_version": version,
        "device_name": device,
        "host": host_info(),
        "wall_s": round(time.perf_counter() - start, 2),
        "resumed_from": len(rows),
        "unit_mode": manifest["unit_mode"],
        "jobs": {key: combine_passes(per_pass) for key, per_pass in job_passes.items()},
        "job_passes": job_passes,
        "probe_medians_ms": medians,
        "network_reference_scale_ms": net_scale,
        "networks": networks,
        "manifest": manifest,
    }
    write_json_atomic(out, timings)
    return timings


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time every model of an hwnat latency bundle on this device.")
    parser.add_argument("--bundle", type=Path, default=Path(__file__).resolve().parent,
                        help="the extracted bundle folder (default: the folder of this script)")
    parser.add_argument("--out", type=Path, default=Path("timings.json"),
                        help="result file (default: timings.json); its journal is <out>.journal.jsonl")
    parser.add_argument("--runtime", choices=RUNTIMES, default=None,
                        help="runtime to use instead of the target's (hwnat refuses to import timings of a "
                             "runtime other than the target's)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    args = parser.parse_args(argv)
    try:
        timings = run(args.bundle, args.out, args.runtime, progress=not args.quiet)
    except RunnerError as exc:
        log(f"error: {exc}")
        return 2
    except KeyboardInterrupt:
        log("interrupted: completed measurements are in the journal; run again to resume")
        return 130
    log(f"wrote {args.out} ({len(timings['jobs'])} unit jobs, {len(timings['networks'])} networks) in "
        f"{timings['wall_s']} s")
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
