"""export_subnet: convert one network to several formats, check each against PyTorch, publish them atomically."""

from __future__ import annotations

import copy
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hwnat.errors import ConfigError, HwnatError
from hwnat.export.formats import ExportFormat, parse_formats
from hwnat.export.options import ExportOptions
from hwnat.io import make_writable_dir

if TYPE_CHECKING:
    from torch import nn

    from hwnat.config.targets import TargetSpec
    from hwnat.export.data import ExportData
    from hwnat.export.parity import ParityReport
    from hwnat.models.checkpoint import SubnetInfo

log = logging.getLogger(__name__)

STATUS_SYMBOLS = {"ok": "✅", "failed-validation": "❎", "failed-export": "❌"}


@dataclass
class ExportResult:
    """One format's outcome. status: "ok" (exported and validated), "failed-validation" (exported, parity failed;
    the artifact is kept only with keep_failed) or "failed-export" (conversion failed: `error` says why)."""

    format: ExportFormat
    status: str
    path: Path | None = None
    model_file: Path | None = None
    size_bytes: int = 0
    parity: ParityReport | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def symbol(self) -> str:
        return STATUS_SYMBOLS[self.status]

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return {"format": self.format.name, "status": self.status, "symbol": self.symbol,
                "path": str(self.path) if self.path else None,
                "model_file": str(self.model_file) if self.model_file else None, "size_bytes": self.size_bytes,
                "parity": self.parity.to_dict() if self.parity else None, "error": self.error,
                "seconds": round(self.seconds, 3), **self.extra}


def default_targets(formats: Iterable[ExportFormat], targets: Mapping[str, TargetSpec | str] | None = None,
                    ) -> dict[str, TargetSpec]:
    """The target each format is validated on: `targets` by runtime name ("ort", "openvino", ...) or target
    name, else the format's own (ort-cpu, openvino-cpu, tensorrt-gpu, torch-cpu)."""
    from hwnat.config.targets import load_target

    chosen: dict[str, TargetSpec] = {}
    given = {k: (load_target(v) if isinstance(v, str) else v) for k, v in (targets or {}).items()}
    by_runtime = {spec.runtime: spec for spec in given.values()}
    for fmt in formats:
        default = load_target(fmt.target)
        chosen[fmt.name] = by_runtime.get(default.runtime, default)
    return chosen


def predicted_latency(target: TargetSpec, info: SubnetInfo) -> tuple[float | None, str]:
    """(ms, "") from the target's latency table for the space, or (None, why not)."""
    try:
        from hwnat.latency.store import find_table

        return float(find_table(target, info.space).predict(info.space, info.arch)), ""
    except HwnatError as exc:
        return None, str(exc).splitlines()[0]


def check_out_dir(out_dir: Path) -> Path:
    """`out_dir`, created; ConfigError naming it when it cannot be created or written."""
    try:
        make_writable_dir(out_dir)
    except OSError as exc:
        raise ConfigError(f"output directory {str(out_dir)!r} cannot be written: {exc.strerror or exc}") from exc
    return out_dir


def export_subnet(model: nn.Module, info: SubnetInfo, formats: str | Iterable[str | ExportFormat],
                  out_dir: str | os.PathLike[str], *, data: ExportData | None = None,
                  options: ExportOptions | None = None, targets: Mapping[str, TargetSpec | str] | None = None,
                  stem: str | None = None, seed: int = 0, keep_failed: bool = False) -> list[ExportResult]:
    """Convert `model` (a static network described by `info`) to each format in `out_dir`.

    Every artifact is built in a staging folder inside `out_dir`, checked in its runtime against PyTorch on
    `data.val` (random images when `data` is None), given its metadata, and only then renamed into place as
    `<stem><format suffix>` (stem: the arch id). Nothing half-written is left behind. Conversion errors do not
    stop the other formats: they come back as "failed-export" results.
    """
    from hwnat.export.data import random_data
    from hwnat.export.parity import torch_logits

    chosen = parse_formats(formats) if isinstance(formats, str) else [
        f if isinstance(f, ExportFormat) else parse_formats([f])[0] for f in formats]
    options = options or ExportOptions()
    out = check_out_dir(Path(out_dir))
    stem = stem or info.arch_id
    resolution = int(info.arch.resolution)
    input_shape = (1, 3, resolution, resolution)
    if data is None:
        data = random_data(input_shape, calib_images=options.calib_images, parity_images=min(options.parity_images
                           or 64, 64), seed=seed)
    data.check(input_shape)
    targets_by_format = default_targets(chosen, targets)
    net = copy.deepcopy(model).cpu().eval()
    reference = torch_logits(net, data.val)
    staging = Path(tempfile.mkdtemp(dir=out, prefix=".hwnat-export-"))
    results = []
    try:
        for fmt in chosen:
            results.append(_export_one(fmt, net, info, out, staging, stem, input_shape, options,
                                       targets_by_format[fmt.name], data, reference, seed, keep_failed))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return results


