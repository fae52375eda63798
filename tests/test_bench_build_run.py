"""tools/bench_build.py end to end on ort-cpu and openvino-cpu with a tiny space: builds, baselines, the interleaved
measurement."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from hwnat.space import SearchSpace, StageSpec

pytestmark = pytest.mark.slow

TINY = SearchSpace(name="tiny", resolutions=(32,), width_mults=(0.5,), kernel_sizes=(3, 5), expand_ratios=(3, 4),
                   depths=(1, 2), stages=(StageSpec(24, 2, "relu", False), StageSpec(40, 2, "hswish", True)),
                   num_classes=10)


def test_bench_build_on_digits_with_a_tiny_space(tool: Callable[[str], ModuleType], tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from hwnat.training.api import train_supernet

    supernet = train_supernet(TINY, "digits", preset="smoke", out=tmp_path / "supernet", seed=0,
                              progress=False).supernet_path
    bench = tool("bench_build")
    out = tmp_path / "bench"
    config = tmp_path / "table-speed.toml"  # budgets checked at the table's speed, as the CIFAR-10 headline does
    config.write_text('[build]\ntiming = "table-speed"\ncalm_wait_s = 0\n')  # a slow host: measured again at once
    argv = ["--data", "digits", "--supernet", str(supernet), "--preset", "smoke", "--config", str(config),
            "--targets", "ort-cpu,openvino-cpu",
            "--budgets", "0.5,1", "--baselines", "mbv3-small", "--baseline-widths", "0.5,1.0", "--rounds", "1",
            "--out", str(out), "--no-progress"]
    assert bench.main(argv) == 0

    result = json.loads((out / "bench.json").read_text())
    builds = [r for r in result["rows"] if r["kind"] == "hwnat"]
    baselines = [r for r in result["rows"] if r["kind"] == "baseline"]
    for target in ("ort-cpu", "openvino-cpu"):
        spread = result["budgets"][target]  # budgets far above the tiny space's latencies: noise cannot fail
        # the tiny space's smallest and largest subnets differ by ~30%: a noisy 1-round timing may swap them
        assert spread["budgets_ms"] == [0.5, 1.0] and spread["smallest_ms"] > 0 and spread["largest_ms"] > 0
        assert 0 < spread["table_smallest_ms"] < spread["table_largest_ms"]
        assert [r["budget_ms"] for r in builds if r["target"] == target] == spread["budgets_ms"]
        assert {r["name"] for r in baselines if r["target"] == target} == {"mbv3-small-w0.5-r32",
                                                                            "mbv3-small-w1.0-r32"}
        assert set(result["goals"][target]) >= {"meets_budget", "uses_80pct", "dominates", "baselines",
                                                 "meets_budget_table_speed", "uses_80pct_table_speed"}
        assert f"| {target} |" in (out / "bench.md").read_text()
    assert {r["format"] for r in builds} == {"onnx", "openvino"}
    fine_tuned: set[str] = set()
    for row in builds:
        assert "error" not in row, row.get("error")
        assert row["p50_ms"] > 0 and row["budget_used"] == pytest.approx(row["p50_ms"] / row["budget_ms"])
        assert row["finetune_epochs"] >= 1 and 0 <= row["test_top1"] <= 1 and row["passed"]
        stages = json.loads((Path(row["out"]) / "build.json").read_text())["stages"]
        # a subnet another build (other budget, other target) already fine-tuned is copied, not trained again
        assert stages["finetune"]["result"]["source"] == ("cache" if row["name"] in fine_tuned else "trained")
        fine_tuned.add(row["name"])
        primary, = (r for r in stages["benchmark"]["result"]["rows"] if r["primary"])
        assert primary["timing_rounds"] == 1 and primary["p50_ms"] == row["build_p50_ms"]  # the smoke preset: 1
        assert primary["timing"] == "table-speed" and primary["raw_p50_ms"] > 0
        assert primary["host_slowdown"] == min(primary["host_slowdowns"])  # the calmest of the tries kept
    # the rule: every super-network epoch plus the most fine-tuning epochs any delivered model got
    schedule = result["baseline_schedule"]
    assert schedule["epochs"] == sum(schedule["supernet_epochs"].values()) + max(r["finetune_epochs"] for r in builds)
    assert all(r["epochs"] == schedule["epochs"] and r["p50_ms"] > 0 for r in baselines)
    # the second, paired pass: every model at the table's speed, with how slow the host ran against it
    for row in builds + baselines:
        assert row["table_speed_p50_ms"] > 0 and row["table_speed_raw_p50_ms"] > 0 and row["host_slowdown"] > 0
        assert min(row["host_slowdowns"]) == row["host_slowdown"] and len(row["host_slowdowns"]) <= 3
        # the same models timed twice (the passes minutes apart on a shared host: only the units can be checked)
        assert 0.2 < row["table_speed_p50_ms"] / row["p50_ms"] < 5
    for target in ("ort-cpu", "openvino-cpu"):
        assert result["goals"][target]["host_slowdown"] > 0
    assert "as slow as when the table was calibrated" in (out / "bench.md").read_text()

    kept = json.loads((out / "builds.json").read_text())  # the builds' own measurements, before the baselines
    assert [r["name"] for r in kept["rows"]] == [r["name"] for r in builds]
    assert (out / "bench.png").read_bytes().startswith(b"\x89PNG")
    err = capsys.readouterr().err
    assert "ort-cpu budget" in err and "openvino-cpu budget" in err and "baseline mbv3-small-w0.5-r32" in err

    ranges = json.loads((out / "ranges.json").read_text())  # measured once: the second run must reuse them
    assert sorted(k.split()[0] for k in ranges) == ["openvino-cpu", "ort-cpu"]
    # a second run redoes nothing: builds resume finished, baselines load their result
    assert bench.main(argv) == 0
    again = json.loads((out / "bench.json").read_text())
    assert [r["name"] for r in again["rows"]] == [r["name"] for r in result["rows"]]
    assert [r["test_top1"] for r in again["rows"]] == [r["test_top1"] for r in result["rows"]]
    assert again["budgets"] == result["budgets"] and json.loads((out / "ranges.json").read_text()) == ranges

    # tools/train_baseline.py: one baseline as the bench trains them, for another number of epochs
    trainer = tool("train_baseline")
    curve = ["--supernet", str(supernet), "--data", "digits", "--epochs", "1", "--out", str(tmp_path / "curve"),
             "--no-progress"]
    assert trainer.main(["--name", "mbv3-small", "--width", "0.5", *curve]) == 0
    one = json.loads((tmp_path / "curve" / "mbv3-small-w0.5-r32-e1" / "result.json").read_text())
    assert one["epochs"] == 1 and one["id"] == "mbv3-small-w0.5-r32" and 0 < one["test_top1_torch"] <= 1
    assert "mbv3-small-w0.5-r32: 1 epochs, val top-1" in capsys.readouterr().out
    assert trainer.main(["--name", "mbv3-smal", *curve]) == 2
    assert "--name mbv3-smal --width 1: " in capsys.readouterr().err

    # tools/bench_selection_graph.py: the selection's graph of a chosen subnet against the delivered file
    compare = tool("bench_selection_graph")
    for row in (next(b for b in builds if b["target"] == t) for t in ("ort-cpu", "openvino-cpu")):
        report = out / "graphs.json"
        assert compare.main([row["out"], "--reps", "2", "--rounds", "1", "--json", str(report)]) == 0
        graph, = json.loads(report.read_text())["builds"]
        assert graph["arch_id"] == row["name"] and graph["target"] == row["target"]
        assert len(graph["reps"]) == 2 and all(r["selection_p50_ms"] > 0 and r["delivered_p50_ms"] > 0
                                               and r["host_slowdown"] > 0 for r in graph["reps"])
        assert graph["median_ratio"] > 0 and graph["ops"]["selection"].get("Conv", 0) > 0
    assert compare.main([str(tmp_path)]) == 2  # not a build directory: a clear error
    assert "no report.json" in capsys.readouterr().err
