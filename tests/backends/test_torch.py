"""PyTorch eager backend: the contract, the module requirement, threads and channels_last."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from contract import BackendContract, torch_reference
from torch import nn

from hwnat.backends.base import Backend, ModelSource, create_backend
from hwnat.errors import ConfigError


class ThreadProbe(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[int] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(torch.get_num_threads())
        return x * 2


class TestTorch(BackendContract):
    target_name = "torch-cpu"
    compiles_onnx = False

    def test_module_is_required(self, backend: Backend, small_onnx: Path) -> None:
        with pytest.raises(ConfigError, match="ModelSource.module is not set"):
            backend.compile(ModelSource((1, 3, 32, 32), onnx_path=small_onnx))

    def test_compiles_a_private_eval_copy(self, backend: Backend, small_source: ModelSource) -> None:
        small_source.module.train()
        try:
            compiled = backend.compile(small_source)
        finally:
            small_source.module.eval()
        assert compiled.module is not small_source.module and not compiled.module.training

    def test_threads_set_for_the_measurement_and_restored(self) -> None:
        backend = create_backend(dataclasses.replace(self.make_target(), threads=1))
        probe = ThreadProbe()
        compiled = backend.compile(ModelSource((1, 4), module=probe))
        before = torch.get_num_threads()
        torch.set_num_threads(2)
        try:
            backend.measure(compiled)
            assert torch.get_num_threads() == 2
        finally:
            torch.set_num_threads(before)
        assert set(compiled.module.seen) == {1}

    def test_channels_last(self, small_source: ModelSource) -> None:
        spec = self.make_target()
        backend = create_backend(dataclasses.replace(spec, options={**spec.options, "channels_last": True}))
        compiled = backend.compile(small_source)
        conv = next(m for m in compiled.module.modules() if isinstance(m, nn.Conv2d))
        assert conv.weight.is_contiguous(memory_format=torch.channels_last)
        x = np.random.default_rng(2).standard_normal(small_source.input_shape).astype(np.float32)
        np.testing.assert_allclose(compiled.run(x), torch_reference(small_source.module, x), rtol=0, atol=1e-4)
