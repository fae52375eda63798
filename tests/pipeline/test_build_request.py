"""hwnat build's input checks and run directory: clear errors naming the flag, fingerprinted stage records."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from hwnat.cli.main import cli
from hwnat.errors import ConfigError
from hwnat.pipeline.request import BUILD_PRESETS, BuildRequest, check_writable
from hwnat.pipeline.rundir import RunDir, fingerprint


@pytest.mark.parametrize("budget, parsed", [("latency=2ms", {"latency": 2.0}), ("latency=2 ms", {"latency": 2.0}),
                                            ("latency=0.002s", {"latency": 2.0}),
                                            ("macs=300M,params=1.5M", {"macs": 3e8, "params": 1.5e6}),
                                            ("params=1e6", {"params": 1e6})])
def test_budgets_accept_units(budget: str, parsed: dict[str, float]) -> None:
    assert BuildRequest.make("fake-cpu", budget).budgets == pytest.approx(parsed)


@pytest.mark.parametrize("kwargs, message", [
    ({"budget": "latncy=2ms"}, "--budget.*did you mean 'latency'"),
    ({"budget": "latency=2parsecs"}, "--budget"),
    ({"budget": ""}, "--budget: give at least one"),
    ({"budget": "latency=2ms", "preset": "quik"}, "--preset.*did you mean 'quick'"),
    ({"budget": "latency=2ms", "data": "/no/such/folder"}, "--data: '/no/such/folder' does not exist"),
    ({"budget": "latency=2ms", "supernet": "/no/such.pt"}, "--supernet: '/no/such.pt' does not exist"),
    ({"budget": "latency=2ms", "seed": -1}, "--seed"),
    ({"budget": "latency=2ms", "formats": "onnx,onnx-int9"}, "--formats.*did you mean 'onnx-int8'"),
])
def test_bad_requests_name_the_flag(kwargs: dict, message: str) -> None:
    budget = kwargs.pop("budget")
    with pytest.raises(ConfigError, match=message):
        BuildRequest.make("fake-cpu", budget, **kwargs)


def test_presets_match_the_cli_choices() -> None:
    from hwnat.cli.build_cmd import PRESETS

    assert set(PRESETS) == set(BUILD_PRESETS)


def test_an_unwritable_out_is_refused(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match="--out: cannot write to"):
        check_writable(blocker / "run", "--out")


def test_run_dir_needs_resume_and_reuses_only_matching_stages(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run", {"target": "fake-cpu"}, resume=False)
    fp = fingerprint({"a": 1})
    run.complete("table", fp, {"path": "t.json"}, 1.5)
    with pytest.raises(ConfigError, match="already holds a build.*--resume"):
        RunDir(tmp_path / "run", {"target": "fake-cpu"}, resume=False)
    again = RunDir(tmp_path / "run", {"target": "fake-cpu"}, resume=True)
    assert again.cached("table", fp) == {"path": "t.json"}
    assert again.cached("table", fingerprint({"a": 2})) is None
    assert again.cached("search", fp) is None
    assert fingerprint({"x": 1, "y": [1, 2]}) == fingerprint({"y": [1, 2], "x": 1})


def test_a_stage_resumes_only_work_done_for_the_same_inputs(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run", {"target": "fake-cpu"}, resume=False)
    work = run.claim("finetune", "aaaa")
    (work / "checkpoints").mkdir()
    (work / "checkpoints" / "last.pt").write_text("arch A, epoch 1")
    assert (run.claim("finetune", "aaaa") / "checkpoints" / "last.pt").exists()  # killed, resumed: kept
    assert not any((run.claim("finetune", "bbbb")).glob("checkpoints/*"))  # another subnet chosen: removed
    (tmp_path / "run" / "export").mkdir()
    (tmp_path / "run" / "export" / "old.onnx").write_text("written before work folders were marked")
    assert [p.name for p in run.claim("export", "cccc").iterdir()] == [".inputs"]


def test_a_subnet_is_fine_tuned_once_for_every_build_that_chooses_it(tmp_path: Path, monkeypatch) -> None:
    from types import SimpleNamespace

    import hwnat.finetune as finetune_api
    import hwnat.pipeline.stages as stages

    trained = []

    def fake_finetune(supernet, arch, data, *, out, **kw):  # type: ignore[no-untyped-def]
        trained.append(arch)
        (out / "checkpoints").mkdir(exist_ok=True)
        (out / "checkpoints" / "last.pt").write_text("checkpoint")
        (out / "model.pt").write_text(f"weights of {arch}")
        (out / "log.jsonl").write_text('{"epoch": 1, "loss": 1.0}\n')
        (out / "result.json").write_text(json.dumps({"out_dir": str(out), "model": str(out / "model.pt"),
                                                     "arch_id": arch, "epochs": 1, "exit_heads": None}))

    monkeypatch.setattr(finetune_api, "finetune", fake_finetune)
    monkeypatch.setattr(stages, "data_identity", lambda ds: {"images": 100})
    monkeypatch.setattr(stages, "stage_overrides", lambda ctx, name: {})

    def finetune_in(name: str, arch: str) -> dict:
        run = RunDir(tmp_path / name, {"target": "fake-cpu"}, resume=False)
        run.claim("finetune", name)
        ctx = SimpleNamespace(run=run, fingerprints={"supernet": "s1"}, dataset=None, progress=False,
                              results={"supernet": {"path": "supernet.pt"}, "select": {"chosen": {"arch_id": arch}}},
                              settings={"finetune": "quick"}, request=SimpleNamespace(
                                  cache_dir=tmp_path / "cache", seed=0, device="cpu"))
        return stages.finetune(ctx)  # type: ignore[arg-type]

    first = finetune_in("one", "arch-a")
    again = finetune_in("two", "arch-a")  # another budget or target chose the same subnet
    other = finetune_in("three", "arch-b")
    assert trained == ["arch-a", "arch-b"]
    assert (first["source"], again["source"], other["source"]) == ("trained", "cache", "trained")
    assert again["model"] == str(tmp_path / "two" / "finetune" / "model.pt") and again["epochs"] == 1
    assert (tmp_path / "two" / "finetune" / "model.pt").read_text() == "weights of arch-a"
    assert (tmp_path / "two" / "finetune" / "log.jsonl").exists()
    assert first["cache"] == again["cache"] != other["cache"]
    assert sorted(p.name for p in Path(first["cache"]).iterdir()) == ["log.jsonl", "model.pt", "result.json"]


@pytest.mark.parametrize("args, message", [
    (["--target", "fake-cpu", "--budget", "latency=2parsecs"], "--budget"),
    (["--target", "fake-cpuu", "--budget", "latency=2ms"], "did you mean 'fake-cpu'"),
    (["--target", "fake-cpu", "--budget", "latency=2ms", "--data", "/no/such/dir"], "--data"),
])
def test_cli_errors_are_clean(args: list[str], message: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["build", *args, "--out", str(tmp_path / "run")])
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_a_full_disk_is_a_clear_error_that_keeps_completed_stages(tmp_path: Path, monkeypatch) -> None:
    import errno

    import hwnat.pipeline.api as api
    from hwnat.errors import HwnatError
    from hwnat.pipeline.stages import Stage

    def done(ctx) -> dict:  # type: ignore[no-untyped-def]
        return {"ok": True}

    def full(ctx) -> dict:  # type: ignore[no-untyped-def]
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "run" / "x"))

    monkeypatch.setattr(api, "STAGES", [Stage("first", lambda ctx: {}, done), Stage("second", lambda ctx: {}, full)])
    with pytest.raises(HwnatError, match="the disk is full .* completed stages are kept .* --resume"):
        api.build("fake-cpu", "latency=1ms", out=tmp_path / "run", progress=False)
    stored = json.loads((tmp_path / "run" / "build.json").read_text())["stages"]
    assert list(stored) == ["first"]


def _select_on_a_slow_target(monkeypatch, folder: Path, budget: float,  # type: ignore[no-untyped-def]
                             headroom: float, timing: str = "deployed", host: tuple[float, ...] = (1.2,),
                             tries: int = 3, overhead: float = 0.0, stop_at_call: int | None = None,
                             resume: bool = False):
    """Run the select stage on candidates predicted at 1..8 ms, more accurate when slower, on a target measuring
    1.5× the table plus `overhead` ms; at the table's speed the host runs host[i]× slower than at the table's
    calibration in its i-th measurement, and above 1.25× the subnets slow down 1.3× more than the reference.
    The run folder is `folder`, its select folder emptied unless `resume` (as a build claims it for other inputs);
    `stop_at_call`: the measurement with that index raises KeyboardInterrupt.
    Returns (the arch lists measured per round, the stage's result)."""
    from types import SimpleNamespace

    import hwnat.latency.networks as networks
    import hwnat.space.genome as genome
    from hwnat.config.targets import load_target
    from hwnat.latency.timing import UnitTiming
    from hwnat.pipeline.request import CALM_DEFAULTS
    from hwnat.pipeline.stages import select

    feasible = [{"arch_id": f"a{i}", "error": 0.1 * (9 - i), "macs": 1.0, "params": 1.0, "latency": float(i)}
                for i in range(1, 9)]
    calls = []

    def measure(backend, space, archs, timing, paired, scale_ms, **kw):  # type: ignore[no-untyped-def]
        if len(calls) == stop_at_call:
            raise KeyboardInterrupt
        slowdown = host[len(calls) % len(host)] if paired else 1.0
        calls.append(list(archs))
        slower = 1.3 if slowdown > 1.25 else 1.0
        timed = networks.MeasuredNetworks(UnitTiming(1.5 * slower * float(a[1:]) + overhead, 1.6 * float(a[1:]), 1.5,
                                                     0.0, 10)
                                          for a in archs)
        if paired:
            assert scale_ms == 2.0
            timed.scale_ms, timed.reference_window_ms = scale_ms, scale_ms * slowdown
            timed.raw = [UnitTiming(slowdown * t.p50_ms, t.p90_ms, t.mean_ms, 0.0, 10) for t in timed]
        return timed

    monkeypatch.setattr(networks, "measure_networks", measure)
    monkeypatch.setattr(genome, "parse_arch_id", lambda space, text: text)
    ctx = SimpleNamespace(results={"search": {"feasible": feasible}}, request=SimpleNamespace(
                          budgets={"latency": budget}, seed=0), settings={"candidates": 2, "rounds": 1,
                          "headroom": headroom, "timing": timing, **CALM_DEFAULTS, "calm_tries": tries,
                          "calm_wait_s": 0.0}, target=load_target("fake-cpu"), space=None,
                          progress=False, notify=None, table=lambda: SimpleNamespace(reference_speed_ms=lambda: 2.0),
                          run=SimpleNamespace(path=lambda *parts: folder.joinpath(*parts)))
    if not resume:
        shutil.rmtree(folder / "select", ignore_errors=True)
    (folder / "select").mkdir(parents=True, exist_ok=True)
    return calls, select(ctx)  # type: ignore[arg-type]


def test_select_measures_a_second_round_when_the_target_runs_slower_than_the_table(monkeypatch, tmp_path: Path) -> None:
    calls, result = _select_on_a_slow_target(monkeypatch, tmp_path, 5.0, 0.0)
    assert calls == [["a8", "a7"], ["a3", "a2"]]  # a3: 3 ms predicted × 1.5 = 4.5 ms ≤ 5 ms
    assert result["chosen"]["arch_id"] == "a3" and result["chosen"]["measured_p50_ms"] == pytest.approx(4.5)
    assert [r["round"] for r in result["candidates"]] == [1, 1, 2, 2]


def test_select_measures_a_third_round_when_the_second_misses_too(monkeypatch, tmp_path: Path) -> None:
    # 4 ms of fixed overhead: small subnets run slower against their prediction than the first round's large ones
    calls, result = _select_on_a_slow_target(monkeypatch, tmp_path, 6.5, 0.0, overhead=4.0)
    # round 2 scales by round 1's 2.04× (a3, a2: 8.5, 7 ms); round 3 by the median of all four, 2.45× (a1: 5.5 ms)
    assert calls == [["a8", "a7"], ["a3", "a2"], ["a1"]]
    assert result["chosen"]["arch_id"] == "a1" and [r["round"] for r in result["candidates"]] == [1, 1, 2, 2, 3]


def test_a_stopped_selection_resumes_after_its_last_measured_round(monkeypatch, tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt):  # stopped while measuring round 3
        _select_on_a_slow_target(monkeypatch, tmp_path, 6.5, 0.0, overhead=4.0, stop_at_call=2)
    calls, result = _select_on_a_slow_target(monkeypatch, tmp_path, 6.5, 0.0, overhead=4.0, resume=True)
    assert calls == [["a1"]]  # rounds 1 and 2 read back, not measured again
    assert result["chosen"]["arch_id"] == "a1" and [r["round"] for r in result["candidates"]] == [1, 1, 2, 2, 3]
    # rounds kept for other subnets (a changed search) are measured again
    rounds = json.loads((tmp_path / "select" / "rounds.json").read_text())["rounds"]
    rounds[1][0]["arch_id"] = "a6"
    (tmp_path / "select" / "rounds.json").write_text(json.dumps({"rounds": rounds}))
    calls, _ = _select_on_a_slow_target(monkeypatch, tmp_path, 6.5, 0.0, overhead=4.0, resume=True)
    assert calls == [["a3", "a2"], ["a1"]]


def test_select_keeps_the_headroom_free(monkeypatch, tmp_path: Path) -> None:
    calls, result = _select_on_a_slow_target(monkeypatch, tmp_path, 5.0, 0.2)  # measured p50 must be ≤ 4 ms
    assert calls == [["a8", "a7"], ["a2", "a1"]]  # a3 (4.5 ms) would meet the budget but not the headroom
    assert result["chosen"]["arch_id"] == "a2" and result["chosen"]["measured_p50_ms"] == pytest.approx(3.0)
    with pytest.raises(ConfigError, match=r"latency ≤ 0.95 ms \(1 ms less the 5% headroom\)"):
        _select_on_a_slow_target(monkeypatch, tmp_path, 1.0, 0.05)  # even a1 measures 1.5 ms


def test_select_can_check_the_budget_at_the_tables_speed(monkeypatch, tmp_path: Path) -> None:
    calls, result = _select_on_a_slow_target(monkeypatch, tmp_path, 5.0, 0.0, timing="table-speed")
    assert result["chosen"]["measured_p50_ms"] == pytest.approx(4.5)  # the scaled figure decides ...
    assert result["chosen"]["raw_p50_ms"] == pytest.approx(1.2 * 4.5)  # ... the timed one is kept
    assert result["chosen"]["host_slowdown"] == pytest.approx(1.2) and len(calls) == 2  # calm: measured once a round
    with pytest.raises(ConfigError, match="on fake-cpu at the table's speed"):
        _select_on_a_slow_target(monkeypatch, tmp_path, 1.0, 0.05, timing="table-speed")


def test_select_at_the_tables_speed_waits_for_a_calm_host(monkeypatch, tmp_path: Path) -> None:
    calls, result = _select_on_a_slow_target(monkeypatch, tmp_path, 5.0, 0.0, timing="table-speed",
                                             host=(2.0, 1.6, 1.1))
    assert calls == [["a8", "a7"]] * 3 + [["a3", "a2"]] * 3  # each round measured until the host is calm
    assert result["chosen"]["arch_id"] == "a3" and result["chosen"]["measured_p50_ms"] == pytest.approx(4.5)
    assert result["chosen"]["host_slowdowns"] == pytest.approx([2.0, 1.6, 1.1])
    # a host that stays slow: the calmest of the tries is kept, its slow-spell timings choose a smaller subnet
    calls, result = _select_on_a_slow_target(monkeypatch, tmp_path, 5.0, 0.0, timing="table-speed",
                                             host=(2.0, 1.6), tries=2)
    assert calls == [["a8", "a7"]] * 2 + [["a2", "a1"]] * 2  # a3: 3 × 1.5 × 1.3 > 5 ms
    assert result["chosen"]["arch_id"] == "a2" and result["chosen"]["host_slowdown"] == pytest.approx(1.6)


def test_select_prefers_the_slower_of_candidates_the_search_cannot_tell_apart() -> None:
    from hwnat.pipeline.stages import most_accurate

    fits = [{"arch_id": "fast", "error": 0.200, "measured_p50_ms": 1.0},
            {"arch_id": "slow", "error": 0.205, "measured_p50_ms": 1.9},
            {"arch_id": "slower-but-worse", "error": 0.260, "measured_p50_ms": 1.95}]
    # one standard error of 20% error on 1,000 images is 1.26 points: 0.5 points is noise, 6 points is not
    assert most_accurate(fits, 1000)["arch_id"] == "slow"
    assert most_accurate(fits, 100_000)["arch_id"] == "fast"  # 0.13 points: a real difference
    assert most_accurate(fits, 0)["arch_id"] == "fast"  # unknown image count: the most accurate
