"""`hwnat search` error paths (CliRunner) and its choice lists against the registries."""

from __future__ import annotations

from click.testing import CliRunner

from hwnat.cli import search_cmd
from hwnat.cli.main import cli
from hwnat.search.config import ALGORITHMS, PRESETS


def run(*args: str):
    return CliRunner().invoke(cli, ["search", *args])


def test_choices_match_registries() -> None:
    assert set(search_cmd.ALGORITHMS) == set(ALGORITHMS)
    assert set(search_cmd.PRESETS) == set(PRESETS)


def test_help() -> None:
    res = run("--help")
    assert res.exit_code == 0 and "--budget" in res.output and "--resume" in res.output


def test_unknown_objective_did_you_mean(tmp_path) -> None:
    res = run("--supernet", str(tmp_path / "x.pt"), "--objectives", "error,latncy")
    assert res.exit_code == 2 and "did you mean 'latency'" in res.output and "--objectives" in res.output


def test_bad_budget(tmp_path) -> None:
    res = run("--supernet", str(tmp_path / "x.pt"), "--target", "ort-cpu", "--budget", "latency=2parsecs")
    assert res.exit_code == 2 and "--budget" in res.output and "'2ms'" in res.output


def test_latency_needs_target_and_supernet_must_exist(tmp_path) -> None:
    res = run("--supernet", str(tmp_path / "x.pt"))
    assert res.exit_code == 2 and "--target" in res.output
    res = run("--supernet", str(tmp_path / "x.pt"), "--objectives", "error,macs")
    assert res.exit_code == 2 and "--supernet" in res.output and "does not exist" in res.output
