"""Static subnet files: round trip with weights_only, clear errors for missing, foreign and corrupt files."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from hwnat.errors import CheckpointError
from hwnat.models.checkpoint import SubnetInfo, load_subnet, save_subnet
from hwnat.models.mobilenetv3 import build_static
from hwnat.space import get_space
from hwnat.space.sampling import sample_archs


def test_round_trip_keeps_weights_arch_and_info(tmp_path: Path) -> None:
    space = get_space("mbv3-small-input", num_classes=10)
    arch = sample_archs(space, 1, seed=3)[0]
    model = build_static(space, arch).eval()
    info = SubnetInfo(space, arch, [str(i) for i in range(10)], "digits", {"test_top1": 0.9}, {"seed": 3})
    path = save_subnet(tmp_path / "model.pt", model, info)
    loaded, got = load_subnet(path)
    assert got.arch == arch and got.space.fingerprint == space.fingerprint and got.arch_id == info.arch_id
    assert (got.class_names, got.dataset, got.metrics, got.provenance) == (info.class_names, "digits",
                                                                          {"test_top1": 0.9}, {"seed": 3})
    x = torch.randn(2, 3, arch.resolution, arch.resolution)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))


def test_bad_files_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        load_subnet(tmp_path / "missing.pt")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a torch file")
    with pytest.raises(CheckpointError, match="corrupt.pt.*cannot be read"):
        load_subnet(corrupt)
    foreign = tmp_path / "foreign.pt"
    torch.save({"format": "something-else"}, foreign)
    with pytest.raises(CheckpointError, match="not an hwnat subnet file"):
        load_subnet(foreign)
