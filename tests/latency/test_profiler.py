"""Profiling on the fake runtime: journal durability, resume, reuse of a table, and SIGKILL mid-way."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from hwnat.backends.base import TimingStats, create_backend
from hwnat.config.targets import load_target
from hwnat.latency.blocks import enumerate_units
from hwnat.latency.build import ProfileRequest, build_table, journal_path
from hwnat.latency.journal import Journal, JournalRow
from hwnat.latency.profiler import profile_units
from hwnat.latency.table import LatencyTable
from hwnat.latency.timing import UnitTiming, combine_passes
from hwnat.space import SearchSpace, StageSpec, get_space, sample_archs

STATS = UnitTiming(0.1, 0.12, 0.105, 0.01, 50, 0.09, 0.08)


def tiny_space() -> SearchSpace:
    return SearchSpace(name="tiny", resolutions=(16, 24), width_mults=(0.5,), kernel_sizes=(3, 5), expand_ratios=(3,),
                       depths=(1, 2), stages=(StageSpec(24, 2, "relu", False), StageSpec(40, 2, "hswish", True)),
                       num_classes=4)


def test_journal_appends_reloads_and_drops_a_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    with Journal(path, {"target": "x"}) as journal:
        assert journal.load() == {}
        journal.append("a", STATS)
        journal.append("b", STATS, 1)
    with open(path, "a") as f:
        f.write('{"key": "c", "stats": {"p50')  # killed mid-write
    journal = Journal(path, {"target": "x"})
    assert journal.load() == {("a", 0): JournalRow(STATS), ("b", 1): JournalRow(STATS)}
    journal.append("c", STATS)
    journal.close()
    lines = path.read_text().splitlines()
    assert len(lines) == 4 and [json.loads(line)["key"] for line in lines[1:]] == ["a", "b", "c"]


def test_journal_of_another_job_is_set_aside(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    with Journal(path, {"target": "x"}) as journal:
        journal.append("a", STATS)
    assert Journal(path, {"target": "y"}).load() == {}
    assert (tmp_path / "j.jsonl.stale").exists() and not path.exists()


def test_profile_units_skips_completed_keys(tmp_path: Path) -> None:
    spec = load_target("fake-cpu")
    backend = create_backend(spec)
    units = enumerate_units(tiny_space())
    journal = Journal(tmp_path / "j.jsonl", {"t": 1})
    first = profile_units(backend, units[:3], spec.timing, passes=2, journal=journal, progress=False)
    assert (first.measured, first.resumed, first.reused) == (6, 0, 0)
    again = profile_units(backend, units, spec.timing, passes=2, journal=Journal(tmp_path / "j.jsonl", {"t": 1}),
                          known={units[-1].key: STATS}, progress=False)
    assert (again.measured, again.resumed, again.reused) == (2 * (len(units) - 4), 6, 1)
    assert list(again.entries) == [u.key for u in units] and again.entries[units[-1].key] == STATS
    assert all(again.entries[k] == first.entries[k] for k in first.entries)


def test_combine_passes() -> None:
    a, b = UnitTiming(1.0, 2.0, 1.2, 0.1, 10, 0.9, 0.8), UnitTiming(3.0, 4.0, 3.2, 0.1, 10, 2.5, 2.0)
    c = UnitTiming(2.0, 2.5, 2.2, 0.1, 20, 1.5, 1.0)
    combined = combine_passes([a, b, c])
    assert (combined.p50_ms, combined.p90_ms, combined.n, combined.p10_ms, combined.min_ms) == (2.0, 2.5, 40, 1.5, 0.8)
    assert combined.mean_ms == pytest.approx((12 + 32 + 44) / 40) and combined.std_ms > 0.5
    assert combine_passes([a]) == a
    assert combine_passes([TimingStats(1.0, 2.0, 1.2, 0.1, 10), a]).p10_ms is None  # no p10 recorded


def test_unit_timing_from_samples_and_dicts() -> None:
    t = UnitTiming.from_seconds(np.arange(1, 101) * 1e-3)
    assert (t.min_ms, t.p10_ms, t.p50_ms, t.n) == (1.0, pytest.approx(10.9), pytest.approx(50.5), 100)
    assert UnitTiming.from_dict(t.to_dict()) == t
    assert UnitTiming.from_dict(TimingStats(1.0, 2.0, 1.0, 0.0, 5).to_dict()).p10_ms is None


def test_build_table_calibrates_validates_and_reuses(tmp_path: Path) -> None:
    space = tiny_space()
    out = tmp_path / "tiny.json"
    req = ProfileRequest(load_target("fake-cpu"), space, out=out, calibrate=5, validate=3, progress=False)
    report = build_table(req)
    table = LatencyTable.load(out)
    assert not journal_path(out).exists()
    assert report["profiling"]["units"] == len(table.entries) == len(enumerate_units(space))
    assert report["profiling"]["measured_timings"] == 3 * len(table.entries)
    assert table.calibration.n == 5 and table.validation["n"] == 3
    assert {"within_10pct", "spearman", "n", "raw", "calibrated"} <= set(report["validation"])
    arch = sample_archs(space, 1, seed=0)[0]
    assert table.predict(space, arch) > 0
    again = build_table(ProfileRequest(load_target("fake-cpu"), space, out=out, progress=False))
    assert again["profiling"]["reused_all"] and LatencyTable.load(out).calibration == table.calibration


def test_a_stored_calibration_is_scored_at_the_machines_speed_now(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The calibration stores the reference subnet's speed; validating it later on a machine running 1.3× slower
    (every subnet and the reference alike) scales its predictions by the reference alone and loses nothing."""
    from hwnat.latency import build

    space, out = tiny_space(), tmp_path / "tiny.json"
    build_table(ProfileRequest(load_target("fake-cpu"), space, out=out, calibrate=5, validate=3, progress=False))
    stored = LatencyTable.load(out).calibration
    assert stored.reference_ms is not None and stored.reference_ms > 0
    measure = build.measure_networks

    def slower(*args: object, **kwargs: object) -> object:
        timed = measure(*args, **kwargs)  # type: ignore[arg-type]
        slow = type(timed)(UnitTiming.from_dict({k: v * 1.3 if k.endswith("_ms") else v
                                                 for k, v in t.to_dict().items()}) for t in timed)
        slow.scale_ms = timed.scale_ms * 1.3  # type: ignore[operator]
        return slow

    monkeypatch.setattr(build, "measure_networks", slower)
    report = build_table(ProfileRequest(load_target("fake-cpu"), space, out=out, calibrate=0, validate=6,
                                        progress=False))
    table = LatencyTable.load(out)
    assert table.calibration == stored and report["validation"]["speed_factor"] == pytest.approx(1.3, rel=0.05)
    assert abs(report["validation"]["calibrated"]["bias_pct"]) < 5  # about -23% without the speed factor


