"""export_subnet round trips: every runnable format matches PyTorch, carries metadata, and is written atomically."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from hwnat.errors import ConfigError
from hwnat.export.api import export_subnet
from hwnat.export.formats import get_format
from hwnat.export.metadata import read_metadata
from hwnat.export.options import ExportOptions
from hwnat.export.parity import compare

OPTIONS = ExportOptions(calib_images=32, max_drop=100.0, parity_images=60)


def _check_metadata(result, info) -> None:
    meta = read_metadata(result.format.family, result.path)
    assert meta["arch_id"] == info.arch_id and meta["space_fingerprint"] == info.space.fingerprint
    assert meta["class_names"] == info.class_names and meta["dataset"] == "digits"
    assert meta["export_format"] == result.format.name and meta["target"] == result.format.target
    assert meta["preprocessing"]["resolution"] == 32 and len(meta["preprocessing"]["mean"]) == 3
    assert meta["hwnat_version"] and "predicted_latency_ms" in meta
    assert meta["accuracy"]["source"] == {"val_top1": 0.5} and "val_top1" in meta["accuracy"]
    assert meta["parity"]["passed"] is True


def _no_leftovers(out: Path) -> None:
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]


@pytest.fixture(scope="module")
def onnx_results(tiny, tmp_path_factory):
    model, info, data = tiny
    out = tmp_path_factory.mktemp("onnx")
    return out, export_subnet(model, info, "torch,onnx,onnx-int8", out, data=data, options=OPTIONS)


def test_onnx_and_torch_round_trip(onnx_results, tiny) -> None:
    out, results = onnx_results
    assert [r.status for r in results] == ["ok", "ok", "ok"], [r.error for r in results]
    torch_r, onnx_r, int8_r = results
    assert onnx_r.path == out / f"{tiny[1].arch_id}.onnx" and int8_r.path.name.endswith("-int8.onnx")
    for r in (torch_r, onnx_r):
        assert r.parity.max_abs_diff <= 1e-4 and r.parity.top1_agreement >= 0.995
    assert int8_r.size_bytes < onnx_r.size_bytes / 2
    assert int8_r.parity.labelled and int8_r.parity.images == 60
    _no_leftovers(out)


def test_onnx_metadata(onnx_results, tiny) -> None:
    for r in onnx_results[1]:
        _check_metadata(r, tiny[1])


def test_onnx_is_single_file_fixed_opset_with_qdq_for_int8(onnx_results) -> None:
    import onnx

    _, (_, fp32, int8) = onnx_results
    proto = onnx.load(str(fp32.path))
    assert [o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")] == [17]
    assert not any(t.data_location == onnx.TensorProto.EXTERNAL for t in proto.graph.initializer)
    ops = {n.op_type for n in onnx.load(str(int8.path)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops


@pytest.mark.openvino
@pytest.mark.slow
def test_openvino_fp32_and_fp16(tiny, tmp_path) -> None:
    model, info, data = tiny
    results = export_subnet(model, info, "openvino,openvino-fp16", tmp_path, data=data, options=OPTIONS)
    assert [r.status for r in results] == ["ok", "ok"], [r.error for r in results]
    fp32, fp16 = results
    assert (fp32.path / "model.xml").is_file() and (fp32.path / "model.bin").is_file()
    assert fp32.parity.max_abs_diff <= 1e-4
    assert (fp16.path / "model.bin").stat().st_size < 0.6 * (fp32.path / "model.bin").stat().st_size
    assert fp16.parity.change_points >= -100
    for r in results:
        _check_metadata(r, info)
    _no_leftovers(tmp_path)


@pytest.mark.openvino
@pytest.mark.slow
def test_openvino_int8_nncf(tiny, tmp_path) -> None:
    model, info, data = tiny
    (result,) = export_subnet(model, info, "openvino-int8", tmp_path, data=data, options=OPTIONS)
    assert result.ok, result.error
    assert result.metadata["parity"]["precision"] == "int8"
    _check_metadata(result, info)


def test_int8_accuracy_drop_beyond_the_limit_fails_and_leaves_nothing(tiny, tmp_path, monkeypatch) -> None:
    model, info, data = tiny

    def broken(precision, reference, logits, labels, options):  # an export that loses every prediction
        return compare(precision, reference, np.roll(reference, 1, axis=1), labels, options)

    monkeypatch.setattr("hwnat.export.parity.compare", broken)
    (result,) = export_subnet(model, info, "onnx-int8", tmp_path, data=data,
                              options=dataclasses.replace(OPTIONS, max_drop=1.0))
    assert result.status == "failed-validation" and result.symbol == "❎"
    assert "raise it with --max-drop" in result.error and result.path is None
    assert result.parity.change_points < -1
    assert list(tmp_path.iterdir()) == []


def test_compare_rules() -> None:
    rng = np.random.default_rng(0)
    ref = rng.standard_normal((200, 10)).astype(np.float32)
    labels = ref.argmax(1)
    opts = ExportOptions()
    assert compare("fp32", ref, ref + 5e-5, labels, opts).passed
    bad = compare("fp32", ref, ref + 1e-3, labels, opts)
    assert not bad.passed and "max |Δlogit| 0.001 > 0.0001" in bad.reason
    flipped = ref.copy()
    flipped[0] = np.roll(flipped[0], 1)
    assert "top-1 agreement 99.50%" in compare("fp32", ref, flipped, labels, ExportOptions(atol=10)).reason
    flipped[1] = np.roll(flipped[1], 1)
    assert not compare("fp32", ref, flipped, labels, ExportOptions(atol=10)).passed
    drop = compare("int8", ref, flipped, labels, opts)
    assert drop.change_points == pytest.approx(-1.0) and drop.passed
    assert not compare("int8", ref, flipped, labels, ExportOptions(max_drop=0.5)).passed
    unlabelled = compare("fp16", ref, flipped, None, opts)
    assert not unlabelled.labelled and unlabelled.reference_accuracy == 1.0 and "no labels" in unlabelled.reason


def test_a_failed_conversion_is_a_row_not_a_crash(tiny, tmp_path) -> None:
    model, info, data = tiny
    broken = dataclasses.replace(get_format("onnx"), name="onnx-broken", converter="hwnat.export.formats:nope")
    results = export_subnet(model, info, [broken, get_format("torch")], tmp_path, data=data, options=OPTIONS)
    assert [r.status for r in results] == ["failed-export", "ok"]
    assert results[0].symbol == "❌" and "AttributeError" in results[0].error
    assert [p.name for p in tmp_path.iterdir()] == [results[1].path.name]


def test_calibration_data_of_the_wrong_shape_is_refused(tiny, tmp_path) -> None:
    model, info, data = tiny
    grey = dataclasses.replace(data, calib=data.calib[:, :1])
    with pytest.raises(ConfigError, match=r"calibration images have 1 channels; the network takes 3"):
        export_subnet(model, info, "onnx-int8", tmp_path, data=grey)
    small = dataclasses.replace(data, val=data.val[:, :, :16, :16])
    with pytest.raises(ConfigError, match=r"validation images are 16x16; the network takes 32x32"):
        export_subnet(model, info, "onnx", tmp_path, data=small)


def test_an_unwritable_output_directory_is_refused(tiny, tmp_path) -> None:
    model, info, data = tiny
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match=f"output directory '{blocker / 'out'}' cannot be written"):
        export_subnet(model, info, "onnx", blocker / "out", data=data)


def test_replacing_an_existing_artifact(onnx_results, tiny) -> None:
    model, info, data = tiny
    out, first = onnx_results
    (again,) = export_subnet(model, info, "torch", out, data=data, options=OPTIONS)
    assert again.ok and again.path == first[0].path
    _no_leftovers(out)
