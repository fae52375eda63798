"""Board bundles: the archive and its manifest (unit jobs alone or in context, the speed probe), the self-contained
runner (run here on onnxruntime, and on fake runtimes for the probe scaling and context references), importing its
timings into a table, the errors for incomplete, mismatched or other-version timings, and `hwnat profile
--bundle/--import`."""

from __future__ import annotations

import ast
import dataclasses
import importlib.util
import json
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from latency_fakes import fake_ms

from hwnat.backends.base import cpu_model, create_backend
from hwnat.cli.main import cli
from hwnat.config.targets import TargetSpec, TimingSpec, load_target
from hwnat.latency import board_import, board_runner
from hwnat.latency.board_import import import_timings, load_timings
from hwnat.latency.build import ProfileRequest
from hwnat.latency.bundle import (
    BUNDLE_SCHEMA_VERSION,
    RUNNER_SOURCE,
    BundleError,
    BundlePlan,
    build_bundle,
    plan_bundle,
    read_manifest,
)
from hwnat.latency.identity import TargetIdentity
from hwnat.latency.jobs import plan_jobs
from hwnat.latency.networks import PAIRED_BURST
from hwnat.latency.probe import normalise, probe_timing, probe_unit
from hwnat.latency.table import LatencyTable
from hwnat.latency.timing import UnitTiming
from hwnat.space import SearchSpace, StageSpec, arch_id, encode, mid_arch, parse_arch_id

BACKENDS_TESTS = Path(__file__).resolve().parents[1] / "backends"
FAST = TimingSpec(warmup=2, min_runs=5, min_time_s=0.0)
ALLOWED_RUNNER_IMPORTS = {"numpy", "onnxruntime", "openvino", "tensorrt", "cuda"}

PROBE = """
import json, runpy, sys
sys.argv = ["run.py", "--out", {out!r}, "--quiet"]
code = 0
try:
    runpy.run_path({runner!r}, run_name="__main__")
except SystemExit as exc:
    code = exc.code
print("MODULES=" + json.dumps(sorted({{m.split(".")[0] for m in sys.modules}})))
sys.exit(code)
"""


def safe_extract(tar: tarfile.TarFile, dest: Path) -> None:
    """extractall with the 'data' filter where this Python has it (3.11.4+; Debian's 3.11.2 does not)."""
    if hasattr(tarfile, "data_filter"):
        tar.extractall(dest, filter="data")
    else:
        tar.extractall(dest)


def tiny_space() -> SearchSpace:
    return SearchSpace(name="tiny", resolutions=(16, 24), width_mults=(0.5,), kernel_sizes=(3, 5), expand_ratios=(3,),
                       depths=(1, 2), stages=(StageSpec(24, 2, "relu", False), StageSpec(40, 2, "hswish", True)),
                       num_classes=4)


def fast_target(name: str = "ort-cpu") -> TargetSpec:
    return dataclasses.replace(load_target(name), timing=FAST)


def tiny_request(target: str = "ort-cpu", **kw: Any) -> ProfileRequest:
    defaults: dict[str, Any] = {"calibrate": 5, "validate": 3, "rounds": 2, "progress": False}
    return ProfileRequest(fast_target(target), tiny_space(), **{**defaults, **kw})


def extract(path: Path, root: Path) -> Path:
    """The bundle at `path` extracted under `root`; returns its folder."""
    with tarfile.open(path) as tar:
        safe_extract(tar, root)
        top = tar.getnames()[0].split("/")[0]
    return root / top


X1 = np.zeros((1, 3, 8, 8), np.float32)


