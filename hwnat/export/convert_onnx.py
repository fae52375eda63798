"""ONNX converters: fp32 (fixed opset, onnxslim-simplified) and INT8 (ONNX Runtime static QDQ), and their metadata."""

from __future__ import annotations

import contextlib
import json
import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hwnat.errors import ConfigError
from hwnat.export.convert import Artifact, ConvertJob, copy_file
from hwnat.export.metadata import KEY

if TYPE_CHECKING:
    from torch import nn

log = logging.getLogger(__name__)


def export_base_onnx(model: nn.Module, input_shape: tuple[int, ...], path: Path, opset: int,
                     simplify: bool) -> Path:
    """The TorchScript export of a static network (one file, input "input", output "output"), then onnxslim."""
    import onnx

    from hwnat.backends.onnx_export import export_onnx

    path.parent.mkdir(parents=True, exist_ok=True)
    raw = path.with_name(path.stem + ".raw.onnx")
    export_onnx(model, tuple(input_shape), raw, opset=opset)
    proto = onnx.load(str(raw))
    if simplify:
        import onnxslim

        with _quiet():
            proto = onnxslim.slim(proto)
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))
    raw.unlink()
    return path


def convert_onnx(job: ConvertJob, out: Path) -> Artifact:
    """The fp32 ONNX file."""
    path = copy_file(job.base_onnx(), out)
    return Artifact(job.fmt, path, path, {"opset": job.options.opset, "simplified": job.options.simplify})


def convert_onnx_int8(job: ConvertJob, out: Path) -> Artifact:
    """Static QDQ quantisation for ONNX Runtime on CPU: uint8 activations (asymmetric), int8 per-channel weights,
    MinMax calibration on `job.calib` training images."""
    path = quantize_qdq(job.base_onnx(), out, job.calib, symmetric_activations=False)
    return Artifact(job.fmt, path, path, {"opset": job.options.opset, "calib_images": len(job.calib),
                                          "activations": "uint8", "weights": "int8 per-channel"})


def quantize_qdq(src: Path, dst: Path, calib: np.ndarray, *, symmetric_activations: bool) -> Path:
    """Q/DQ-quantise `src` into `dst`. Symmetric int8 activations with float biases are what TensorRT's explicit
    quantisation reads; ONNX Runtime's CPU kernels prefer asymmetric uint8 activations and int32 biases."""
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    input_name = onnx.load(str(src), load_external_data=False).graph.input[0].name

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.rows = iter(range(len(calib)))

        def get_next(self) -> dict[str, np.ndarray] | None:
            i = next(self.rows, None)
            return None if i is None else {input_name: calib[i:i + 1]}

    dst.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="hwnat-qdq-") as tmp, _quiet():
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)  # shape inference + ORT graph fusions
        quantize_static(str(pre), str(Path(tmp) / "q.onnx"), Reader(), quant_format=QuantFormat.QDQ,
                        activation_type=QuantType.QInt8 if symmetric_activations else QuantType.QUInt8,
                        weight_type=QuantType.QInt8, per_channel=True, calibrate_method=CalibrationMethod.MinMax,
                        extra_options={"ActivationSymmetric": symmetric_activations, "WeightSymmetric": True,
                                       "QuantizeBias": not symmetric_activations})
        copy_file(Path(tmp) / "q.onnx", dst)
    return dst


def to_fp16(src: Path, dst: Path) -> Path:
    """The ONNX with fp16 weights and arithmetic and fp32 input/output (for strongly typed TensorRT)."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    proto = convert_float_to_float16(onnx.load(str(src)), keep_io_types=True)
    dst.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(proto, str(dst))
    return dst


def write_metadata(path: Path, metadata: dict[str, Any]) -> None:
    """Each metadata key as `hwnat.<key>` in the model's metadata_props, its value as JSON."""
    import onnx

    proto = onnx.load(str(path))
    keep = [p for p in proto.metadata_props if not p.key.startswith(f"{KEY}.")]
    del proto.metadata_props[:]
    proto.metadata_props.extend(keep)
    for key, value in metadata.items():
        proto.metadata_props.add(key=f"{KEY}.{key}", value=json.dumps(value))
    onnx.save(proto, str(path))


def read_metadata(path: Path) -> dict[str, Any]:
    import onnx

    proto = onnx.load(str(path), load_external_data=False)
    props = {p.key.removeprefix(f"{KEY}."): p.value for p in proto.metadata_props if p.key.startswith(f"{KEY}.")}
    if not props:
        raise ConfigError(f"{path}: no hwnat metadata in the ONNX file")
    return {k: json.loads(v) for k, v in props.items()}


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Keep converter chatter (progress bars, prints) off stdout, which --json output owns."""
    import sys

    with contextlib.redirect_stdout(sys.stderr):
        yield
