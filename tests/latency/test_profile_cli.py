"""CLI: `hwnat profile` and `hwnat arch stats --target`, their JSON and their error paths (fake runtime)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from hwnat.cli.main import cli
from hwnat.latency.store import default_table_path
from hwnat.latency.table import LatencyTable
from hwnat.space import get_space, sample_archs, write_subnet

SMALL = ("--space", "mbv3-small-input", "--widths", "0.5", "--resolutions", "32")


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def profiled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """One small fake-cpu table (width 0.5, 32 px), calibrated on 4 subnets and validated on 3."""
    folder = tmp_path_factory.mktemp("latency_tables")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HWNAT_TABLES_DIR", str(folder))
        code, out = run("profile", "--target", "fake-cpu", *SMALL, "--calibrate", "4", "--validate", "3",
                        "--no-progress", "--json")
    assert code == 0, out
    return folder, json.loads(out)


@pytest.fixture
def subnet(tmp_path: Path) -> Path:
    space = get_space("mbv3-small-input")
    arch = replace(sample_archs(space, 1, seed=4, width_mult=0.5)[0], resolution=32)
    return write_subnet(tmp_path / "net.subnet", space, arch)


def test_profile_json_reports_table_calibration_and_validation(profiled: tuple[Path, dict]) -> None:
    folder, report = profiled
    table = LatencyTable.load(report["table"])
    assert Path(report["table"]).parent == folder
    prof = report["profiling"]
    assert prof["units"] == 93 == len(table.entries) and prof["measured_timings"] == 93 * 3 == prof["passes"] * 93
    assert report["calibration"]["n"] == 4
    val = report["validation"]
    assert val["n"] == 3 and 0 <= val["within_10pct"] <= 1 and isinstance(val["spearman"], float)
    assert set(val["raw"]) == set(val["calibrated"]) >= {"within_5pct", "within_10pct", "mape", "spearman", "kendall"}


def test_arch_stats_adds_the_table_predicted_latency(profiled, subnet, monkeypatch) -> None:
    folder, _ = profiled
    monkeypatch.setenv("HWNAT_TABLES_DIR", str(folder))
    code, out = run("arch", "stats", "--space", "mbv3-small-input", "--subnet", str(subnet), "--target", "fake-cpu",
                    "--json")
    assert code == 0, out
    info = json.loads(out)
    space = get_space("mbv3-small-input")
    table = LatencyTable.load(default_table_path("fake-cpu", space))
    from hwnat.space import read_subnet

    assert info["latency_ms"] == pytest.approx(table.predict(space, read_subnet(subnet, space)), abs=1e-6)
    code, out = run("arch", "stats", "--space", "mbv3-small-input", "--subnet", str(subnet), "--target", "fake-cpu")
    assert code == 0 and "latency_ms" in out


def test_arch_stats_refuses_a_table_from_another_machine(profiled, subnet, tmp_path, monkeypatch) -> None:
    _, report = profiled
    data = json.loads(Path(report["table"]).read_text())
    data["target"]["device_name"] = "Some Other CPU"
    data["target"].pop("fingerprint")
    other = tmp_path / "tables"
    other.mkdir()
    (other / Path(report["table"]).name).write_text(json.dumps(data))
    monkeypatch.setenv("HWNAT_TABLES_DIR", str(other))
    code, out = run("arch", "stats", "--space", "mbv3-small-input", "--subnet", str(subnet), "--target", "fake-cpu")
    assert code == 1 and "Some Other CPU" in out and "Rebuild it on this machine with: hwnat profile --target " \
        "fake-cpu --space mbv3-small-input" in out and "Traceback" not in out


def test_arch_stats_without_a_table_says_how_to_build_it(subnet, tables_dir) -> None:
    code, out = run("arch", "stats", "--space", "mbv3-small-input", "--variant", "dense", "--subnet", str(subnet),
                    "--target", "fake-cpu")
    assert code == 1
    assert "no latency table" in out and "hwnat profile --target fake-cpu --space mbv3-small-input --variant dense" in out


def test_arch_stats_for_a_width_the_table_lacks(profiled, tmp_path, monkeypatch) -> None:
    folder, _ = profiled
    monkeypatch.setenv("HWNAT_TABLES_DIR", str(folder))
    space = get_space("mbv3-small-input")
    path = write_subnet(tmp_path / "wide.subnet", space, replace(sample_archs(space, 1, seed=1, width_mult=1.0)[0],
                                                                 resolution=32))
    code, out = run("arch", "stats", "--space", "mbv3-small-input", "--subnet", str(path), "--target", "fake-cpu")
    assert code == 1 and "--widths 0.5,1.0" in out


@pytest.mark.parametrize("args, code, needles", [
    (("profile", "--target", "ort-cpus", *SMALL), 2, ("--target", "did you mean 'ort-cpu'")),
    (("profile", "--target", "tensorrt-gpu", *SMALL), 1, ("tensorrt", "pip install")),
    (("profile", "--target", "rpi5-ort", *SMALL), 1, ("over SSH", "rpi5")),
    (("profile", "--target", "fake-cpu", "--space", "mbv3-small-input", "--widths", "0.3"), 2,
     ("--widths", "0.3", "allowed: 0.5, 0.75, 1.0")),
    (("profile", "--target", "fake-cpu", "--space", "mbv3-small-input", "--resolutions", "33"), 2,
     ("--resolutions", "33")),
    (("profile", "--target", "fake-cpu", "--space", "mbv3-small-input", "--widths", "a"), 2, ("--widths",)),
    (("profile", "--target", "fake-cpu", *SMALL, "--validate", "1"), 2, ("--validate", "at least 2")),
    (("profile", "--target", "fake-cpu", "--space", "mbv3-small", "--widths", "0.5"), 2, ("--space", "did you mean")),
    (("arch", "stats", "--space", "mbv3-small-input", "--subnet", "x.subnet", "--target", "fake-gpu"), 2,
     ("--subnet",)),
])
def test_profile_errors_name_the_problem(args, code, needles, tables_dir) -> None:
    got, out = run(*args)
    assert got == code, out
    assert "Traceback" not in out
    for needle in needles:
        assert needle in out


def test_arch_stats_unknown_target_suggests_one(subnet) -> None:
    code, out = run("arch", "stats", "--space", "mbv3-small-input", "--subnet", str(subnet), "--target", "fake-cpus")
    assert code == 2 and "--target" in out and "did you mean 'fake-cpu'" in out


def test_a_corrupt_table_is_named(subnet, tables_dir) -> None:
    path = default_table_path("fake-cpu", get_space("mbv3-small-input"))
    path.write_text("{oops")
    code, out = run("arch", "stats", "--space", "mbv3-small-input", "--subnet", str(subnet), "--target", "fake-cpu")
    assert code == 1 and str(path) in out and "corrupt" in out


def test_rerun_reuses_the_table_and_prints_a_summary(profiled, monkeypatch) -> None:
    folder, report = profiled
    monkeypatch.setenv("HWNAT_TABLES_DIR", str(folder))
    before = Path(report["table"]).read_text()
    code, out = run("profile", "--target", "fake-cpu", *SMALL, "--no-progress")
    assert code == 0, out
    assert "table" in out and "calibration" in out and "validation" in out and "Spearman" in out
    assert json.loads(Path(report["table"]).read_text())["entries"] == json.loads(before)["entries"]
