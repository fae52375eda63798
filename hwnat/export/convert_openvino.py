"""OpenVINO converters: IR with fp32 or fp16 weights, and INT8 by NNCF post-training quantisation; rt_info metadata."""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from pathlib import Path
from typing import Any

from hwnat.errors import ConfigError
from hwnat.export.convert import Artifact, ConvertJob
from hwnat.export.metadata import KEY

MODEL_XML = "model.xml"
COMPRESS = {"fp32": False, "fp16": True}


def convert_openvino(job: ConvertJob, out: Path) -> Artifact:
    """The IR of the fp32 ONNX, its weights stored as fp32 or fp16 (the format's precision)."""
    import openvino as ov

    model = ov.convert_model(str(job.base_onnx()))
    xml = _save(model, out, compress_to_fp16=COMPRESS[job.fmt.precision])
    return Artifact(job.fmt, out, xml, {"weights": job.fmt.precision})


def convert_openvino_int8(job: ConvertJob, out: Path) -> Artifact:
    """NNCF post-training quantisation (mixed preset off: symmetric, CPU) of the fp32 IR on `job.calib`."""
    import nncf
    import openvino as ov

    model = ov.convert_model(str(job.base_onnx()))
    dataset = nncf.Dataset([job.calib[i:i + 1] for i in range(len(job.calib))])
    nncf_log = logging.getLogger("nncf")
    level = nncf_log.level
    nncf_log.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            quantized = nncf.quantize(model, dataset, subset_size=len(job.calib),
                                      preset=nncf.QuantizationPreset.PERFORMANCE,
                                      target_device=nncf.TargetDevice.CPU)
    finally:
        nncf_log.setLevel(level)
    xml = _save(quantized, out, compress_to_fp16=False)
    return Artifact(job.fmt, out, xml, {"calib_images": len(job.calib), "nncf": nncf.__version__})


def _save(model: Any, out: Path, *, compress_to_fp16: bool) -> Path:
    import openvino as ov

    out.mkdir(parents=True, exist_ok=True)
    xml = out / MODEL_XML
    ov.save_model(model, str(xml), compress_to_fp16=compress_to_fp16)
    return xml


def write_metadata(path: Path, metadata: dict[str, Any]) -> None:
    """Each key as rt_info ["hwnat", key] (JSON text) in the IR's model.xml; weights are left as they are."""
    import openvino as ov

    xml = _xml(path)
    model = ov.Core().read_model(str(xml))
    for key, value in metadata.items():
        model.set_rt_info(json.dumps(value), [KEY, key])
    tmp = xml.with_name(".rewrite.xml")
    ov.save_model(model, str(tmp), compress_to_fp16=False)
    tmp.replace(xml)
    tmp.with_suffix(".bin").replace(xml.with_suffix(".bin"))


def read_metadata(path: Path) -> dict[str, Any]:
    import openvino as ov

    model = ov.Core().read_model(str(_xml(path)))
    if not model.has_rt_info([KEY]):
        raise ConfigError(f"{path}: no hwnat metadata in the OpenVINO IR's rt_info")
    section = model.get_rt_info([KEY])
    keys = section.astype(dict).keys() if hasattr(section, "astype") else section.keys()
    return {k: json.loads(model.get_rt_info([KEY, k]).astype(str)) for k in keys}


def _xml(path: Path) -> Path:
    return path / MODEL_XML if path.is_dir() else path
