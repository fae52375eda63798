"""ONNX Runtime backend: the contract, session options from the target and IOBinding."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from contract import BackendContract

from hwnat.backends.base import Backend, ModelSource, create_backend
from hwnat.backends.ort import OrtCompiled
from hwnat.errors import ConfigError


class TestOrt(BackendContract):
    target_name = "ort-cpu"

    def test_session_options_follow_the_target(self) -> None:
        import onnxruntime as ort

        spec = self.make_target()
        options = {**spec.options, "graph_optimization_level": "basic", "execution_mode": "parallel",
                   "inter_op_threads": 2}
        backend = create_backend(dataclasses.replace(spec, threads=3, options=options))
        so = backend.session_options()
        assert (so.intra_op_num_threads, so.inter_op_num_threads) == (3, 2)
        assert so.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        assert so.execution_mode == ort.ExecutionMode.ORT_PARALLEL

    def test_session_uses_the_execution_provider(self, compiled: OrtCompiled) -> None:
        assert compiled.session.get_providers() == ["CPUExecutionProvider"]

    def test_missing_execution_provider_is_named(self, small_source: ModelSource) -> None:
        import onnxruntime as ort

        spec = self.make_target()
        absent = next(p for p in ("CoreMLExecutionProvider", "ACLExecutionProvider", "TensorrtExecutionProvider")
                      if p not in ort.get_available_providers())
        backend = create_backend(dataclasses.replace(spec, options={**spec.options, "execution_provider": absent}))
        with pytest.raises(ConfigError, match=f"options.execution_provider '{absent}'"):
            backend.compile(small_source)

    def test_wrong_input_shape_is_refused(self, backend: Backend, small_source: ModelSource) -> None:
        with pytest.raises(ConfigError, match=r"input shape \(1, 3, 32, 32\), not \(1, 3, 40, 40\)"):
            backend.compile(dataclasses.replace(small_source, input_shape=(1, 3, 40, 40)))

    def test_bind_rebinds_a_new_input(self, compiled: OrtCompiled, small_source: ModelSource) -> None:
        x = np.ones(small_source.input_shape, np.float32)
        compiled.bind(np.zeros_like(x))()
        expected = compiled.run(x)
        compiled.bind(x)()
        np.testing.assert_array_equal(compiled.outputs[0], expected)
