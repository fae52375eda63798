"""The metadata every artifact carries, and its writer and reader per format family (lazy, one registry)."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hwnat import __version__

if TYPE_CHECKING:
    from hwnat.config.targets import TargetSpec
    from hwnat.export.formats import ExportFormat
    from hwnat.models.checkpoint import SubnetInfo

METADATA_FORMAT = "hwnat.export"
METADATA_SCHEMA_VERSION = 1
KEY = "hwnat"  # ONNX metadata_props prefix, OpenVINO rt_info section, sidecar file stem

# family -> ("module:writer", "module:reader"); writer(artifact_path, metadata), reader(artifact_path) -> dict
_IO: dict[str, tuple[str, str]] = {
    "onnx": ("hwnat.export.convert_onnx:write_metadata", "hwnat.export.convert_onnx:read_metadata"),
    "openvino": ("hwnat.export.convert_openvino:write_metadata", "hwnat.export.convert_openvino:read_metadata"),
    "tensorrt": ("hwnat.export.convert_tensorrt:write_metadata", "hwnat.export.convert_tensorrt:read_metadata"),
    "torch": ("hwnat.export.convert_torch:write_metadata", "hwnat.export.convert_torch:read_metadata"),
}


def build_metadata(info: SubnetInfo, fmt: ExportFormat, target: TargetSpec, *, preprocessing: dict[str, Any],
                   predicted_latency_ms: float | None, options: dict[str, Any]) -> dict[str, Any]:
    """What an artifact records: arch, space, data, accuracy (filled in after parity), target and latency."""
    return {
        "format": METADATA_FORMAT, "schema_version": METADATA_SCHEMA_VERSION, "hwnat_version": __version__,
        "export_format": fmt.name, "precision": fmt.precision,
        "arch_id": info.arch_id, "arch": info.arch.to_dict(),
        "space": info.space.name, "variant": info.space.variant.name, "space_fingerprint": info.space.fingerprint,
        "num_classes": info.space.num_classes, "dataset": info.dataset, "class_names": list(info.class_names),
        "accuracy": {"source": dict(info.metrics)},
        "target": target.name, "target_fingerprint": target.fingerprint(),
        "predicted_latency_ms": predicted_latency_ms,
        "preprocessing": dict(preprocessing), "options": dict(options),
    }


def _load(ref: str) -> Any:
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


def write_metadata(family: str, path: Path, metadata: dict[str, Any]) -> None:
    """Embed `metadata` into the artifact at `path` (replacing what it held)."""
    plain = json.loads(json.dumps(metadata))  # plain JSON types only, whatever the caller put in
    _load(_IO[family][0])(Path(path), plain)


def read_metadata(family: str, path: Path) -> dict[str, Any]:
    """The metadata embedded in the artifact at `path`."""
    return dict(_load(_IO[family][1])(Path(path)))
