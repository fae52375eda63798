"""`hwnat finetune`: a tiny run through the CLI and its error paths (each error names the flag or the file)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from ft_helpers import BASE_ARCH, EE_ARCH, TINY, make_supernet

from hwnat.cli.main import cli
from hwnat.finetune import presets


def run(*args: str):
    return CliRunner().invoke(cli, ["finetune", *args])


def test_cli_finetunes_with_json_and_refuses_to_overwrite(base_supernet, tmp_path, monkeypatch):
    monkeypatch.setitem(presets.PRESETS, "smoke", {**TINY, "max_epochs": 1})
    out = tmp_path / "run"
    args = ["--supernet", str(base_supernet), "--arch", BASE_ARCH, "--data", "digits", "--preset", "smoke",
            "--out", str(out), "--no-progress"]
    result = run(*args, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["arch_id"] == BASE_ARCH and summary["optimizer"] == "sgd" and summary["model"] == str(out / "model.pt")
    assert {"epochs", "val_top1", "test_top1", "extracted", "split"} <= set(summary)
    again = run(*args)
    assert again.exit_code != 0 and "--resume" in again.output and "Traceback" not in again.output
    resumed = run(*args, "--resume")  # a finished run: outputs are written again, nothing is trained
    assert resumed.exit_code == 0, resumed.output
    assert "fine-tuned  val" in resumed.stdout and f"model: {out / 'model.pt'}" in resumed.stdout


def test_cli_reads_a_subnet_file(base_supernet, tmp_path, monkeypatch):
    from hwnat.space.genome import parse_arch_id
    from hwnat.space.presets import get_space
    from hwnat.space.subnet_file import write_subnet

    monkeypatch.setitem(presets.PRESETS, "smoke", {**TINY, "max_epochs": 1})
    space = get_space("mbv3-small-input")
    subnet = write_subnet(tmp_path / "net.subnet", space, parse_arch_id(space, BASE_ARCH))
    result = run("--supernet", str(base_supernet), "--subnet", str(subnet), "--data", "digits", "--preset", "smoke",
                 "--out", str(tmp_path / "run"), "--no-progress", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["arch_id"] == BASE_ARCH


@pytest.fixture(scope="module")
def five_class_supernet(tmp_path_factory) -> Path:
    return make_supernet(tmp_path_factory.mktemp("sn5") / "supernet.pt", classes=5)


@pytest.fixture
def corrupt_supernet(tmp_path) -> Path:
    path = tmp_path / "broken" / "supernet.pt"
    path.parent.mkdir()
    path.write_bytes(b"not a checkpoint")
    return path


@pytest.mark.parametrize("case, args, words", [
    ("unknown arch id", ["--arch", "r32-w0.5-11-11"], ["'--arch'", "needs 5 stage groups"]),
    ("arch not in the space", ["--arch", "r224-w0.5-11-11-11-11-11"],
     ["'--arch'", "resolution 224 is not allowed in space 'mbv3-small-input'", "allowed: [32, 40"]),
    ("arch of another width", ["--arch", "r32-w1.0-11-11-11-11-11"],
     ["'--arch'", "width multiplier 1.0", "super-network's 0.5"]),
    ("exit in a single-exit space", ["--arch", EE_ARCH], ["'--arch'", "exit 3 is not allowed"]),
    ("neither arch nor subnet", [], ["exactly one of --arch ID and --subnet FILE"]),
    ("both arch and subnet", ["--arch", BASE_ARCH, "--subnet", "x.subnet"], ["exactly one of"]),
    ("missing subnet file", ["--subnet", "nowhere.subnet"], ["'--subnet'", "nowhere.subnet", "does not exist"]),
    ("joint exits without exits", ["--arch", BASE_ARCH, "--joint-exits"], ["'--joint-exits'", "early-exit"]),
    ("unknown preset", ["--arch", BASE_ARCH, "--preset", "fast"], ["--preset", "smoke", "quick", "paper"]),
    ("unknown optimizer", ["--arch", BASE_ARCH, "--optimizer", "adam"], ["--optimizer", "adamw", "sgd"]),
    ("bad epochs", ["--arch", BASE_ARCH, "--epochs", "0"], ["--epochs", "0"]),
    ("resume without a run", ["--arch", BASE_ARCH, "--resume"], ["--resume", "no fine-tuning checkpoint"]),
])
def test_cli_errors(base_supernet, tmp_path, case, args, words):
    result = run("--supernet", str(base_supernet), "--data", "digits", "--out", str(tmp_path / "o"), *args)
    assert result.exit_code != 0, case
    assert "Traceback" not in result.output
    for word in words:
        assert word in result.output, (case, result.output)


def test_cli_errors_about_the_supernet_and_the_data(five_class_supernet, corrupt_supernet, tmp_path):
    common = ["--arch", BASE_ARCH, "--out", str(tmp_path / "o")]
    missing = run("--supernet", str(tmp_path / "none.pt"), "--data", "digits", *common)
    assert missing.exit_code != 0 and "'--supernet'" in missing.output and "does not exist" in missing.output
    corrupt = run("--supernet", str(corrupt_supernet), "--data", "digits", *common)
    assert corrupt.exit_code != 0 and "'--supernet'" in corrupt.output and str(corrupt_supernet) in corrupt.output
    assert "cannot be read" in corrupt.output
    classes = run("--supernet", str(five_class_supernet), "--data", "digits", *common)
    assert classes.exit_code != 0 and "'--data'" in classes.output
    assert "'digits' has 10 classes but the super-network" in classes.output and "has 5" in classes.output
    no_data = run("--supernet", str(five_class_supernet), "--data", str(tmp_path / "nowhere"), *common)
    assert no_data.exit_code != 0 and "'--data'" in no_data.output and "nowhere" in no_data.output


def test_cli_names_a_corrupt_resume_checkpoint(base_supernet, tmp_path):
    last = tmp_path / "o" / "checkpoints" / "last.pt"
    last.parent.mkdir(parents=True)
    last.write_bytes(b"garbage")
    result = run("--supernet", str(base_supernet), "--arch", BASE_ARCH, "--data", "digits", "--out",
                 str(tmp_path / "o"), "--resume")
    assert result.exit_code != 0 and str(last) in result.output and "cannot be read" in result.output
    assert "Traceback" not in result.output
