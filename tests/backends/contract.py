"""The contract every runtime backend's test class inherits: availability, compile, parity, timing and errors."""

from __future__ import annotations

import dataclasses
import importlib
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import pytest

from hwnat.backends.base import Backend, CompiledModel, ModelSource, TimingStats, create_backend
from hwnat.backends.registry import get_runtime, target_availability
from hwnat.config.targets import TargetSpec, TimingSpec, load_target
from hwnat.errors import HwnatError, RuntimeUnavailableError

if TYPE_CHECKING:
    from torch import nn

FAST_TIMING = TimingSpec(warmup=2, min_runs=5, min_time_s=0.01)


def torch_reference(module: nn.Module, x: np.ndarray) -> np.ndarray:
    import torch

    with torch.inference_mode():
        return module(torch.from_numpy(x)).numpy()


class BackendContract:
    """Subclass with `target_name` (or override make_target); tests skip where the target cannot run."""

    target_name: ClassVar[str]
    numerically_exact: ClassVar[bool] = True
    parity_atol: ClassVar[float] = 1e-4
    real_timing: ClassVar[bool] = True
    compiles_onnx: ClassVar[bool] = True

    @classmethod
    def make_target(cls) -> TargetSpec:
        return dataclasses.replace(load_target(cls.target_name), timing=FAST_TIMING)

    @classmethod
    def backend_class(cls) -> type[Backend]:
        module, _, attr = get_runtime(cls.make_target().runtime).backend.partition(":")
        return getattr(importlib.import_module(module), attr)

    @pytest.fixture(scope="class")
    @classmethod
    def backend(cls) -> Backend:
        spec = cls.make_target()
        ok, reason = target_availability(spec)
        if not ok:
            pytest.skip(f"{spec.name}: {reason}")
        return create_backend(spec)

    @pytest.fixture(scope="class")
    @classmethod
    def compiled(cls, backend: Backend, small_source: ModelSource) -> CompiledModel:
        return backend.compile(small_source)

    def test_availability_is_a_bool_and_a_reason(self) -> None:
        ok, reason = self.backend_class().availability()
        assert isinstance(ok, bool) and isinstance(reason, str)
        assert ok or reason.strip()

    def test_unavailable_runtime_names_the_fix(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr("importlib.util.find_spec", lambda name, package=None: None)
        ok, reason = self.backend_class().availability()
        assert not ok and "pip install" in reason
        with pytest.raises(RuntimeUnavailableError, match="pip install"):
            create_backend(self.make_target())

    def test_runtime_version_and_device_name(self, backend: Backend) -> None:
        assert isinstance(backend.runtime_version(), str) and backend.runtime_version().strip()
        assert isinstance(backend.device_name(), str) and backend.device_name().strip()

    def test_output_shape(self, compiled: CompiledModel, small_source: ModelSource, small_model: nn.Module) -> None:
        x = np.zeros(small_source.input_shape, np.float32)
        out = compiled.run(x)
        assert isinstance(out, np.ndarray)
        assert out.shape == torch_reference(small_model, x).shape

    def test_matches_torch(self, compiled: CompiledModel, small_source: ModelSource, small_model: nn.Module) -> None:
        if not self.numerically_exact:
            pytest.skip("this backend's outputs are not numerical")
        rng = np.random.default_rng(1)
        x1, x2 = (rng.standard_normal(small_source.input_shape).astype(np.float32) for _ in range(2))
        out1 = compiled.run(x1)
        kept = out1.copy()
        out2 = compiled.run(x2)
        np.testing.assert_allclose(out1, torch_reference(small_model, x1), rtol=0, atol=self.parity_atol)
        np.testing.assert_allclose(out2, torch_reference(small_model, x2), rtol=0, atol=self.parity_atol)
        np.testing.assert_array_equal(out1, kept)

    def test_measure_returns_robust_stats(self, backend: Backend, compiled: CompiledModel) -> None:
        stats = backend.measure(compiled)
        timing = backend.spec.timing
        assert isinstance(stats, TimingStats)
        assert stats.n >= timing.min_runs
        assert 0 < stats.p50_ms <= stats.p90_ms
        assert stats.mean_ms > 0 and stats.std_ms >= 0

    def test_time_calls_honours_warmup_and_min_time(
        self, compiled: CompiledModel, small_source: ModelSource, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        if not self.real_timing:
            pytest.skip("this backend simulates its timings")
        calls = 0
        bind = compiled.bind

        def counting_bind(x: np.ndarray) -> Callable[[], object]:
            call = bind(x)

            def counted() -> object:
                nonlocal calls
                calls += 1
                return call()

            return counted

        monkeypatch.setattr(compiled, "bind", counting_bind)
        timing = TimingSpec(warmup=3, min_runs=2, min_time_s=0.05)
        x = np.zeros(small_source.input_shape, np.float32)
        start = time.perf_counter()
        samples = compiled.time_calls(x, timing)
        wall = time.perf_counter() - start
        assert len(samples) >= timing.min_runs
        assert calls == timing.warmup + len(samples)
        assert wall >= timing.min_time_s
        assert all(s > 0 for s in samples) and sum(samples) <= wall

    def test_corrupt_onnx_names_the_file(self, backend: Backend, small_source: ModelSource, tmp_path: Path) -> None:
        if not self.compiles_onnx:
            pytest.skip("this backend does not compile ONNX")
        bad = tmp_path / "corrupt.onnx"
        bad.write_bytes(b"\x08\x07this is not an ONNX model\xff\xfe")
        with pytest.raises(HwnatError, match=re.escape(str(bad))):
            backend.compile(ModelSource(small_source.input_shape, onnx_path=bad, module=small_source.module))

    def test_missing_onnx_names_the_file(self, backend: Backend, small_source: ModelSource, tmp_path: Path) -> None:
        if not self.compiles_onnx:
            pytest.skip("this backend does not compile ONNX")
        missing = tmp_path / "missing.onnx"
        with pytest.raises(HwnatError, match=re.escape(str(missing))):
            backend.compile(ModelSource(small_source.input_shape, onnx_path=missing, module=small_source.module))
