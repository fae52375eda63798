"""Registry of runtimes: the backend class each will use, what it needs installed, and whether it can run here."""

from __future__ import annotations

import importlib
import importlib.util
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from hwnat.config.fields import Field
from hwnat.errors import ConfigError, RuntimeUnavailableError, unknown_name

if TYPE_CHECKING:
    from hwnat.config.targets import TargetSpec

Availability = tuple[bool, str]

_GPU_DEVICE_FILES = ("/dev/nvidia0", "/etc/nv_tegra_release")


@dataclass(frozen=True)
class RuntimeInfo:
    """A registered runtime: where its backend lives, what it needs and how to check for it."""

    name: str
    backend: str
    packages: tuple[str, ...]
    devices: tuple[str, ...]
    options: Mapping[str, Field]
    check: Callable[[], Availability] = field(repr=False)
    description: str = ""

    def availability(self) -> Availability:
        """(True, "") when the runtime can run here, else (False, why and how to fix it); imports nothing heavy."""
        return self.check()

    def backend_class(self) -> type:
        """Import and return the backend class, or RuntimeUnavailableError with the reason."""
        ok, reason = self.availability()
        if not ok:
            raise RuntimeUnavailableError(f"runtime {self.name!r} cannot run here: {reason}")
        module_name, _, attr = self.backend.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            raise RuntimeUnavailableError(f"runtime {self.name!r} has no backend yet ({self.backend})") from exc
        return getattr(module, attr)


_RUNTIMES: dict[str, RuntimeInfo] = {}


def register_runtime(
    name: str,
    *,
    backend: str,
    packages: tuple[str, ...],
    devices: tuple[str, ...],
    options: Mapping[str, Field] | None = None,
    description: str = "",
) -> Callable[[Callable[[], Availability]], Callable[[], Availability]]:
    """Register the decorated availability check as runtime `name`."""

    def decorator(check: Callable[[], Availability]) -> Callable[[], Availability]:
        if name in _RUNTIMES:
            raise ValueError(f"runtime {name!r} is already registered")
        _RUNTIMES[name] = RuntimeInfo(
            name=name,
            backend=backend,
            packages=packages,
            devices=devices,
            options=MappingProxyType(dict(options or {})),
            check=check,
            description=description,
        )
        return check

    return decorator


def runtime_names() -> list[str]:
    """Names of the registered runtimes, sorted."""
    return sorted(_RUNTIMES)


def get_runtime(name: str) -> RuntimeInfo:
    """The registered runtime `name`, or ConfigError with a did-you-mean hint."""
    try:
        return _RUNTIMES[name]
    except KeyError:
        raise ConfigError(unknown_name("runtime", name, _RUNTIMES)) from None


def modules_present(*modules: str, install: str) -> Availability:
    """Whether every module can be imported, found without importing it."""
    for module in modules:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            return False, f"{module} is not installed: {install}"
    return True, ""


def cuda_gpu_present() -> Availability:
    """Whether an NVIDIA GPU is visible (nvidia-smi, /dev/nvidia0 or a Jetson's release file)."""
    if shutil.which("nvidia-smi") or any(Path(p).exists() for p in _GPU_DEVICE_FILES):
        return True, ""
    return False, "no CUDA GPU found (no nvidia-smi, no /dev/nvidia0)"


def ssh_present() -> Availability:
    """Whether an ssh client is on PATH."""
    return (True, "") if shutil.which("ssh") else (False, "no ssh client on PATH")


def all_of(*results: Availability) -> Availability:
    """Available when every check is; the reasons of those that fail, joined."""
    failed = (part for ok, reason in results if not ok for part in reason.split("; "))
    reasons = list(dict.fromkeys(failed))
    return (not reasons, "; ".join(reasons))


def target_availability(spec: TargetSpec) -> Availability:
    """Whether hwnat can measure on `spec` from here: the runtime and a CUDA GPU locally, or ssh for a board."""
    if spec.remote is not None:
        return ssh_present()
    checks = [get_runtime(spec.runtime).availability()]
    if spec.device == "gpu":
        checks.append(cuda_gpu_present())
    return all_of(*checks)


@register_runtime(
    "ort",
    backend="hwnat.backends.ort:OrtBackend",
    packages=("onnxruntime",),
    devices=("cpu", "gpu"),
    description="ONNX Runtime",
    options={
        "execution_provider": Field(
            str,
            "CPUExecutionProvider",
            choices=(
                "CPUExecutionProvider",
                "CUDAExecutionProvider",
                "TensorrtExecutionProvider",
                "OpenVINOExecutionProvider",
                "XnnpackExecutionProvider",
                "ACLExecutionProvider",
                "CoreMLExecutionProvider",
            ),
        ),
        "graph_optimization_level": Field(str, "all", choices=("disable", "basic", "extended", "all")),
        "execution_mode": Field(str, "sequential", choices=("sequential", "parallel")),
        "inter_op_threads": Field(int, 1, min=1),
    },
)
def _ort_availability() -> Availability:
    return modules_present("onnxruntime", install="pip install onnxruntime")


@register_runtime(
    "openvino",
    backend="hwnat.backends.openvino:OpenVINOBackend",
    packages=("openvino",),
    devices=("cpu",),
    description="OpenVINO (CPU plugin)",
    options={
        "inference_precision_hint": Field(str, "f32", choices=("f32", "f16", "bf16")),
        "performance_hint": Field(str, "LATENCY", choices=("LATENCY", "THROUGHPUT")),
        "num_streams": Field(int, 1, min=1),
    },
)
def _openvino_availability() -> Availability:
    return modules_present("openvino", install="pip install 'hwnat[openvino]'")


@register_runtime(
    "tensorrt",
    backend="hwnat.backends.tensorrt:TensorRTBackend",
    packages=("tensorrt", "cuda-python"),
    devices=("gpu",),
    description="NVIDIA TensorRT",
    options={
        "workspace_mb": Field(int, 1024, min=1),
        "strongly_typed": Field(bool, True),
        "builder_optimization_level": Field(int, 3, min=0, max=5),
    },
)
def _tensorrt_availability() -> Availability:
    return all_of(
        modules_present("tensorrt", "cuda", install="pip install 'hwnat[tensorrt]'"),
        cuda_gpu_present(),
    )


@register_runtime(
    "torch",
    backend="hwnat.backends.torch:TorchBackend",
    packages=("torch",),
    devices=("cpu", "gpu"),
    description="PyTorch eager",
    options={"channels_last": Field(bool, False)},
)
def _torch_availability() -> Availability:
    return modules_present("torch", install="pip install -c constraints.txt torch==2.13.0")


@register_runtime(
    "fake",
    backend="hwnat.backends.fake:FakeBackend",
    packages=("onnx",),
    devices=("cpu", "gpu"),
    description="Deterministic simulated timings from the ONNX graph (tests and demos; measures nothing)",
    options={
        "ns_per_mac": Field(float, 0.5, min=0.0),
        "us_per_node": Field(float, 3.0, min=0.0),
        "us_per_call": Field(float, 40.0, min=0.0),
    },
)
def _fake_availability() -> Availability:
    return modules_present("onnx", install="pip install onnx")
