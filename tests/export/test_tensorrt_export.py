"""TensorRT formats against the fake `tensorrt` module: the build call sequence, the ONNX per precision, trtexec."""

from __future__ import annotations

import dataclasses
import sys

import pytest
from fake_tensorrt import Calls, make_modules

from hwnat.backends import registry
from hwnat.config.targets import load_target
from hwnat.export.api import export_subnet
from hwnat.export.convert import ConvertJob
from hwnat.export.convert_tensorrt import convert_tensorrt
from hwnat.export.formats import get_format
from hwnat.export.metadata import read_metadata
from hwnat.export.options import ExportOptions

TRTEXEC = ("trtexec --onnx=model.onnx --saveEngine=model.engine --stronglyTyped --memPoolSize=workspace:1024M "
           "--builderOptimizationLevel=3")


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Calls:
    recorded = Calls()
    for name, module in make_modules(recorded).items():
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setattr(registry, "cuda_gpu_present", lambda: (True, ""))
    monkeypatch.setattr("hwnat.export.formats.ExportFormat.availability", lambda self: (True, ""))
    return recorded


def _job(tiny, name: str, tmp_path) -> ConvertJob:
    model, info, data = tiny
    return ConvertJob(get_format(name), model, info, (1, 3, 32, 32), ExportOptions(), load_target("tensorrt-gpu"),
                      data.calib, tmp_path / "work")


@pytest.mark.parametrize("name, dtypes", [("tensorrt", {1}), ("tensorrt-fp16", {10}), ("tensorrt-int8", {1, 3})])
def test_engine_build_sequence_and_onnx_precision(calls: Calls, tiny, tmp_path, name: str, dtypes: set) -> None:
    import onnx

    artifact = convert_tensorrt(_job(tiny, name, tmp_path), tmp_path / "out")
    assert calls.names == ["Builder", "create_network", "OnnxParser", "parse", "create_builder_config",
                           "set_memory_pool_limit", "builder_optimization_level", "build_serialized_network"]
    assert calls.args("create_network") == [(1 << 1,)]  # strongly typed: the precision lives in the ONNX
    onnx_file = tmp_path / "out" / "model.onnx"
    assert calls.args("parse") == [(onnx_file.read_bytes(), str(onnx_file))]
    assert artifact.model_file.read_bytes() == b"fake-plan"
    proto = onnx.load(str(onnx_file))
    weight_types = {t.data_type for t in proto.graph.initializer if len(t.dims) == 4}
    assert weight_types <= dtypes and weight_types & dtypes - {1} == dtypes - {1}
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    if name == "tensorrt-int8":
        zero_points = [t for t in proto.graph.initializer if t.name.endswith("_zero_point")]
        assert zero_points and {t.data_type for t in zero_points} == {onnx.TensorProto.INT8}
    assert artifact.extra["trtexec"] == TRTEXEC
    assert TRTEXEC in (tmp_path / "out" / "trtexec.sh").read_text()


def test_export_keeps_a_failed_engine_with_metadata(calls: Calls, tiny, tmp_path) -> None:
    model, info, data = tiny
    (result,) = export_subnet(model, info, "tensorrt", tmp_path, data=data, keep_failed=True)
    assert result.status == "failed-validation"  # the fake engine outputs the input's sum, not the logits
    assert sorted(p.name for p in result.path.iterdir()) == ["hwnat.json", "model.engine", "model.onnx",
                                                             "trtexec.sh"]
    meta = read_metadata("tensorrt", result.path)
    assert meta["trtexec"] == TRTEXEC and meta["arch_id"] == info.arch_id and meta["parity"]["passed"] is False
    assert "deserialize_cuda_engine" in calls.names and "execute_async_v3" in calls.names


def test_weakly_typed_target_is_refused_for_fp16(calls: Calls, tiny, tmp_path) -> None:
    job = _job(tiny, "tensorrt-fp16", tmp_path)
    spec = job.target
    job = dataclasses.replace(job, target=dataclasses.replace(spec, options={**spec.options,
                                                                             "strongly_typed": False}))
    with pytest.raises(Exception, match="needs a strongly typed target"):
        convert_tensorrt(job, tmp_path / "out")


def test_without_tensorrt_the_row_names_the_package(tiny, tmp_path) -> None:
    model, info, data = tiny
    if get_format("tensorrt").availability()[0]:
        pytest.skip("TensorRT is installed here")
    (result,) = export_subnet(model, info, "tensorrt-int8", tmp_path, data=data)
    assert result.status == "failed-export" and "pip install 'hwnat[tensorrt]'" in result.error
    assert list(tmp_path.iterdir()) == []
