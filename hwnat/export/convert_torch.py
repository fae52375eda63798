"""PyTorch "format": the static subnet file (state dict + arch + info), the reference every other format matches."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from hwnat.export.convert import Artifact, ConvertJob
from hwnat.export.metadata import KEY


def convert_torch(job: ConvertJob, out: Path) -> Artifact:
    from hwnat.models.checkpoint import save_subnet

    save_subnet(out, job.model, job.info)  # type: ignore[arg-type]
    return Artifact(job.fmt, out, out)


def write_metadata(path: Path, metadata: dict[str, Any]) -> None:
    """The metadata under provenance["hwnat"] of the subnet file (rewritten atomically)."""
    from hwnat.models.checkpoint import load_subnet, save_subnet

    model, info = load_subnet(path)
    save_subnet(path, model, replace(info, provenance={**info.provenance, KEY: metadata}))


def read_metadata(path: Path) -> dict[str, Any]:
    from hwnat.models.checkpoint import load_subnet

    return dict(load_subnet(path)[1].provenance.get(KEY, {}))
