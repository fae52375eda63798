"""OpenVINO backend: the contract, the CPU plugin properties from the target and the one reused infer request."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from contract import BackendContract

from hwnat.backends.base import Backend, ModelSource, create_backend
from hwnat.backends.openvino import OpenVINOCompiled
from hwnat.errors import ConfigError


@pytest.mark.openvino
class TestOpenVINO(BackendContract):
    target_name = "openvino-cpu"

    def test_compiled_with_the_target_properties(self, compiled: OpenVINOCompiled) -> None:
        import openvino as ov

        assert compiled.compiled.get_property("INFERENCE_PRECISION_HINT") == ov.Type.f32
        assert int(compiled.compiled.get_property("INFERENCE_NUM_THREADS")) == 1
        assert str(compiled.compiled.get_property("PERFORMANCE_HINT")) == "LATENCY"
        assert int(compiled.compiled.get_property("NUM_STREAMS")) == 1

    def test_threads_follow_the_target(self, small_source: ModelSource) -> None:
        backend = create_backend(dataclasses.replace(self.make_target(), threads=2))
        assert backend.compile_config()["INFERENCE_NUM_THREADS"] == "2"
        compiled = backend.compile(small_source)
        assert int(compiled.compiled.get_property("INFERENCE_NUM_THREADS")) == 2

    def test_one_infer_request_is_reused(self, compiled: OpenVINOCompiled, small_source: ModelSource) -> None:
        request = compiled.request
        x = np.ones(small_source.input_shape, np.float32)
        call = compiled.bind(x)
        call()
        compiled.run(np.zeros_like(x))
        assert compiled.request is request
        assert compiled.bind(x) == request.infer

    def test_wrong_input_shape_is_refused(self, backend: Backend, small_source: ModelSource) -> None:
        with pytest.raises(ConfigError, match=r"input shape \(1, 3, 32, 32\), not \(1, 3, 40, 40\)"):
            backend.compile(dataclasses.replace(small_source, input_shape=(1, 3, 40, 40)))
