"""Static subnet files: a plain state dict with the arch, its space and its provenance, loaded with weights_only."""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from hwnat import __version__
from hwnat.errors import CheckpointError
from hwnat.io import atomic_write_bytes
from hwnat.models.mobilenetv3 import MobileNetV3, build_static
from hwnat.space.arch import Arch
from hwnat.space.spec import SearchSpace

SUBNET_FORMAT = "hwnat.subnet"
SUBNET_SCHEMA_VERSION = 1


@dataclass
class SubnetInfo:
    """What a subnet file records besides its weights (JSON-serialisable)."""

    space: SearchSpace
    arch: Arch
    class_names: list[str] = field(default_factory=list)
    dataset: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)      # e.g. {"val_top1": 0.91, "test_top1": 0.9}
    provenance: dict[str, Any] = field(default_factory=dict)   # e.g. {"supernet": "...", "finetune": {...}}

    @property
    def arch_id(self) -> str:
        from hwnat.space.genome import arch_id

        return arch_id(self.space, self.arch)

    def to_dict(self) -> dict[str, Any]:
        return {"space": json.loads(json.dumps(self.space.to_dict())), "space_fingerprint": self.space.fingerprint,
                "arch": self.arch.to_dict(), "arch_id": self.arch_id, "class_names": list(self.class_names),
                "dataset": self.dataset, "metrics": dict(self.metrics), "provenance": dict(self.provenance)}


def save_subnet(path: str | os.PathLike[str], model: MobileNetV3, info: SubnetInfo) -> Path:
    """Write `model`'s state dict and `info` atomically (a reader never sees half a file)."""
    payload = {"format": SUBNET_FORMAT, "schema_version": SUBNET_SCHEMA_VERSION, "hwnat_version": __version__,
               **info.to_dict(), "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}}
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return atomic_write_bytes(path, buffer.getvalue())


def load_subnet(path: str | os.PathLike[str]) -> tuple[MobileNetV3, SubnetInfo]:
    """The network and its info; any unreadable, foreign or mismatching file is a CheckpointError naming it."""
    file = Path(path)
    if not file.is_file():
        raise CheckpointError(f"subnet file {str(file)!r} does not exist")
    try:
        data = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated, corrupt or unsafe files raise many types
        raise CheckpointError(f"subnet file {str(file)!r} cannot be read ({type(exc).__name__}: {exc})") from exc
    if not isinstance(data, dict) or data.get("format") != SUBNET_FORMAT:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise CheckpointError(f"{str(file)!r} is not an hwnat subnet file (format {found!r}, expected "
                              f"{SUBNET_FORMAT!r})")
    if data.get("schema_version") != SUBNET_SCHEMA_VERSION:
        raise CheckpointError(f"{str(file)!r} has schema version {data.get('schema_version')!r}; this hwnat "
                              f"reads {SUBNET_SCHEMA_VERSION}")
    try:
        space = SearchSpace.from_dict(data["space"])
        arch = Arch.from_dict(data["arch"]).validate(space)
    except Exception as exc:
        raise CheckpointError(f"subnet file {str(file)!r} holds an invalid space or arch: {exc}") from exc
    info = SubnetInfo(space, arch, list(data.get("class_names", [])), str(data.get("dataset", "")),
                      dict(data.get("metrics", {})), dict(data.get("provenance", {})))
    model = build_static(space, arch)
    try:
        model.load_state_dict(data["state_dict"], strict=True)
    except (RuntimeError, KeyError) as exc:
        raise CheckpointError(f"subnet file {str(file)!r}: weights do not fit arch {info.arch_id}: {exc}") from exc
    return model.eval(), info
