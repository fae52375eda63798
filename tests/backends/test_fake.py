"""The deterministic fake backend: the contract (zeros, simulated timings) and reproducible statistics."""

from __future__ import annotations

from pathlib import Path

from contract import BackendContract

from hwnat.backends.base import Backend, CompiledModel, ModelSource, create_backend
from hwnat.config.targets import load_target


class TestFake(BackendContract):
    target_name = "fake-cpu"
    numerically_exact = False
    real_timing = False

    def test_measure_is_deterministic(self, backend: Backend, compiled: CompiledModel) -> None:
        first, second = backend.measure(compiled), backend.measure(compiled, seed=7)
        assert first == second and first.n == backend.spec.timing.min_runs

    def test_bigger_models_take_longer(self, backend: Backend, small_source: ModelSource, compiled: CompiledModel,
                                       tmp_path: Path) -> None:
        import dataclasses

        import torch

        from hwnat.backends.onnx_export import export_onnx
        from hwnat.models import build_static
        from hwnat.space import get_space, max_arch

        space = get_space("mbv3-small-input")
        torch.manual_seed(0)
        big = build_static(space, dataclasses.replace(max_arch(space, 0.5), resolution=32))
        path = export_onnx(big, small_source.input_shape, tmp_path / "max.onnx")
        bigger = backend.compile(ModelSource(small_source.input_shape, onnx_path=path))
        assert backend.measure(bigger).p50_ms > backend.measure(compiled).p50_ms

    def test_shipped_target_runs(self, small_source: ModelSource) -> None:
        backend = create_backend(load_target("fake-cpu"))
        assert backend.measure(backend.compile(small_source)).n == 5