def _export_one(fmt: ExportFormat, net: nn.Module, info: SubnetInfo, out: Path, staging: Path, stem: str,
                input_shape: tuple[int, int, int, int], options: ExportOptions, target: TargetSpec,
                data: ExportData, reference: Any, seed: int, keep_failed: bool) -> ExportResult:
    from hwnat.export.convert import ConvertJob
    from hwnat.export.metadata import build_metadata, write_metadata
    from hwnat.export.parity import compare
    from hwnat.export.runners import load_artifact, run_all

    start = time.perf_counter()
    name = fmt.artifact_name(stem)
    log.info("exporting %s -> %s", fmt.name, out / name)
    job = ConvertJob(fmt, net, info, input_shape, options, target, data.calib, staging / "work", seed)
    try:
        fmt.require()
        artifact = fmt.load_converter()(job, staging / name)
    except Exception as exc:  # a failed conversion is a ❌ row, not the end of the other formats
        log.debug("export to %s failed", fmt.name, exc_info=True)
        return ExportResult(fmt, "failed-export", error=_describe(exc), seconds=time.perf_counter() - start)
    latency_ms, why = predicted_latency(target, info)
    meta = build_metadata(info, fmt, target, preprocessing=data.preprocessing, predicted_latency_ms=latency_ms,
                          options={k: getattr(options, k) for k in sorted(fmt.options)})
    meta["data"] = data.source
    meta.update({k: v for k, v in artifact.extra.items() if k == "trtexec"})
    try:
        _, compiled = load_artifact(fmt.family, artifact.model_file, target, input_shape)
        report = compare(fmt.precision, reference, run_all(compiled, data.val), data.val_labels, options)
        del compiled
    except Exception as exc:
        log.debug("validating %s failed", fmt.name, exc_info=True)
        report = None
        error = f"validation could not run: {_describe(exc)}"
    else:
        error = "" if report.passed else report.reason
    if report is not None:
        meta["parity"] = report.to_dict()
        if report.labelled:
            meta["accuracy"].update({"val_top1": report.accuracy, "val_top1_pytorch": report.reference_accuracy})
    write_metadata(fmt.family, artifact.path, meta)
    status = "ok" if report is not None and report.passed else "failed-validation"
    result = ExportResult(fmt, status, parity=report, metadata=meta, error=error, extra=dict(artifact.extra))
    if latency_ms is None:
        result.extra["predicted_latency"] = why
    if status == "ok" or keep_failed:
        final = publish(artifact.path, out / name, staging)
        moved = artifact.moved(final)
        result.path, result.model_file, result.size_bytes = final, moved.model_file, moved.size_bytes()
    result.seconds = time.perf_counter() - start
    return result


def publish(src: Path, dst: Path, staging: Path) -> Path:
    """Rename `src` (file or folder) to `dst`, replacing what was there; the old copy goes through `staging`."""
    old = None
    if dst.exists() or dst.is_symlink():
        old = staging / f".old-{dst.name}"
        os.replace(dst, old)
    os.replace(src, dst)
    if old is not None:
        shutil.rmtree(old) if old.is_dir() else old.unlink()
    return dst


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = " ".join(text[:3]) if text else ""
    return first if isinstance(exc, HwnatError) else f"{type(exc).__name__}: {first}"
