"""The NAT / NATv2 loop on the synthetic evaluator: outputs, reproducibility, resume (incl. SIGKILL), bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from hwnat.errors import CheckpointError, ConfigError
from hwnat.search import make_config, run_search
from hwnat.search.evaluator import SyntheticEvaluator
from hwnat.search.loop import ARCHIVE_LOG, FRONT_FILE, HV_FILE, PLOT_FILE
from hwnat.search.state import STATE_FILE

TINY = {"archive_size": 10, "pop_size": 10, "generations": 2, "candidates": 3, "iterations": 3, "eval_batch": 8,
            "predictor_options": {"n_estimators": 30}}


def tiny(algorithm: str = "natv2", **kw):
    opts = {**TINY, **kw}
    if algorithm == "nat":
        opts = {**TINY, "predictor": "rbf", "predictor_options": {"members": 5}, "adapt": False, **kw}
    return make_config("smoke", algorithm, **opts)


def same(a, b) -> bool:
    return np.array_equal(a.genomes, b.genomes) and np.array_equal(a.error, b.error)


@pytest.mark.parametrize("algorithm", ["natv2", "nat"])
def test_runs_and_writes_outputs(space, latency, evaluator, tmp_path, algorithm) -> None:
    cfg = tiny(algorithm, budgets="latency=4ms")
    rows = []
    res = run_search(cfg, evaluator, space, latency=latency, out=tmp_path, progress=rows.append)
    assert [r["iteration"] for r in rows] == [0, 1, 2, 3]
    if algorithm == "natv2":
        assert len(res.archive) == 10 and rows[0]["new"] == 20  # pre-processing: 2 × archive, keep 10
    else:
        assert len(res.archive) == 10 + 3 * 3  # NAT grows
    assert res.evaluations == rows[-1]["evaluations"] == len((tmp_path / ARCHIVE_LOG).read_text().splitlines())
    assert (res.front.values["latency"] <= 4).all() and len(res.front) >= 1
    assert all(h["hv"] >= 0 for h in rows) and rows[-1]["hv"] >= rows[0]["hv"] - 1e-12
    front = json.loads((tmp_path / FRONT_FILE).read_text())
    assert front["objectives"] == ["error", "latency"] and len(front["front"]) == len(res.front)
    assert "kendall" in (tmp_path / HV_FILE).read_text().splitlines()[0]
    assert (tmp_path / PLOT_FILE).read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / STATE_FILE).exists()


def test_three_objectives_use_nsga3(space, latency, evaluator) -> None:
    res = run_search(tiny(objectives=("error", "latency", "params"), iterations=1), evaluator, space,
                     latency=latency)
    assert res.front.F(("error", "latency", "params")).shape[1] == 3


def test_new_candidates_are_not_archive_duplicates(space, latency, evaluator, tmp_path) -> None:
    run_search(tiny(), evaluator, space, latency=latency, out=tmp_path)
    ids = [json.loads(line)["arch_id"] for line in (tmp_path / ARCHIVE_LOG).read_text().splitlines()]
    assert len(ids) == len(set(ids))


def test_same_seed_same_archive_other_seed_differs(space, latency) -> None:
    a = run_search(tiny(seed=5), SyntheticEvaluator(space), space, latency=latency)
    b = run_search(tiny(seed=5), SyntheticEvaluator(space), space, latency=latency)
    c = run_search(tiny(seed=6), SyntheticEvaluator(space), space, latency=latency)
    assert same(a.archive, b.archive) and a.history[-1]["hv"] == b.history[-1]["hv"]
    assert not same(a.archive, c.archive)


def test_resume_equals_uninterrupted(space, latency, tmp_path) -> None:
    full = run_search(tiny(), SyntheticEvaluator(space), space, latency=latency, out=tmp_path / "full")
    run_search(tiny(), SyntheticEvaluator(space), space, latency=latency, out=tmp_path / "part", stop_after=1)
    with pytest.raises(ConfigError, match="--resume"):
        run_search(tiny(), SyntheticEvaluator(space), space, latency=latency, out=tmp_path / "part")
    resumed = run_search(tiny(), SyntheticEvaluator(space), space, latency=latency, out=tmp_path / "part",
                         resume=True)
    assert same(full.archive, resumed.archive)
    assert (tmp_path / "full" / ARCHIVE_LOG).read_text() == (tmp_path / "part" / ARCHIVE_LOG).read_text()


KILL_SCRIPT = """
import sys
from hwnat.search import make_config, run_search
from hwnat.search.evaluator import SyntheticEvaluator, SyntheticLatency
from hwnat.space import get_space
sp = get_space("mbv3-small-input")
cfg = make_config("smoke", "natv2", **{tiny!r})
run_search(cfg, SyntheticEvaluator(sp, delay_s=float(sys.argv[2])), sp, latency=SyntheticLatency(sp),
           out=sys.argv[1], resume=sys.argv[3] == "1")
"""


def test_sigkill_then_resume_matches_uninterrupted(tmp_path, kill_when) -> None:
    script = tmp_path / "run.py"
    script.write_text(KILL_SCRIPT.format(tiny=TINY))
    ref, killed = tmp_path / "ref", tmp_path / "killed"
    subprocess.run([sys.executable, str(script), str(ref), "0", "0"], check=True, timeout=120)
    proc = subprocess.Popen([sys.executable, str(script), str(killed), "0.3", "0"])
    kill_when(proc, lambda: (killed / STATE_FILE).exists(), timeout=120)
    subprocess.run([sys.executable, str(script), str(killed), "0", "1"], check=True, timeout=120)
    assert (ref / ARCHIVE_LOG).read_text() == (killed / ARCHIVE_LOG).read_text()
    assert json.loads((ref / FRONT_FILE).read_text())["front"] == json.loads((killed / FRONT_FILE).read_text())["front"]


def test_bad_input(space, latency, evaluator, tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"smallest subnet \(min arch\) reaches latency"):
        run_search(tiny(budgets="latency=0.01ms"), evaluator, space, latency=latency)
    with pytest.raises(ConfigError, match="needs a latency table"):
        run_search(tiny(), evaluator, space)
    with pytest.raises(ConfigError, match="did you mean 'macs'"):
        tiny(objectives=("error", "mac"))
    with pytest.raises(ConfigError, match="did you mean 'generations'"):
        make_config("smoke", generation=3)
    with pytest.raises(ConfigError, match="did you mean 'natv2'"):
        make_config("smoke", "natv")
    with pytest.raises(ConfigError, match="adaptation"):
        run_search(tiny(adapt=True), evaluator, space, latency=latency)
    with pytest.raises(CheckpointError, match="no search state"):
        run_search(tiny(), evaluator, space, latency=latency, out=tmp_path, resume=True)
