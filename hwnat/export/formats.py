"""The formats table: one registry that drives option validation, file naming, runtimes and the benchmark."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hwnat.errors import ConfigError, RuntimeUnavailableError, unknown_name

if TYPE_CHECKING:
    from pathlib import Path

    from hwnat.export.convert import Artifact, ConvertJob

PRECISIONS = ("fp32", "fp16", "int8")


@dataclass(frozen=True)
class ExportFormat:
    """One row of the formats table.

    `artifact` is the file (or folder, ending in "/") name with "{stem}" for the model's name; `model_file` is the
    file inside a folder artifact that a runtime loads. `modules` must be importable to convert (`install` says
    how to get them); `target` is the target the artifact is validated and benchmarked on; `options` are the
    ExportOptions fields this format accepts; `converter` is "module:function", imported only when used.
    """

    name: str
    title: str
    family: str
    precision: str
    artifact: str
    model_file: str
    target: str
    modules: tuple[str, ...]
    install: str
    options: frozenset[str]
    converter: str
    description: str = ""

    @property
    def is_dir(self) -> bool:
        return self.artifact.endswith("/")

    def artifact_name(self, stem: str) -> str:
        """File or folder name of this format's artifact for a model called `stem` (no trailing slash)."""
        return self.artifact.format(stem=stem).rstrip("/")

    def availability(self) -> tuple[bool, str]:
        """(True, "") when every module it converts with is importable, else (False, the install hint)."""
        for module in self.modules:
            try:
                found = importlib.util.find_spec(module) is not None
            except (ImportError, ValueError):
                found = False
            if not found:
                return False, f"{module} is not installed: {self.install}"
        return True, ""

    def require(self) -> None:
        """RuntimeUnavailableError naming the package to install when the format cannot be produced here."""
        ok, reason = self.availability()
        if not ok:
            raise RuntimeUnavailableError(f"format {self.name!r}: {reason}")

    def load_converter(self) -> Callable[[ConvertJob, Path], Artifact]:
        module_name, _, attr = self.converter.partition(":")
        return getattr(importlib.import_module(module_name), attr)  # type: ignore[no-any-return]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "family": self.family, "precision": self.precision,
                "artifact": self.artifact, "target": self.target, "options": sorted(self.options),
                "install": self.install, "available": self.availability()[0], "description": self.description}


_FORMATS: dict[str, ExportFormat] = {}


def register_format(fmt: ExportFormat) -> ExportFormat:
    """Add a format to the table (a name may be registered once)."""
    if fmt.name in _FORMATS:
        raise ValueError(f"format {fmt.name!r} is already registered")
    if fmt.precision not in PRECISIONS:
        raise ValueError(f"format {fmt.name!r}: precision {fmt.precision!r} is not one of {PRECISIONS}")
    _FORMATS[fmt.name] = fmt
    return fmt


def format_names() -> list[str]:
    """Registered format names in table order."""
    return list(_FORMATS)


def get_format(name: str) -> ExportFormat:
    """The registered format `name`, or ConfigError with a did-you-mean hint and the allowed names."""
    try:
        return _FORMATS[name]
    except KeyError:
        raise ConfigError(unknown_name("format", name, _FORMATS)) from None


def parse_formats(text: str | Iterable[str]) -> list[ExportFormat]:
    """Formats from "onnx,openvino-int8" (or a list of names; "all" means every format), without duplicates."""
    names = [n.strip() for n in (text.split(",") if isinstance(text, str) else text)]
    names = [n for n in names if n]
    if not names:
        raise ConfigError(f"no format given; allowed: {', '.join(format_names())}, all")
    if "all" in names:
        return list(_FORMATS.values())
    return [get_format(n) for n in dict.fromkeys(names)]


_ONNX_OPTS = frozenset({"opset", "simplify"})
_CHANGE = frozenset({"max_drop"})
_INT8 = frozenset({"calib_images", "max_drop"})
_FP32 = frozenset({"atol"})

for _fmt in (
    ExportFormat("torch", "PyTorch", "torch", "fp32", "{stem}.pt", "", "torch-cpu", ("torch",),
                 "pip install -c constraints.txt torch==2.13.0", frozenset(), "hwnat.export.convert_torch:convert_torch",
                 "static subnet file (state dict + arch), the reference"),
    ExportFormat("onnx", "ONNX", "onnx", "fp32", "{stem}.onnx", "", "ort-cpu", ("onnx", "onnxslim", "onnxruntime"),
                 "pip install onnx onnxslim onnxruntime", _ONNX_OPTS | _FP32, "hwnat.export.convert_onnx:convert_onnx",
                 "single file, fixed opset, simplified"),
    ExportFormat("onnx-int8", "ONNX INT8", "onnx", "int8", "{stem}-int8.onnx", "", "ort-cpu",
                 ("onnx", "onnxslim", "onnxruntime"), "pip install onnx onnxslim onnxruntime", _ONNX_OPTS | _INT8,
                 "hwnat.export.convert_onnx:convert_onnx_int8", "ONNX Runtime static QDQ quantisation"),
    ExportFormat("openvino", "OpenVINO", "openvino", "fp32", "{stem}_openvino_model/", "model.xml", "openvino-cpu",
                 ("openvino",), "pip install 'hwnat[openvino]'", _FP32,
                 "hwnat.export.convert_openvino:convert_openvino", "OpenVINO IR, fp32 weights"),
    ExportFormat("openvino-fp16", "OpenVINO FP16", "openvino", "fp16", "{stem}_openvino_fp16_model/", "model.xml",
                 "openvino-cpu", ("openvino",), "pip install 'hwnat[openvino]'", _CHANGE,
                 "hwnat.export.convert_openvino:convert_openvino", "OpenVINO IR, fp16 weights"),
    ExportFormat("openvino-int8", "OpenVINO INT8", "openvino", "int8", "{stem}_openvino_int8_model/", "model.xml",
                 "openvino-cpu", ("openvino", "nncf"), "pip install 'hwnat[openvino]'", _INT8,
                 "hwnat.export.convert_openvino:convert_openvino_int8", "NNCF post-training quantisation"),
    ExportFormat("tensorrt", "TensorRT", "tensorrt", "fp32", "{stem}_tensorrt_model/", "model.engine",
                 "tensorrt-gpu", ("tensorrt", "cuda"), "pip install 'hwnat[tensorrt]'", _ONNX_OPTS | _FP32,
                 "hwnat.export.convert_tensorrt:convert_tensorrt", "strongly typed engine + trtexec line"),
    ExportFormat("tensorrt-fp16", "TensorRT FP16", "tensorrt", "fp16", "{stem}_tensorrt_fp16_model/", "model.engine",
                 "tensorrt-gpu", ("tensorrt", "cuda"), "pip install 'hwnat[tensorrt]'", _ONNX_OPTS | _CHANGE,
                 "hwnat.export.convert_tensorrt:convert_tensorrt", "strongly typed engine from an fp16 ONNX"),
    ExportFormat("tensorrt-int8", "TensorRT INT8", "tensorrt", "int8", "{stem}_tensorrt_int8_model/",
                 "model.engine", "tensorrt-gpu", ("tensorrt", "cuda", "onnxruntime"), "pip install 'hwnat[tensorrt]'",
                 _ONNX_OPTS | _INT8, "hwnat.export.convert_tensorrt:convert_tensorrt",
                 "strongly typed engine from a Q/DQ ONNX"),
):
    register_format(_fmt)
