"""tools/bench_supernet.py: the per-phase table of a run's log, and a clean error for a GPU that is not there."""

from __future__ import annotations

import json

import pytest
import torch


@pytest.fixture(scope="module")
def bench(tool):
    return tool("bench_supernet")


def record(phase: str, epoch: int, epochs: int, train_s: float, largest: float) -> dict:
    return {"phase": phase, "epoch": epoch, "epochs": epochs, "steps": 703, "train_s": train_s, "val_s": 10.0,
            "peak_rss_mb": 1000.0 + epoch, "val": {"largest": largest, "median": largest - 0.01,
                                                   "smallest": largest - 0.05}}


def test_report_sums_each_phase_and_keeps_its_last_accuracy(bench, tmp_path, capsys) -> None:
    out = tmp_path / "run"
    out.mkdir()
    log = [record("teacher", 1, 2, 600.0, 0.5), record("teacher", 2, 2, 620.0, 0.7), record("kernel", 1, 1, 500.0, 0.68)]
    (out / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in log))
    assert bench.main(["--report-only", "--out", str(out), "--json", str(tmp_path / "r.json")]) == 0
    report = json.loads((tmp_path / "r.json").read_text())
    teacher, kernel = report["phases"]
    assert teacher["epochs_done"] == 2 and teacher["wall_s"] == 1240.0 and teacher["largest"] == 0.7
    assert kernel["smallest"] == pytest.approx(0.63) and report["total_wall_s"] == 1750.0
    assert report["peak_rss_mb"] == 1002.0
    assert "total wall time 0.49 h" in capsys.readouterr().out


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA GPU is present")
def test_device_cuda_without_a_gpu_is_a_clean_error_before_any_data_loads(bench, tmp_path, capsys) -> None:
    data = tmp_path / "not-a-dataset.tar.gz"
    data.write_bytes(b"")  # loading it would fail with another message
    assert bench.main(["--device", "cuda", "--data", str(data), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "--device cuda was given but no CUDA GPU is available" in err and "Traceback" not in err
