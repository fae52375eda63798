"""Board bundles: the archive and its manifest, the self-contained runner (run here on onnxruntime), importing its
timings into a table, the errors for incomplete or mismatched timings, and `hwnat profile --bundle/--import`."""

from __future__ import annotations

import ast
import dataclasses
import importlib.util
import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from hwnat.backends.base import cpu_model, create_backend
from hwnat.cli.main import cli
from hwnat.config.targets import TargetSpec, TimingSpec, load_target
from hwnat.latency import board_runner
from hwnat.latency.board_import import import_timings, load_timings
from hwnat.latency.build import ProfileRequest
from hwnat.latency.bundle import RUNNER_SOURCE, BundleError, BundlePlan, build_bundle, plan_bundle, read_manifest
from hwnat.latency.identity import TargetIdentity
from hwnat.latency.table import LatencyTable
from hwnat.space import SearchSpace, StageSpec, encode, parse_arch_id

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


def tiny_request(**kw: Any) -> ProfileRequest:
    defaults: dict[str, Any] = {"calibrate": 5, "validate": 3, "rounds": 2, "progress": False}
    return ProfileRequest(fast_target(), tiny_space(), **{**defaults, **kw})


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
    assert {"key", "file", "input_shape"} <= set(manifest["units"][0])
    with tarfile.open(path) as tar:
        names = set(tar.getnames())
        runner = tar.extractfile(f"{plan.folder}/run.py").read()  # type: ignore[union-attr]
        readme = tar.extractfile(f"{plan.folder}/README.md").read().decode()  # type: ignore[union-attr]
    for entry in manifest["units"] + manifest["networks"]:
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
    from hwnat.latency.timing import UnitTiming, combine_passes

    rng = np.random.default_rng(0)
    passes = [list(rng.gamma(2.0, 1e-4, size=n)) for n in (7, 12, 30)]
    ours = [board_runner.stats(p) for p in passes]
    assert ours == [UnitTiming.from_seconds(p).to_dict() for p in passes]
    assert board_runner.combine_passes(ours) == pytest.approx(
        combine_passes([UnitTiming.from_seconds(p) for p in passes]).to_dict())


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
    journal.write_text("\n".join(lines[:11]) + '\n{"kind": "unit", "key": "torn')
    (folder / "timings.json").unlink()
    assert board_runner.main(["--bundle", str(folder), "--out", str(folder / "timings.json"), "--quiet"]) == 0
    again, before = json.loads((folder / "timings.json").read_text()), json.loads(board["timings"].read_text())
    assert again["resumed_from"] == 10
    kept = [json.loads(line) for line in lines[1:11]]
    assert all(again["unit_passes"][r["key"]][r["pass"]] == before["unit_passes"][r["key"]][r["pass"]] for r in kept)
    assert set(again["units"]) == set(before["units"]) and set(again["networks"]) == set(before["networks"])
    assert len(journal.read_text().splitlines()) == len(lines)


def test_missing_entries_are_named(bundle: tuple[BundlePlan, Path], board: dict[str, Any], tmp_path: Path) -> None:
    plan, path = bundle
    timings = json.loads(board["timings"].read_text())
    gone = [u["key"] for u in plan.manifest["units"][:7]]
    for key in gone:
        del timings["units"][key]
    del timings["networks"][plan.manifest["networks"][-1]["arch_id"]]
    cut = tmp_path / "timings.json"
    cut.write_text(json.dumps(timings))
    total = len(plan.manifest["units"]) + len(plan.manifest["networks"])
    with pytest.raises(BundleError, match=rf"lack 8 of {total} entries: {gone[0]}, .* and 3 more; run") as err:
        import_timings(cut, path, space=tiny_space(), out=tmp_path / "t.json")
    assert str(cut) in str(err.value) and not (tmp_path / "t.json").exists()


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
    unit = manifest["units"][0]
    model = runtime.compile(board["folder"] / unit["file"], tuple(unit["input_shape"]))
    x = np.zeros(unit["input_shape"], np.float32)
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
