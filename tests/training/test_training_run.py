"""train_supernet end to end on the tiny space: files, log, bests, errors on bad input, --init/--new-head."""

from __future__ import annotations

import json

import pytest
import torch
from tiny_run import overrides

from hwnat.data import digits_dataset
from hwnat.errors import CheckpointError, ConfigError
from hwnat.training import load_supernet, train_supernet


@pytest.fixture(scope="module")
def ee_run(tmp_path_factory):
    from tiny_run import TINY

    out = tmp_path_factory.mktemp("ee-run")
    return train_supernet(TINY, "digits", variant="ee-dense-parallel", preset="smoke", out=out, seed=1,
                          overrides=overrides(), progress=False)


def test_run_writes_every_artifact(ee_run):
    out = ee_run.out_dir
    names = [p.name for p in ee_run.phases]
    assert names == ["teacher", "kernel", "level", "height-1", "height-2", "depth-1", "expand-1"]
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["phase"] for r in log] == names
    assert all({"largest", "median", "smallest", "random-1"} <= set(r["val"]) for r in log)
    assert all(0.0 <= v <= 1.0 for r in log for v in r["val"].values())
    for i, name in enumerate(names):
        assert (out / "checkpoints" / f"phase-{i}-{name}.pt").exists()
        assert (out / "checkpoints" / f"best-{i}-{name}-e1.pt").exists()
    data = torch.load(out / "checkpoints" / "last.pt", weights_only=True)
    assert data["cursor"]["phase"] == len(names) and data["variant"] == "ee-dense-parallel"
    assert set(data["rng"]) >= {"python", "numpy", "torch"}
    net = load_supernet(ee_run.supernet_path)
    assert all(torch.equal(v, ee_run.net.state_dict()[k]) for k, v in net.state_dict().items())
    result = json.loads((out / "result.json").read_text())
    assert result["variant"] == "ee-dense-parallel" and len(result["phases"]) == len(names)


def test_resume_without_checkpoint_and_existing_run(ee_run, tmp_path, tiny_space):
    with pytest.raises(CheckpointError, match="no training checkpoint to resume from"):
        train_supernet(tiny_space, "digits", out=tmp_path / "none", resume=True, overrides=overrides())
    with pytest.raises(ConfigError, match="already holds a training run"):
        train_supernet(tiny_space, "digits", out=ee_run.out_dir, overrides=overrides())


def test_resume_refuses_another_variant(ee_run, tiny_space):
    with pytest.raises(CheckpointError) as err:
        train_supernet(tiny_space, "digits", variant="base", out=ee_run.out_dir, resume=True, overrides=overrides())
    msg = str(err.value)
    assert "ee-dense-parallel" in msg and "base" in msg
    assert ee_run.space.fingerprint in msg and tiny_space.fingerprint in msg


def test_resume_refuses_other_class_count(ee_run, tiny_space):
    five = digits_dataset(32)
    five = five.subset([i for i, y in enumerate(five.labels) if y < 5])
    five.classes = five.classes[:5]
    with pytest.raises(CheckpointError, match="10-class head but the dataset has 5 classes"):
        train_supernet(tiny_space, five, variant="ee-dense-parallel", out=ee_run.out_dir, resume=True,
                       overrides=overrides())


def test_corrupt_last_checkpoint_is_an_error_naming_it(ee_run, tmp_path, tiny_space):
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(ee_run.out_dir, out)
    last = out / "checkpoints" / "last.pt"
    last.write_bytes(last.read_bytes()[:1000])
    with pytest.raises(CheckpointError) as err:
        train_supernet(tiny_space, "digits", variant="ee-dense-parallel", out=out, resume=True,
                       overrides=overrides())
    assert str(last) in str(err.value) and "previous.pt" in str(err.value)
    assert (out / "checkpoints" / "previous.pt").stat().st_size > 1000


def test_init_with_new_head(ee_run, tmp_path, tiny_space):
    five = digits_dataset(32)
    five = five.subset([i for i, y in enumerate(five.labels) if y < 5])
    five.classes = five.classes[:5]
    cfg = overrides(steps=1)
    for kind in ("kernel", "level", "height", "depth", "expand"):
        cfg["phases"][kind]["epochs"] = 0
    with pytest.raises(CheckpointError, match="--new-head"):
        train_supernet(tiny_space, five, variant="ee-dense-parallel", out=tmp_path / "a", init=ee_run.supernet_path,
                       preset="smoke", overrides=cfg, progress=False)
    result = train_supernet(tiny_space, five, variant="ee-dense-parallel", out=tmp_path / "b",
                            init=ee_run.supernet_path, new_head=True, preset="smoke", overrides=cfg, progress=False)
    assert result.net.classifier.linear.out_features == 5 and result.space.num_classes == 5
    assert [p.name for p in result.phases if p.val] == ["teacher"]
