"""Fixtures of the backend tests: one small static MobileNetV3 (w0.5, min arch, 32 px) and its ONNX export."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from hwnat.backends.base import ModelSource

if TYPE_CHECKING:
    from torch import nn

pytest.register_assert_rewrite("contract", "fake_tensorrt")

SPACE = "mbv3-small-input"
INPUT_SHAPE = (1, 3, 32, 32)
NUM_CLASSES = 10


@pytest.fixture(scope="session")
def small_model() -> nn.Module:
    import torch

    from hwnat.models import build_static
    from hwnat.space import get_space, min_arch

    space = get_space(SPACE)
    torch.manual_seed(0)
    return build_static(space, dataclasses.replace(min_arch(space, 0.5), resolution=32)).eval()


@pytest.fixture(scope="session")
def small_onnx(small_model: nn.Module, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from hwnat.backends.onnx_export import export_onnx

    return export_onnx(small_model, INPUT_SHAPE, tmp_path_factory.mktemp("onnx") / "mbv3-min-w0.5-r32.onnx")


@pytest.fixture(scope="session")
def small_source(small_model: nn.Module, small_onnx: Path) -> ModelSource:
    return ModelSource(INPUT_SHAPE, onnx_path=small_onnx, module=small_model)
