"""`hwnat train-supernet`: a tiny run through the CLI and its error paths."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from hwnat.cli.main import cli

TINY_TOML = """
preset = "smoke"
[train]
batch_size = 8
max_steps_per_epoch = 1
resolutions = [32]
threads = 1
val_max_images = 16
bn_calib_batches = 1
val_random_subnets = 0
[phases.depth-2]
epochs = 0
[phases.expand-2]
epochs = 0
"""


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


@pytest.mark.slow
def test_cli_trains_and_resume_of_finished_run_is_a_no_op(tmp_path):
    config = tmp_path / "tiny.toml"
    config.write_text(TINY_TOML)
    out = tmp_path / "run"
    args = ["train-supernet", "--space", "mbv3-small-input", "--data", "digits", "--config", str(config),
            "--out", str(out), "--no-progress", "--json"]
    result = run(*args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert [p["name"] for p in summary["phases"] if p["val"]] == ["teacher", "kernel", "depth-1", "expand-1"]
    assert summary["width_mult"] == 0.5 and summary["num_classes"] == 10
    assert (out / "supernet.pt").exists()
    again = run(*args)
    assert again.exit_code != 0 and "--resume" in again.output


@pytest.mark.parametrize("args, words", [
    (["--space", "mbv3-small-inputs", "--data", "digits"], ["mbv3-small-input"]),
    (["--space", "mbv3-small-input", "--data", "digits", "--variant", "ee-dense-paralel"], ["--variant"]),
    (["--space", "mbv3-small-input", "--data", "digits", "--preset", "fast"], ["--preset", "smoke"]),
    (["--space", "mbv3-small-input", "--data", "digits", "--new-head"], ["--new-head needs --init"]),
    (["--space", "mbv3-small-input", "--data", "digits", "--width", "0.6"], ["width multiplier 0.6", "0.5"]),
])
def test_cli_errors(tmp_path, args, words):
    result = run("train-supernet", *args, "--out", str(tmp_path / "o"))
    assert result.exit_code != 0
    for word in words:
        assert word in result.output
    assert "Traceback" not in result.output


def test_cli_resume_without_checkpoint(tmp_path):
    result = run("train-supernet", "--space", "mbv3-small-input", "--data", "digits", "--out", str(tmp_path / "o"),
                 "--resume")
    assert result.exit_code == 1 and "no training checkpoint to resume from" in result.output


def test_cli_bad_config_names_key(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text("[train]\nbatchsize = 2\n")
    result = run("train-supernet", "--space", "mbv3-small-input", "--data", "digits", "--config", str(config),
                 "--out", str(tmp_path / "o"))
    assert result.exit_code == 1 and "train.batchsize" in result.output and "batch_size" in result.output
