"""TensorRT converter: a strongly typed engine from an fp32, fp16 or Q/DQ INT8 ONNX, with its trtexec line and a
JSON sidecar for metadata (an engine plan has no place for it)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hwnat.errors import ConfigError
from hwnat.export.convert import Artifact, ConvertJob, copy_file
from hwnat.export.metadata import KEY

ONNX_FILE, ENGINE_FILE, TRTEXEC_FILE, METADATA_FILE = "model.onnx", "model.engine", "trtexec.sh", f"{KEY}.json"


def engine_onnx(job: ConvertJob, dst: Path) -> Path:
    """The ONNX the engine is built from: the fp32 graph, cast to fp16, or Q/DQ-quantised with symmetric int8."""
    from hwnat.export.convert_onnx import quantize_qdq, to_fp16

    base = job.base_onnx()
    if job.fmt.precision == "fp16":
        return to_fp16(base, dst)
    if job.fmt.precision == "int8":
        return quantize_qdq(base, dst, job.calib, symmetric_activations=True)
    return copy_file(base, dst)


def convert_tensorrt(job: ConvertJob, out: Path) -> Artifact:
    """Folder with model.onnx, model.engine (built on this machine's GPU) and trtexec.sh (the same build)."""
    from hwnat.backends.base import create_backend
    from hwnat.backends.tensorrt import TensorRTBackend

    job.fmt.require()
    backend = create_backend(job.target)
    if not isinstance(backend, TensorRTBackend):
        raise ConfigError(f"format {job.fmt.name!r} builds on a TensorRT target; {job.target.name!r} runs "
                          f"{job.target.runtime!r}")
    if not job.target.options["strongly_typed"] and job.fmt.precision != "fp32":
        raise ConfigError(f"format {job.fmt.name!r} sets its precision in the ONNX and needs a strongly typed "
                          f"target; {job.target.name!r} has options.strongly_typed = false")
    out.mkdir(parents=True, exist_ok=True)
    onnx_path = engine_onnx(job, out / ONNX_FILE)
    engine = out / ENGINE_FILE
    engine.write_bytes(backend.build_engine(onnx_path))
    command = trtexec_line(backend, job.fmt.precision)
    (out / TRTEXEC_FILE).write_text(f"#!/bin/sh\n# builds {ENGINE_FILE} as hwnat did; run it in this folder\n"
                                    f"cd \"$(dirname \"$0\")\" && {command}\n")
    return Artifact(job.fmt, out, engine, {"trtexec": command, "tensorrt": backend.runtime_version()})


def trtexec_line(backend: Any, precision: str) -> str:
    """trtexec for model.onnx -> model.engine with the target's builder settings (paths relative to the folder)."""
    return str(backend.trtexec_command(ONNX_FILE, ENGINE_FILE))


def write_metadata(path: Path, metadata: dict[str, Any]) -> None:
    (path / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n")


def read_metadata(path: Path) -> dict[str, Any]:
    file = path / METADATA_FILE
    if not file.is_file():
        raise ConfigError(f"{path}: no {METADATA_FILE} beside the engine")
    return dict(json.loads(file.read_text()))
