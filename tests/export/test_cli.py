"""`hwnat export` and `hwnat benchmark` through click's CliRunner: error paths, JSON output, NAT-M1 with fresh weights."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from hwnat.cli.main import cli


def invoke(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.mark.parametrize("args, message", [
    (["--format", "onx", "--checkpoint", "x.pt"], "unknown format 'onx' (did you mean 'onnx'?)"),
    (["--format", "openvino", "--opset", "13", "--checkpoint", "x.pt"],
     "'openvino' does not support --opset (openvino takes --atol); formats that take --opset: onnx, onnx-int8"),
    (["--format", "onnx", "--calib-images", "10", "--checkpoint", "x.pt"], "formats that take --calib-images"),
    (["--format", "onnx"], "name the network in exactly one way: --run DIR --arch ID | --checkpoint FILE"),
    (["--format", "onnx", "--checkpoint", "a.pt", "--space", "ofa-mbv3"], "exactly one way"),
    (["--format", "onnx", "--checkpoint", "missing.pt"], "'missing.pt' does not exist"),
    (["--format", "onnx", "--space", "ofa-mbv", "--subnet", "tests/fixtures/natnets/NAT-M1.subnet"],
     "did you mean 'ofa-mbv3'"),
    (["--format", "onnx", "--supernet", "sn.pt"], "--supernet needs --subnet FILE"),
    (["--format", "onnx", "--target", "ort-cpx", "--checkpoint", "x.pt"], "did you mean 'ort-cpu'"),
])
def test_export_errors_name_the_flag(args: list[str], message: str) -> None:
    result = invoke("export", *args)
    assert result.exit_code != 0 and message in result.output, result.output
    assert "Traceback" not in result.output


def test_export_checkpoint_json(tiny_checkpoint: Path, tmp_path: Path) -> None:
    result = invoke("export", "--format", "onnx", "--checkpoint", tiny_checkpoint, "--out", tmp_path,
                    "--parity-images", "40", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    (row,) = data["results"]
    assert row["status"] == "ok" and row["symbol"] == "✅" and Path(row["path"]).is_file()
    assert row["parity"]["images"] == 40 and row["parity"]["labelled"]


def test_run_dir_with_another_arch_names_both(tiny_checkpoint: Path, tmp_path: Path) -> None:
    shutil.copy(tiny_checkpoint, tmp_path / "model.pt")
    result = invoke("export", "--format", "onnx", "--run", tmp_path, "--arch", "r32-w0.5-22-11-11-11-11")
    assert result.exit_code == 1
    assert "holds arch r32-w0.5-11-11-11-11-11, not the requested r32-w0.5-22-11-11-11-11" in result.output


def test_search_run_without_supernet_says_what_it_tried(tmp_path: Path) -> None:
    (tmp_path / "archive.jsonl").write_text(json.dumps({"arch_id": "r32-w0.5-11-11-11-11-11", "error": 0.2}) + "\n")
    result = invoke("export", "--format", "onnx", "--run", tmp_path, "--arch", "r32-w0.5-11-11-11-11-11")
    assert result.exit_code == 1 and "no super-network for search run" in result.output and "--supernet" in \
        result.output
    result = invoke("export", "--format", "onnx", "--run", tmp_path, "--arch", "r32-w0.5-11-11-11-11-12")
    assert "unknown arch 'r32-w0.5-11-11-11-11-12' (did you mean 'r32-w0.5-11-11-11-11-11'?)" in result.output


def test_unwritable_out_and_missing_runtime(tiny_checkpoint: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = invoke("export", "--format", "torch", "--checkpoint", tiny_checkpoint, "--out", blocker / "o")
    assert result.exit_code == 1 and "cannot be written" in result.output
    result = invoke("export", "--format", "tensorrt", "--checkpoint", tiny_checkpoint, "--out", tmp_path / "o")
    from hwnat.export.formats import get_format

    if not get_format("tensorrt").availability()[0]:
        assert result.exit_code == 1 and "pip install 'hwnat[tensorrt]'" in result.output
        assert "1 of 1 formats failed: tensorrt" in result.output


def test_benchmark_json(tiny_checkpoint: Path, tmp_path: Path) -> None:
    result = invoke("benchmark", "--format", "torch,onnx", "--checkpoint", tiny_checkpoint, "--out", tmp_path,
                    "--parity-images", "40", "--test-images", "40", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["rows"]
    assert [r["format"] for r in rows] == ["torch", "onnx"] and [r["target"] for r in rows] == ["torch-cpu",
                                                                                                  "ort-cpu"]
    for row in rows:
        assert row["symbol"] == "✅" and row["latency"]["p50_ms"] > 0 and row["test_images"] == 40
        assert 0 <= row["test_accuracy"] <= 1
    assert rows[0]["test_accuracy"] == rows[1]["test_accuracy"]
    assert "predicted_latency_ms" in rows[1] and "prediction_error_pct" in rows[1]


def test_benchmark_table(tiny_checkpoint: Path, tmp_path: Path) -> None:
    result = invoke("benchmark", "--format", "onnx,tensorrt", "--checkpoint", tiny_checkpoint, "--out", tmp_path,
                    "--parity-images", "20", "--test-images", "20")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split()[:4] == ["format", "target", "size", "MB"]
    assert lines[1].startswith("✅  onnx")
    assert lines[2].startswith(("❌  tensorrt", "❎  tensorrt", "✅  tensorrt"))


@pytest.mark.slow
def test_nat_m1_fresh_weights_to_onnx(repo_root: Path, tmp_path: Path) -> None:
    result = invoke("export", "--format", "onnx", "--space", "ofa-mbv3", "--subnet",
                    repo_root / "tests/fixtures/natnets/NAT-M1.subnet", "--out", tmp_path, "--parity-images", "4",
                    "--json")
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)["results"]
    assert row["status"] == "ok" and row["path"].endswith("r224-w1.0-11-144-551-522-8877.onnx")
    assert row["parity"]["labelled"] is False and row["parity"]["max_abs_diff"] <= 1e-4
    from hwnat.export.metadata import read_metadata

    meta = read_metadata("onnx", Path(row["path"]))
    assert meta["num_classes"] == 1000 and meta["space"] == "ofa-mbv3" and meta["data"] == "random"
