"""torchrun with 2 CPU processes (gloo): training runs, ranks agree on every weight, only rank 0 writes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from hwnat.training.distributed import env_ranks


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_env_ranks():
    assert env_ranks({}) == (0, 1, 0)
    assert env_ranks({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1"}) == (3, 4, 1)


@pytest.mark.slow
def test_two_cpu_processes_end_with_identical_weights(tmp_path, tiny_script):
    out, hashes = tmp_path / "ddp", tmp_path / "hashes"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--nnodes", "1",
           "--master_addr", "127.0.0.1", "--master_port", str(free_port()), str(tiny_script), str(out),
           "--variant", "ee-parallel", "--steps", "2", "--hash-dir", str(hashes)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rank0, rank1 = (hashes / "rank0.txt").read_text(), (hashes / "rank1.txt").read_text()
    assert rank0 == rank1
    import json

    config = json.loads((out / "config.json").read_text())
    assert config["world_size"] == 2
    log = (out / "log.jsonl").read_text().splitlines()
    assert len(log) == len(config["phases"])
    assert not list(out.glob("**/.*tmp*"))
