"""Resume: a run stopped after any epoch (or killed with SIGKILL) ends with the weights of an uninterrupted run;
the same seed gives the same weights."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from ft_helpers import BASE_ARCH, SEED, TINY, assert_same_weights, model_state

from hwnat.errors import CheckpointError, ConfigError
from hwnat.finetune import FinetuneResult, finetune


class Stop(Exception):
    pass


@pytest.fixture(scope="module")
def straight_result(base_supernet, tmp_path_factory) -> FinetuneResult:
    out = tmp_path_factory.mktemp("straight")
    return finetune(base_supernet, BASE_ARCH, "digits", out=out, preset="smoke", seed=SEED, overrides=TINY)


@pytest.fixture(scope="module")
def straight(straight_result) -> Path:
    return straight_result.out_dir


def test_same_seed_same_weights_other_seed_other_weights(base_supernet, straight, tmp_path):
    finetune(base_supernet, BASE_ARCH, "digits", out=tmp_path / "again", preset="smoke", seed=SEED, overrides=TINY)
    assert_same_weights(model_state(tmp_path / "again"), model_state(straight))
    finetune(base_supernet, BASE_ARCH, "digits", out=tmp_path / "other", preset="smoke", seed=SEED + 1,
             overrides=TINY)
    other = model_state(tmp_path / "other")
    assert any(not torch.equal(other[k], v) for k, v in model_state(straight).items())


# TINY's step 1 always trains 2 epochs (patience = max_epochs); step 2 trains the chosen 0..2 epochs
STOPS = {"in-step-1": 1, "switch-to-step-2": 2, "in-step-2": 3}


# after step 1's first epoch, at the switch to step 2, inside step 2, after the last epoch (outputs not written)
@pytest.mark.parametrize("stop", [*STOPS, "after-last-epoch"])
def test_interrupted_run_resumes_to_identical_weights(base_supernet, straight_result, tmp_path, stop):
    straight = straight_result.out_dir
    reported = 2 + straight_result.epochs
    stop_after = STOPS.get(stop, reported)
    if stop_after > reported:
        pytest.skip(f"step 1 chose {straight_result.epochs} epoch(s) on this machine: no {stop} point")
    seen = []

    def crash(record):
        seen.append(record)
        if len(seen) == stop_after:
            raise Stop

    with pytest.raises(Stop):
        finetune(base_supernet, BASE_ARCH, "digits", out=tmp_path, preset="smoke", seed=SEED, overrides=TINY,
                 on_epoch=crash)
    assert not (tmp_path / "model.pt").exists()
    with pytest.raises(ConfigError, match="already holds a fine-tuning run.*--resume"):
        finetune(base_supernet, BASE_ARCH, "digits", out=tmp_path, preset="smoke", seed=SEED, overrides=TINY)
    result = finetune(base_supernet, BASE_ARCH, "digits", out=tmp_path, preset="smoke", seed=SEED, overrides=TINY,
                      resume=True)
    assert_same_weights(model_state(tmp_path), model_state(straight))
    strip = ("train_s", "val_s")
    logged = [{k: v for k, v in r.items() if k not in strip} for r in result.history]
    expected = [{k: v for k, v in json.loads(line).items() if k not in strip}
                for line in (straight / "log.jsonl").read_text().splitlines()]
    assert logged == expected


def test_resume_refuses_another_arch_and_a_corrupt_checkpoint(base_supernet, straight, tmp_path):
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(straight, out)
    with pytest.raises(CheckpointError, match=r"arch_id = 'r32-w0.5-11-11-11-11-11'.*this run has arch_id = 'r32"):
        finetune(base_supernet, "r32-w0.5-11-11-11-11-12", "digits", out=out, preset="smoke", overrides=TINY,
                 resume=True)
    last = out / "checkpoints" / "last.pt"
    last.write_bytes(last.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match=rf"checkpoint '{last}' cannot be read.*previous good checkpoint"):
        finetune(base_supernet, BASE_ARCH, "digits", out=out, preset="smoke", overrides=TINY, resume=True)
    with pytest.raises(CheckpointError, match="no fine-tuning checkpoint to resume from in"):
        finetune(base_supernet, BASE_ARCH, "digits", out=tmp_path / "empty", overrides=TINY, resume=True)


@pytest.mark.slow
def test_sigkill_then_resume_matches_straight_run(base_supernet, straight, tmp_path, helper_script):
    out = tmp_path / "killed"
    cmd = [sys.executable, str(helper_script), str(base_supernet), str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    last = out / "checkpoints" / "last.pt"
    deadline = time.monotonic() + 300
    while not last.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL, err.decode()[-2000:]
    assert not (out / "model.pt").exists()
    cursor = torch.load(last, weights_only=True)["cursor"]
    assert cursor["stage"] != "done" and len(cursor["history"]) >= 2
    subprocess.run([*cmd, "--resume"], env=env, check=True, capture_output=True, timeout=600)
    assert_same_weights(model_state(out), model_state(straight))
