"""What a converter receives (ConvertJob) and returns (Artifact), and the shared fp32 ONNX every route starts from."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from torch import nn

    from hwnat.config.targets import TargetSpec
    from hwnat.export.formats import ExportFormat
    from hwnat.export.options import ExportOptions
    from hwnat.models.checkpoint import SubnetInfo


@dataclass
class ConvertJob:
    """One format to produce from one network. `work` is a scratch folder shared by the formats of one export
    (the fp32 ONNX is exported into it once); `calib` holds preprocessed training images for INT8 routes."""

    fmt: ExportFormat
    model: nn.Module
    info: SubnetInfo
    input_shape: tuple[int, int, int, int]
    options: ExportOptions
    target: TargetSpec
    calib: np.ndarray
    work: Path
    seed: int = 0

    def base_onnx(self) -> Path:
        """The fp32 ONNX of the network (fixed opset, simplified when options.simplify), exported once per job set."""
        from hwnat.export.convert_onnx import export_base_onnx

        path = self.work / f"base-opset{self.options.opset}{'-slim' if self.options.simplify else ''}.onnx"
        if not path.is_file():
            export_base_onnx(self.model, self.input_shape, path, self.options.opset, self.options.simplify)
        return path


@dataclass
class Artifact:
    """A converter's output: `path` is the file or folder to publish, `model_file` the file a runtime loads."""

    fmt: ExportFormat
    path: Path
    model_file: Path
    extra: dict[str, Any] = field(default_factory=dict)

    def size_bytes(self) -> int:
        if self.path.is_dir():
            return sum(p.stat().st_size for p in self.path.rglob("*") if p.is_file())
        return self.path.stat().st_size if self.path.exists() else 0

    def moved(self, path: Path) -> Artifact:
        """The same artifact after its file or folder was renamed to `path`."""
        inner = self.model_file.relative_to(self.path) if self.model_file != self.path else None
        return Artifact(self.fmt, path, path / inner if inner is not None else path, dict(self.extra))


def copy_file(src: Path, dst: Path) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    return dst
