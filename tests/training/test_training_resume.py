"""Resume: a run interrupted after any epoch (or killed with SIGKILL) ends with the same weights as a straight run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from tiny_run import TINY, overrides

from hwnat.training import train_supernet

EPOCHS = 2  # per phase; base variant phases: teacher, kernel, depth-1, expand-1 → 8 epochs


class Stop(Exception):
    pass


def final_state(out: Path) -> dict[str, torch.Tensor]:
    return torch.load(out / "supernet.pt", weights_only=True)["state_dict"]


def assert_same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, f"{len(different)} tensors differ, e.g. {different[:3]}"


@pytest.fixture(scope="module")
def straight(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("straight")
    train_supernet(TINY, "digits", preset="smoke", out=out, seed=5, overrides=overrides(EPOCHS), progress=False)
    return out


# stop after epoch 3 (inside the kernel phase) and after epoch 6 (end of depth-1: expand-1's sorting is pending)
@pytest.mark.parametrize("stop_after", [3, 6])
def test_interrupted_run_resumes_to_identical_weights(straight, tmp_path, stop_after):
    seen = []

    def crash(record):
        seen.append(record)
        if len(seen) == stop_after:
            raise Stop

    out = tmp_path / "run"
    with pytest.raises(Stop):
        train_supernet(TINY, "digits", preset="smoke", out=out, seed=5, overrides=overrides(EPOCHS), progress=False,
                       on_epoch=crash)
    cursor = torch.load(out / "checkpoints" / "last.pt", weights_only=True)["cursor"]
    assert len(cursor["history"]) == stop_after
    result = train_supernet(TINY, "digits", preset="smoke", out=out, seed=5, overrides=overrides(EPOCHS),
                            progress=False, resume=True)
    assert_same_weights(final_state(out), final_state(straight))
    log = (out / "log.jsonl").read_text().splitlines()
    assert len(log) == 4 * EPOCHS == len(result.history)
    assert log == (straight / "log.jsonl").read_text().splitlines() or _same_but_times(log, straight)


def _same_but_times(log: list[str], straight: Path) -> bool:
    import json

    def strip(line: str) -> dict:
        r = json.loads(line)
        for key in ("train_s", "val_s", "peak_rss_mb"):
            r.pop(key)
        return r

    return [strip(x) for x in log] == [strip(x) for x in (straight / "log.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_sigkill_then_resume_matches_straight_run(straight, tmp_path, tiny_script):
    out = tmp_path / "killed"
    cmd = [sys.executable, str(tiny_script), str(out), "--epochs", str(EPOCHS)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    last = out / "checkpoints" / "last.pt"
    deadline = time.monotonic() + 120
    while not last.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL, err.decode()[-2000:]
    assert not (out / "supernet.pt").exists()
    done = len(torch.load(last, weights_only=True)["cursor"]["history"])
    assert 1 <= done < 4 * EPOCHS
    subprocess.run([*cmd, "--resume"], env=env, check=True, capture_output=True, timeout=300)
    assert_same_weights(final_state(out), final_state(straight))
