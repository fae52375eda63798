"""hwnat build end to end on the fake target with a tiny space: files, cache reuse, SIGKILL + --resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hwnat.errors import ConfigError
from hwnat.space import SearchSpace, StageSpec

pytestmark = pytest.mark.slow

SPACE = SearchSpace(name="tiny", resolutions=(32,), width_mults=(0.5,), kernel_sizes=(3, 5), expand_ratios=(3, 4),
                    depths=(1, 2), stages=(StageSpec(24, 2, "relu", False), StageSpec(40, 2, "hswish", True)),
                    num_classes=10)


def run_build(out: Path, budget: str, resume: bool = False, config: Path | None = None):  # type: ignore[no-untyped-def]
    from hwnat.pipeline import build

    return build("fake-cpu", budget, space=SPACE, preset="smoke", out=out, resume=resume, progress=False,
                 config=config)


def stages(out: Path) -> dict:
    return json.loads((out / "build.json").read_text())["stages"]


def test_build_writes_a_verified_report_and_a_second_budget_reuses_table_and_supernet(tmp_path: Path) -> None:
    report = run_build(tmp_path / "one", "latency=1ms")
    files = {p.name for p in (tmp_path / "one").iterdir()}
    assert {"build.json", "report.json", "report.md", "report.html", "pareto.png", "latency.png", "search"} <= files
    data = json.loads((tmp_path / "one" / "report.json").read_text())
    assert data["passed"] == report.passed is True
    check = data["checks"][0]
    assert check["item"] == "latency" and check["value"] <= 1.0 and "measured on fake-cpu" in check["source"]
    assert report.chosen["arch_id"] in {c["arch_id"] for c in report.candidates}
    assert "data:image/png;base64," in (tmp_path / "one" / "report.html").read_text()
    assert "fine-tuned (step 2: " in (tmp_path / "one" / "report.md").read_text()
    first = stages(tmp_path / "one")
    assert first["table"]["result"]["source"] == "profiled" and first["supernet"]["result"]["source"] == "trained"
    assert first["finetune"]["result"]["source"] == "trained"

    config = tmp_path / "sized.toml"  # sizes only the search and the selection: the super-network is reused
    config.write_text('[build]\ncandidates = 1\ntiming = "table-speed"\ncalm_wait_s = 0\n[search]\niterations = 1\n')
    report = run_build(tmp_path / "two", "latency=0.9ms,params=400k", config=config)
    second = stages(tmp_path / "two")
    assert len(second["select"]["result"]["candidates"]) == 1
    # timed paired with the table's reference subnet, scaled to the table's speed; the raw timing kept
    candidate, = second["select"]["result"]["candidates"]
    assert candidate["raw_p50_ms"] > 0 and candidate["host_slowdown"] == min(candidate["host_slowdowns"])
    assert "at the table's speed" in report.checks[0].source  # fake-cpu has no format: selection's figure
    assert f"the reference taking {candidate['host_slowdown']:.2f}× its time" in report.checks[0].source
    assert second["search"]["result"]["evaluations"] < first["search"]["result"]["evaluations"]
    assert second["table"]["result"]["source"] == "cache"
    assert second["supernet"]["result"]["source"] == "cache"
    assert second["supernet"]["result"]["path"] == first["supernet"]["result"]["path"]
    # the second search found the first one's scores (same super-network, data and seed: same initial sample)
    first_cache, second_cache = first["search"]["result"]["cache"], second["search"]["result"]["cache"]
    for stage in (first, second):
        cache = stage["search"]["result"]["cache"]
        assert cache["hits"] + cache["scored"] == stage["search"]["result"]["evaluations"]
    assert second_cache["path"] == first_cache["path"] and second_cache["hits"] > first_cache["hits"]
    assert json.loads(Path(first_cache["path"]).read_text().splitlines()[0])["space"] == SPACE.name

    with pytest.raises(ConfigError, match="--budget: no subnet .* the smallest subnet .* reaches latency"):
        run_build(tmp_path / "three", "latency=0.01ms")
    assert set(stages(tmp_path / "three")) == {"table"}  # refused before any training


SCRIPT = """
import sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from test_build_run import run_build
run_build(Path({out!r}), "latency=1ms", resume=len(sys.argv) > 1)
"""


def test_sigkill_then_resume_redoes_no_completed_stage(tmp_path: Path) -> None:
    out = tmp_path / "run"
    script = SCRIPT.format(tests=str(Path(__file__).parent), out=str(out))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-c", script], env=env, start_new_session=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if (out / "build.json").exists() and "supernet" in stages(out):
            break
        time.sleep(0.2)
    assert proc.poll() is None, "the build ended before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = stages(out)
    assert "report" not in before and not (out / "report.json").exists()
    done = subprocess.run([sys.executable, "-c", script, "resume"], env=env, timeout=600)
    assert done.returncode == 0
    after = stages(out)
    for name in ("table", "supernet"):
        assert after[name] == before[name]
    assert (out / "report.json").exists()
