"""Fixtures for export tests: a tiny BN-calibrated subnet of mbv3-small-input (32 px, w0.5) and digits images."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "backends"))  # fake_tensorrt


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread():
    """One intra-op thread: on the shared 2-core machine a second one makes small convolutions several times slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny(_one_torch_thread):
    """(model, info, data): the smallest w0.5 subnet at 32 px, BN statistics from digits training images."""
    import torch

    from hwnat.data import digits_dataset
    from hwnat.export.data import dataset_data
    from hwnat.models import build_static
    from hwnat.models.checkpoint import SubnetInfo
    from hwnat.space import get_space, min_arch
    from hwnat.supernet import recalibrate_bn

    torch.manual_seed(0)
    space = get_space("mbv3-small-input")
    arch = dataclasses.replace(min_arch(space, 0.5), resolution=32)
    model = build_static(space, arch)
    ds = digits_dataset()
    data = dataset_data(ds, 32, val=0.2, seed=0, calib_images=32, parity_images=60, test_images=60)
    recalibrate_bn(model, [torch.from_numpy(data.calib)])
    info = SubnetInfo(space, arch, list(ds.classes), "digits", {"val_top1": 0.5}, {"split": {"val": 0.2, "seed": 0}})
    return model.eval(), info, data


@pytest.fixture(scope="session")
def tiny_checkpoint(tiny, tmp_path_factory) -> Path:
    from hwnat.models.checkpoint import save_subnet

    model, info, _ = tiny
    return save_subnet(tmp_path_factory.mktemp("ckpt") / "model.pt", model, info)