def journal_rows(out: Path) -> list[dict[str, Any]]:
    lines = out.with_name(out.name + ".journal.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines[1:]]


class FakeModel(board_runner.Model):
    """Every call takes the runtime's `ms(file)` times its current slowdown."""

    def __init__(self, runtime: FakeRuntime, path: Path, input_shape: tuple[int, ...]) -> None:
        self.runtime, self.name, self.input_shape = runtime, path.name, input_shape

    def time_calls(self, x: np.ndarray, timing: board_runner.Timing) -> list[float]:
        assert x.shape == self.input_shape
        return [self.runtime.ms(self.name) * self.runtime.slowdown * 1e-3] * max(timing.min_runs, 1)


class FakeRuntime:
    """A board runtime without a runtime: model times from `ms(file name)`, the machine's speed from `schedule(k)`,
    the slowdown from the k-th compilation on, until the next (set by fake_runtime)."""

    ms: Callable[[str], float] = staticmethod(lambda name: 1.0)  # type: ignore[assignment]
    schedule: Callable[[int], float] = staticmethod(lambda k: 1.0)  # type: ignore[assignment]

    def __init__(self, settings: dict[str, Any]) -> None:
        self.slowdown, self.compiled = 1.0, 0

    def version(self) -> str:
        return "fake-1.0"

    def device_name(self) -> str:
        return "fake board"

    def compile(self, path: Path, input_shape: tuple[int, ...]) -> FakeModel:
        assert path.is_file()
        self.compiled += 1
        self.slowdown = self.schedule(self.compiled)
        return FakeModel(self, path, input_shape)


def fake_runtime(monkeypatch: pytest.MonkeyPatch, name: str, ms: Callable[[str], float],
                 schedule: Callable[[int], float] = lambda k: 1.0) -> None:
    """Make the runner's runtime `name` a FakeRuntime with these model times and speed schedule."""
    cls = type("Fake", (FakeRuntime,), {"ms": staticmethod(ms), "schedule": staticmethod(schedule)})
    monkeypatch.setitem(board_runner.RUNTIME_CLASSES, name, cls)


def job_ms(manifest: dict[str, Any]) -> Callable[[str], float]:
    """Model time by file: 0.05 ms + 1 µs per job index, 0.2 ms for the probe, 0.5 ms for the reference subnet,
    1 ms for networks."""
    by_file = {Path(j["file"]).name: 0.05 + i * 1e-3 for i, j in enumerate(manifest["jobs"])}
    by_file |= {"probe.onnx": 0.2, "reference.onnx": 0.5}
    return lambda name: by_file.get(name, 1.0)


def run_runner(folder: Path, out: Path) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """run.py of an extracted bundle in a fresh interpreter; also the top-level modules it had imported."""
    code = PROBE.format(out=str(out), runner=str(folder / "run.py"))
    result = subprocess.run([sys.executable, "-c", code], check=False, cwd=folder, capture_output=True, text=True, timeout=300)
    line = next((x for x in result.stdout.splitlines() if x.startswith("MODULES=")), "MODULES=[]")
    return result, json.loads(line.removeprefix("MODULES="))


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[BundlePlan, Path]:
    path = tmp_path_factory.mktemp("bundle") / "tiny.tar.gz"
    return build_bundle(tiny_request(), path), path


@pytest.fixture(scope="module")
def board(bundle: tuple[BundlePlan, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The bundle extracted on a 'board' folder and run there once with the real onnxruntime."""
    plan, path = bundle
    root = tmp_path_factory.mktemp("board")
    with tarfile.open(path) as tar:
        safe_extract(tar, root)
    folder = root / plan.folder
    result, modules = run_runner(folder, folder / "timings.json")
    assert result.returncode == 0, result.stderr
    return {"folder": folder, "timings": folder / "timings.json", "modules": modules, "stderr": result.stderr}


def test_bundle_holds_manifest_models_runner_and_readme(bundle: tuple[BundlePlan, Path]) -> None:
    plan, path = bundle
    manifest = read_manifest(path)
    assert manifest == plan.manifest
    assert manifest["target"]["settings"]["name"] == "ort-cpu" and manifest["space"]["name"] == "tiny"
    assert manifest["timing"]["units"]["passes"] == 3 and manifest["timing"]["units"]["warmup"] == FAST.warmup
    assert manifest["timing"]["networks"]["rounds"] == 2
    assert [n["role"] for n in manifest["networks"]] == ["calibration"] * 5 + ["validation"] * 3
    assert len({n["arch_id"] for n in manifest["networks"]}) == 8
    assert manifest["unit_mode"] == "alone" and {"key", "file", "input_shape"} <= set(manifest["jobs"][0])
    assert [j["key"] for j in manifest["jobs"]] == [u["key"] for u in manifest["units"]] == [u.key for u in plan.units]
    assert manifest["probe"] == {"file": "models/probe.onnx", "input_shape": list(probe_unit(1).input_shape),
                                 "timing": asdict(probe_timing())}
    reference = mid_arch(tiny_space())
    assert manifest["reference"] == {"arch_id": arch_id(tiny_space(), reference), "file": "models/reference.onnx",
                                     "input_shape": [1, 3, reference.resolution, reference.resolution]}
    assert manifest["timing"]["networks"]["burst"] == PAIRED_BURST
    with tarfile.open(path) as tar:
        names = set(tar.getnames())
        runner = tar.extractfile(f"{plan.folder}/run.py").read()  # type: ignore[union-attr]
        readme = tar.extractfile(f"{plan.folder}/README.md").read().decode()  # type: ignore[union-attr]
    for entry in manifest["jobs"] + manifest["networks"] + [manifest["probe"], manifest["reference"]]:
        assert f"{plan.folder}/{entry['file']}" in names
    assert runner == RUNNER_SOURCE.read_bytes()
    assert "python3 run.py" in readme and "--import" in readme


def test_plan_is_deterministic_and_changes_with_the_request() -> None:
    first, again = plan_bundle(tiny_request()), plan_bundle(tiny_request())
    assert first.bundle_id == again.bundle_id
    assert plan_bundle(tiny_request(seed=1)).bundle_id != first.bundle_id


def test_bundle_refuses_a_runtime_the_runner_cannot_run() -> None:
    req = ProfileRequest(load_target("fake-cpu"), tiny_space(), progress=False)
    with pytest.raises(BundleError, match=r"runtime 'fake'.*bundles run: ort, openvino, tensorrt"):
        plan_bundle(req)


def test_edited_or_missing_manifest_is_an_error(bundle: tuple[BundlePlan, Path], tmp_path: Path) -> None:
    plan, _ = bundle
    edited = tmp_path / "manifest.json"
    edited.write_text(json.dumps({**plan.manifest, "widths": [1.0]}))
    with pytest.raises(BundleError, match="was edited"):
        read_manifest(edited)
    with pytest.raises(BundleError, match="does not exist"):
        read_manifest(tmp_path / "nope.tar.gz")


def test_runner_imports_only_the_standard_library_numpy_and_runtimes() -> None:
    tree = ast.parse(RUNNER_SOURCE.read_text(), feature_version=(3, 8))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module and node.level == 0}
    imported |= {"onnxruntime", "openvino", "tensorrt"}  # imported by name through importlib
    assert imported - set(sys.stdlib_module_names) - {"__future__"} <= ALLOWED_RUNNER_IMPORTS


def test_runner_statistics_match_hwnat() -> None:
    from hwnat.latency.timing import combine_passes

    rng = np.random.default_rng(0)
    passes = [list(rng.gamma(2.0, 1e-4, size=n)) for n in (7, 12, 30)]
    ours = [board_runner.stats(p) for p in passes]
    assert ours == [UnitTiming.from_seconds(p).to_dict() for p in passes]
    assert board_runner.combine_passes(ours) == pytest.approx(
        combine_passes([UnitTiming.from_seconds(p) for p in passes]).to_dict())
    rows = [{"stats": s, "probe_ms": probe, "session": session}
            for s, probe, session in zip(ours, (0.3, 0.5, 0.2), ("a", "a", "b"))]
    medians = board_runner.session_medians(rows)
    assert medians == {"a": 0.4, "b": 0.2}
    for r in rows:
        expected = normalise(UnitTiming.from_dict(r["stats"]), r["probe_ms"], medians[r["session"]])
        assert board_runner.normalise(r, medians) == pytest.approx(expected.to_dict())
    assert board_runner.normalise(rows[0], medians)["p10_ms"] == pytest.approx(ours[0]["p10_ms"] * 0.4 / 0.3)
    assert board_runner.normalise({**rows[0], "probe_ms": None}, medians) == ours[0]


def test_runner_times_networks_paired_as_hwnat_does() -> None:
    """run.py's copy of time_paired makes the same calls in the same order and returns the same samples."""
    from hwnat.latency.networks import time_paired

    def fake(ms: float, log: list[tuple[float, int, int]]) -> Any:
        class Timed:
            def time_calls(self, x: np.ndarray, timing: Any) -> list[float]:
                log.append((ms, timing.warmup, timing.min_runs))
                return [ms * (1 + 0.01 * len(log))] * timing.min_runs
        return Timed()

    ours: list[tuple[float, int, int]] = []
    theirs: list[tuple[float, int, int]] = []
    spec = TimingSpec(warmup=4, min_runs=7, min_time_s=0.05)
    expected = time_paired(fake(2e-3, ours), X1, fake(1e-3, ours), X1, spec, 3)
    got = board_runner.time_paired(fake(2e-3, theirs), X1, fake(1e-3, theirs), X1,
                                   board_runner.Timing(4, 7, 0.05), 3)
    assert got == expected and theirs == ours and ours[:2] == [(1e-3, 4, 0), (2e-3, 4, 0)]


def test_runner_run_here_never_loads_torch_or_hwnat(board: dict[str, Any]) -> None:
    assert "onnxruntime" in board["modules"] and "numpy" in board["modules"]
    assert not {"torch", "hwnat", "onnx"} & set(board["modules"])


def test_runner_output_imports_into_a_sane_table(bundle: tuple[BundlePlan, Path], board: dict[str, Any],
                                                 tmp_path: Path) -> None:
    import onnxruntime

    plan, path = bundle
    space = tiny_space()
    report = import_timings(board["timings"], path, space=space, out=tmp_path / "table.json")
    table = LatencyTable.load(tmp_path / "table.json")
    assert set(table.entries) == {u.key for u in plan.units}
    assert table.target.runtime_version == onnxruntime.__version__ and table.target.device_name == cpu_model()
    assert report["calibration"]["n"] == 5 and report["validation"]["n"] == 3
    assert table.profiling["board"]["runtime"] == "ort" and table.profiling["bundle_id"] == plan.bundle_id
    assert table.profiling["mode"] == "alone" and table.profiling["jobs"] == len(plan.units)
    spec = fast_target()
    table.check(TargetIdentity.measured(spec, create_backend(spec)), space)  # a run here is this machine's table
    timings = load_timings(board["timings"])
    ids = [n["arch_id"] for n in plan.manifest["networks"]]
    measured = np.array([timings["networks"][a]["p50_ms"] for a in ids])
    raw, _ = table.raw_many(space, np.stack([encode(space, parse_arch_id(space, a)) for a in ids]))
    predicted = np.array([table.predict(space, parse_arch_id(space, a)) for a in ids])
    assert (measured > 0).all() and (raw > 0).all() and np.isfinite(predicted).all() and (predicted > 0).all()
    assert ((raw / measured > 0.2) & (raw / measured < 5)).all()
    assert ((predicted / measured > 0.33) & (predicted / measured < 3)).all()


def test_runner_resumes_from_a_cut_journal(board: dict[str, Any], tmp_path: Path) -> None:
    folder = tmp_path / "again"
    shutil.copytree(board["folder"], folder)
    journal = folder / "timings.json.journal.jsonl"
    lines = journal.read_text().splitlines()
    journal.write_text("\n".join(lines[:11]) + '\n{"kind": "job", "key": "torn')
    (folder / "timings.json").unlink()
    assert board_runner.main(["--bundle", str(folder), "--out", str(folder / "timings.json"), "--quiet"]) == 0
    again, before = json.loads((folder / "timings.json").read_text()), json.loads(board["timings"].read_text())
    assert again["resumed_from"] == 10
    rows = journal_rows(folder / "timings.json")
    assert journal.read_text().splitlines()[:11] == lines[:11] and len(rows) == len(lines) - 1
    jobs = [(r["key"], r["pass"]) for r in rows if r["kind"] == "job"]
    assert len(set(jobs)) == len(jobs) == len(before["jobs"]) * 3
    assert len({r["session"] for r in rows if r["kind"] == "job"}) == 2
    medians = board_runner.session_medians(r for r in rows if r["kind"] == "job")
    for r in (r for r in rows if r["kind"] == "job"):
        assert r["probe_ms"] > 0
        expected = normalise(UnitTiming.from_dict(r["stats"]), r["probe_ms"], medians[r["session"]])
        assert again["job_passes"][r["key"]][r["pass"]] == pytest.approx(expected.to_dict())
    assert set(again["jobs"]) == set(before["jobs"]) and set(again["networks"]) == set(before["networks"])


def test_runner_rescales_jobs_by_the_probe_and_networks_by_the_reference(
        board: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The machine runs 3× slower after every 4th compilation until the next one: raw timings of jobs and of
    whole networks carry it, the written ones do not (jobs scaled by the probe sampled just before, networks by
    the reference subnet timed in the same window; the probe's median and the reference's fast-regime speed are
    the normal speed); a run killed midway
    resumes losing nothing."""
    folder = tmp_path / "board"
    shutil.copytree(board["folder"], folder, ignore=shutil.ignore_patterns("timings.json*"))
    manifest = json.loads((folder / "manifest.json").read_text())
    base = job_ms(manifest)
    fake_runtime(monkeypatch, "ort", base, lambda k: 3.0 if k % 4 == 0 else 1.0)
    out = folder / "timings.json"
    kill_after = 20

    class Killed(Exception):
        pass

    def killing(self: FakeRuntime, path: Path, input_shape: tuple[int, ...]) -> FakeModel:
        if self.compiled == kill_after + 1:  # the probe, then `kill_after` jobs
            raise Killed
        return FakeRuntime.compile(self, path, input_shape)

    with monkeypatch.context() as m:
        m.setattr(board_runner.RUNTIME_CLASSES["ort"], "compile", killing)
        with pytest.raises(Killed):
            board_runner.run(folder, out, progress=False)
    first = journal_rows(out)
    assert len(first) == kill_after and not out.exists()
    timings = board_runner.run(folder, out, progress=False)
    rows = journal_rows(out)
    jobs = [r for r in rows if r["kind"] == "job"]
    assert rows[:kill_after] == first and len(jobs) == len(manifest["jobs"]) * 3
    assert len({(r["key"], r["pass"]) for r in jobs}) == len(jobs)
    assert list(timings["probe_medians_ms"].values()) == pytest.approx([0.2, 0.2])
    file_of = {j["key"]: Path(j["file"]).name for j in manifest["jobs"]}
    slowed = [r for r in jobs if r["probe_ms"] == pytest.approx(0.6)]
    assert slowed and all(r["stats"]["p10_ms"] == pytest.approx(3 * base(file_of[r["key"]])) for r in slowed)
    for key, per_pass in timings["job_passes"].items():
        assert [s["p10_ms"] for s in per_pass] == pytest.approx([base(file_of[key])] * 3)
        assert timings["jobs"][key]["p90_ms"] == pytest.approx(base(file_of[key]))
    nets = [r for r in rows if r["kind"] == "net"]
    assert len(nets) == len(manifest["networks"]) * manifest["timing"]["networks"]["rounds"]
    slowed_nets = [r for r in nets if r["reference_ms"] == pytest.approx(1.5)]
    assert slowed_nets and all(r["stats"]["p10_ms"] == pytest.approx(3.0) for r in slowed_nets)
    assert list(timings["network_reference_scale_ms"].values()) == pytest.approx([0.5])
    assert [t["p10_ms"] for t in timings["networks"].values()] == pytest.approx([1.0] * len(manifest["networks"]))


def test_context_bundle_times_units_between_layers_and_subtracts_references(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An OpenVINO target's bundle holds each unit between context layers and the reference jobs; measured on a
    runtime where a unit's context job takes its reference job's time plus fake_ms(unit), the entries are fake_ms."""
    import onnx

    req = tiny_request("openvino-cpu", calibrate=0, validate=0)
    path = tmp_path / "ctx.tar.gz"
    plan = build_bundle(req, path)
    manifest = read_manifest(path)
    assert manifest["unit_mode"] == "context" and plan.job_plan.mode == "context" and not manifest["networks"]
    ref_of = {u.key: plan_jobs([u], "context").jobs[1].key for u in plan.units}
    keys = [j["key"] for j in manifest["jobs"]]
    assert keys == [j.key for j in plan_jobs(plan.units, "context").jobs]
    assert sorted(k for k in keys if k.startswith("ctx:")) == sorted(f"ctx:{u.key}" for u in plan.units)
    assert sorted(k for k in keys if k.startswith("ref:")) == sorted(set(ref_of.values()))
    folder = extract(path, tmp_path / "board")
    unit = next(u for u in plan.units if u.kind == "block")
    file_of = {j["key"]: Path(j["file"]).name for j in manifest["jobs"]}
    ctx_nodes = [n.op_type for n in onnx.load(folder / "models" / file_of[f"ctx:{unit.key}"]).graph.node]
    alone_nodes = [n.op_type for n in onnx.load(unit.export(tmp_path / "alone.onnx")).graph.node]
    assert ctx_nodes.count("Conv") == alone_nodes.count("Conv") + 2
    ref_ms = {k: 0.3 + i * 0.01 for i, k in enumerate(sorted(set(ref_of.values())))}
    by_file = {file_of[k]: ref_ms[k] for k in ref_ms}
    by_file.update({file_of[f"ctx:{u.key}"]: ref_ms[ref_of[u.key]] + fake_ms(u.key) for u in plan.units})
    fake_runtime(monkeypatch, "openvino", lambda name: by_file.get(name, 0.2))
    board_runner.run(folder, folder / "timings.json", progress=False)
    report = import_timings(folder / "timings.json", path, space=tiny_space(), out=tmp_path / "table.json")
    table = LatencyTable.load(tmp_path / "table.json")
    assert report["profiling"]["mode"] == table.profiling["mode"] == "context"
    assert table.profiling["jobs"] == len(keys) and table.profiling["units"] == len(plan.units)
    assert set(table.entries) == {u.key for u in plan.units}
    for u in plan.units:
        assert table.entries[u.key].p10_ms == pytest.approx(fake_ms(u.key))
        assert table.entries[u.key].p50_ms == pytest.approx(fake_ms(u.key))


def test_missing_entries_are_named(bundle: tuple[BundlePlan, Path], board: dict[str, Any], tmp_path: Path) -> None:
    plan, path = bundle
    timings = json.loads(board["timings"].read_text())
    gone = [j["key"] for j in plan.manifest["jobs"][:7]]
    for key in gone:
        del timings["jobs"][key]
    del timings["networks"][plan.manifest["networks"][-1]["arch_id"]]
    cut = tmp_path / "timings.json"
    cut.write_text(json.dumps(timings))
    total = len(plan.manifest["jobs"]) + len(plan.manifest["networks"])
    with pytest.raises(BundleError, match=rf"lack 8 of {total} entries: {gone[0]}, .* and 3 more; run") as err:
        import_timings(cut, path, space=tiny_space(), out=tmp_path / "t.json")
    assert str(cut) in str(err.value) and not (tmp_path / "t.json").exists()


def test_other_format_versions_are_refused(bundle: tuple[BundlePlan, Path], board: dict[str, Any],
                                           tmp_path: Path) -> None:
    plan, _ = bundle
    assert board_runner.BUNDLE_SCHEMA_VERSIONS == (BUNDLE_SCHEMA_VERSION,) == (3,)
    assert board_runner.TIMINGS_SCHEMA_VERSION == board_import.TIMINGS_SCHEMA_VERSION == 3
    old = {**plan.manifest, "bundle_schema_version": 2}
    (tmp_path / "manifest.json").write_text(json.dumps(old))
    with pytest.raises(BundleError, match="bundle schema version 2; this hwnat reads version 3: write the bundle"):
        read_manifest(tmp_path / "manifest.json")
    with pytest.raises(board_runner.RunnerError, match=r"bundle schema version 2; this runner reads \[3\]"):
        board_runner.load_manifest(tmp_path)
    timings = json.loads(board["timings"].read_text())
    assert timings["timings_schema_version"] == 3 and timings["host"]["runner_version"] == 3
    (tmp_path / "timings.json").write_text(json.dumps({**timings, "timings_schema_version": 2}))
    with pytest.raises(BundleError, match="schema version 2; this hwnat reads version 3: run the run.py"):
        import_timings(tmp_path / "timings.json", space=tiny_space(), out=tmp_path / "t.json")


def test_timings_of_another_bundle_runtime_or_space_are_refused(bundle: tuple[BundlePlan, Path],
                                                                 board: dict[str, Any], tmp_path: Path) -> None:
    _, path = bundle
    timings = json.loads(board["timings"].read_text())
    other = tmp_path / "other.json"
    other.write_text(json.dumps({**timings, "bundle_id": "f" * 64}))
    with pytest.raises(BundleError, match="measured for bundle ffffffffffff"):
        import_timings(other, path, space=tiny_space())
    other.write_text(json.dumps({**timings, "runtime": "openvino"}))
    with pytest.raises(BundleError, match="runtime 'openvino'.*without --runtime"):
        import_timings(other, space=tiny_space())
    with pytest.raises(BundleError, match="space tiny"):
        import_timings(board["timings"], space=dataclasses.replace(tiny_space(), num_classes=5))
    with pytest.raises(BundleError, match="cannot be rebuilt here"):
        import_timings(board["timings"])


def test_runner_tensorrt_path_against_the_fake_tensorrt(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("fake_tensorrt_for_runner", BACKENDS_TESTS / "fake_tensorrt.py")
    fake = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    monkeypatch.setitem(sys.modules, spec.name, fake)  # type: ignore[union-attr]
    spec.loader.exec_module(fake)  # type: ignore[union-attr]
    calls = fake.Calls()
    for name, module in fake.make_modules(calls).items():
        monkeypatch.setitem(sys.modules, name, module)
    onnx_file = tmp_path / "m.onnx"
    onnx_file.write_bytes(b"pretend")
    runtime = board_runner.create_runtime("tensorrt", load_target("tensorrt-gpu").settings())
    assert runtime.version() == "10.9.0.34" and runtime.device_name() == "Fake GPU 80GB"
    model = runtime.compile(onnx_file, fake.INPUT_SHAPE)
    samples = model.time_calls(np.ones(fake.INPUT_SHAPE, np.float32), board_runner.Timing(2, 5, 0.0))
    assert samples == pytest.approx([ms * 1e-3 for ms in fake.EVENT_MS])
    assert calls.names.count("execute_async_v3") == 7 and calls.args("create_network") == [(1 << 1,)]


@pytest.mark.openvino
def test_runner_openvino_path(board: dict[str, Any]) -> None:
    import openvino

    manifest = json.loads((board["folder"] / "manifest.json").read_text())
    runtime = board_runner.create_runtime("openvino", load_target("openvino-cpu").settings())
    assert runtime.version() == openvino.get_version() and runtime.config["INFERENCE_PRECISION_HINT"] == "f32"
    job = manifest["jobs"][0]
    model = runtime.compile(board["folder"] / job["file"], tuple(job["input_shape"]))
    x = np.zeros(job["input_shape"], np.float32)
    assert len(model.time_calls(x, board_runner.Timing(1, 3, 0.0))) == 3


def test_runner_names_a_missing_runtime_package() -> None:
    if importlib.util.find_spec("tensorrt") is not None:
        pytest.skip("tensorrt is installed here")
    with pytest.raises(board_runner.RunnerError, match="tensorrt is not installed"):
        board_runner.create_runtime("tensorrt", {})


# -- CLI --------------------------------------------------------------------------------------------------------
SMALL = ("--space", "mbv3-small-input", "--widths", "0.5", "--resolutions", "32")


def cli_has_board_options() -> bool:
    from hwnat.cli.profile_cmd import profile

    return any(p.name == "import_path" for p in profile.params)


needs_cli = pytest.mark.skipif(not cli_has_board_options(),
                               reason="hwnat/cli/profile_cmd.py does not include the board options of profile_board.py")


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


@needs_cli
def test_cli_bundle_then_import_writes_the_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HWNAT_TABLES_DIR", str(tmp_path / "tables"))
    archive = tmp_path / "out.tar.gz"
    code, out = run("profile", "--target", "ort-cpu", *SMALL, "--calibrate", "3", "--validate", "2", "--rounds", "1",
                    "--min-time", "0", "--no-progress", "--bundle", str(archive), "--json")
    assert code == 0, out
    summary = json.loads(out)
    assert summary["units"] == 93 and summary["calibration_networks"] == 3 and summary["validation_networks"] == 2
    with tarfile.open(archive) as tar:
        safe_extract(tar, tmp_path)
    folder = tmp_path / summary["folder"]
    result, _ = run_runner(folder, tmp_path / "timings.json")
    assert result.returncode == 0, result.stderr
    code, out = run("profile", "--import", str(tmp_path / "timings.json"), "--bundle", str(archive), "--json")
    assert code == 0, out
    report = json.loads(out)
    assert Path(report["table"]).parent == tmp_path / "tables" and report["calibration"]["n"] == 3
    assert report["validation"]["n"] == 2 and len(LatencyTable.load(report["table"]).entries) == 93


@needs_cli
def test_cli_board_errors_name_the_flag(tmp_path: Path) -> None:
    code, out = run("profile", "--import", str(tmp_path / "missing.json"))
    assert code != 0 and "'--import'" in out
    code, out = run("profile", "--target", "fake-cpu", *SMALL, "--bundle", str(tmp_path / "b.tar.gz"))
    assert code != 0 and "runtime 'fake'" in out
    code, out = run("profile", "--target", "ort-cpu", *SMALL, "--identity", __file__)
    assert code != 0 and "'--identity' only applies with '--remote'" in out
    code, out = run("profile", *SMALL)
    assert code != 0 and "'--target'" in out