KILL_SCRIPT = """
import sys, time
from pathlib import Path
from hwnat.backends.fake import FakeBackend
from hwnat.cli.main import cli

compile_ = FakeBackend.compile
def slow_compile(self, source):
    time.sleep(0.02)
    return compile_(self, source)
FakeBackend.compile = slow_compile
cli.main(["profile", "--target", "fake-cpu", "--space", "mbv3-small-input", "--widths", "0.5",
          "--resolutions", "32", "--calibrate", "0", "--passes", "2", "--no-progress", "--out", sys.argv[1]],
         prog_name="hwnat")
"""


def _complete_entries(path: Path) -> list[dict]:
    raw = path.read_bytes()
    lines = raw[: raw.rfind(b"\n") + 1].decode().splitlines()
    return [json.loads(line) for line in lines[1:]]


def _run_and_kill(out: Path, at_least: int) -> list[dict]:
    journal = journal_path(out)
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(out)], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            if journal.exists() and len(_complete_entries(journal)) >= at_least:
                break
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            time.sleep(0.02)
        else:
            pytest.fail("the profile did not journal enough entries in time")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    return _complete_entries(journal)


def test_sigkill_mid_way_keeps_every_completed_entry(tmp_path: Path) -> None:
    space = get_space("mbv3-small-input")
    out = tmp_path / "table.json"
    first = _run_and_kill(out, 5)
    second = _run_and_kill(out, 93 + 5)  # into the second pass
    keys = [(row["key"], row["pass"]) for row in second]
    assert len(keys) == len(set(keys))  # no duplicates
    assert second[: len(first)] == first  # nothing lost or re-measured
    assert not out.exists()
    report = build_table(ProfileRequest(load_target("fake-cpu"), space, widths=(0.5,), resolutions=(32,), out=out,
                                        calibrate=0, passes=2, progress=False))
    expected = [u.key for u in enumerate_units(space, [0.5], [32])]
    assert report["profiling"]["resumed_timings"] == len(second)
    assert report["profiling"]["measured_timings"] == 2 * len(expected) - len(second)
    table = LatencyTable.load(out)
    assert sorted(table.entries) == sorted(expected)
    journalled = {(row["key"], row["pass"]): UnitTiming.from_dict(row["stats"]) for row in second}
    done = {key for key, p in journalled if (key, 1 - p) in journalled}
    assert done and all(table.entries[k] == combine_passes([journalled[k, 0], journalled[k, 1]]) for k in done)
    assert not journal_path(out).exists()


def test_probe_normalisation_scales_by_session() -> None:
    from hwnat.latency.probe import normalise, rescale
    from hwnat.latency.profiler import _normalised, _session_medians

    done = {("a", 0): JournalRow(STATS, 1.0, "s1"), ("a", 1): JournalRow(STATS, 2.0, "s1"),
            ("b", 0): JournalRow(STATS, 3.0, "s2"), ("c", 0): JournalRow(STATS)}
    medians = _session_medians(done)
    assert medians == {"s1": 1.5, "s2": 3.0}
    assert _normalised(done["a", 1], medians) == rescale(STATS, 0.75)  # measured while the machine ran slow
    assert _normalised(done["b", 0], medians) == STATS and _normalised(done["c", 0], medians) == STATS
    assert rescale(STATS, 2.0).p10_ms == pytest.approx(0.18) and rescale(STATS, 2.0).n == STATS.n
    assert normalise(STATS, None, 1.0) == STATS


@pytest.mark.parametrize("kwargs, message", [({"calibrate": -1}, "calibrate"), ({"validate": 1}, "validate"),
                                             ({"rounds": 0}, "rounds"), ({"passes": 0}, "passes"),
                                             ({"mode": "sideways"}, "unit timing mode"),
                                             ({"block_min_time_s": -0.1}, "block minimum time")])
def test_profile_request_refuses_bad_settings(kwargs: dict, message: str) -> None:
    from hwnat.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        ProfileRequest(load_target("fake-cpu"), tiny_space(), **kwargs)
