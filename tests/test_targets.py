"""Target specs (targets/*.toml), their validation, the runtime registry and `hwnat targets`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from hwnat.backends import registry
from hwnat.backends.registry import get_runtime, runtime_names, target_availability
from hwnat.cli.main import cli
from hwnat.config.targets import TargetSpec, list_targets, load_target, target_names, targets_dir
from hwnat.errors import ConfigError, RuntimeUnavailableError

SHIPPED = ["fake-cpu", "jetson-orin-trt", "openvino-cpu", "ort-cpu", "rpi5-ort", "tensorrt-gpu", "torch-cpu"]

VALID = """\
name = "mine"
runtime = "ort"
device = "cpu"
precision = "fp32"
"""


def write_target(folder: Path, text: str, name: str = "mine") -> Path:
    path = folder / f"{name}.toml"
    path.write_text(text)
    return path


@pytest.fixture
def tmp_targets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HWNAT_TARGETS_DIR", str(tmp_path))
    return tmp_path


def test_shipped_targets(repo_root: Path) -> None:
    assert targets_dir() == repo_root / "targets"
    assert target_names() == SHIPPED
    assert [t.name for t in list_targets()] == SHIPPED


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_target_loads_and_round_trips(name: str) -> None:
    spec = load_target(name)
    assert spec.name == name and spec.path == targets_dir() / f"{name}.toml"
    assert re.fullmatch(r"[0-9a-f]{12}", spec.fingerprint())
    again = TargetSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again == spec and again.fingerprint() == spec.fingerprint()
    assert set(spec.options) == set(get_runtime(spec.runtime).options)


def test_fingerprints_are_distinct() -> None:
    prints = [t.fingerprint() for t in list_targets()]
    assert len(set(prints)) == len(prints)


def test_fingerprint_ignores_description_and_connection() -> None:
    spec = load_target("rpi5-ort")
    data = spec.to_dict()
    data["description"] = "another text"
    data["remote"]["host"] = "10.0.0.7"
    assert TargetSpec.from_dict(data).fingerprint() == spec.fingerprint()
    data["threads"] = 2
    assert TargetSpec.from_dict(data).fingerprint() != spec.fingerprint()


def test_defaults_fill_in(tmp_targets: Path) -> None:
    write_target(tmp_targets, VALID)
    spec = load_target("mine")
    assert (spec.threads, spec.batch, spec.timing.statistic, spec.remote) == (1, 1, "median", None)
    assert spec.options["execution_provider"] == "CPUExecutionProvider"
    assert hash(spec) == hash(load_target("mine"))


def test_spec_is_frozen() -> None:
    spec = load_target("ort-cpu")
    with pytest.raises(AttributeError):
        spec.threads = 2  # type: ignore[misc]
    with pytest.raises(TypeError):
        spec.options["execution_mode"] = "parallel"  # type: ignore[index]


def test_load_by_path(tmp_path: Path) -> None:
    path = write_target(tmp_path, VALID)
    assert load_target(path).name == "mine"
    assert load_target(str(path)).name == "mine"


def test_unknown_target_name_suggests_the_closest() -> None:
    with pytest.raises(ConfigError, match=r"unknown target 'ort_cpu' \(did you mean 'ort-cpu'\?\); allowed: "):
        load_target("ort_cpu")


def test_missing_target_file() -> None:
    with pytest.raises(ConfigError, match="target file not found"):
        load_target("/no/such/file.toml")


def test_targets_dir_must_exist(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HWNAT_TARGETS_DIR", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="HWNAT_TARGETS_DIR"):
        targets_dir()


BAD = [
    ("thread = 2\n", ["unknown key 'thread'", "did you mean 'threads'?", "allowed keys:"]),
    ('runtime = "onnxruntime"\n', ["key 'runtime' = 'onnxruntime'", "allowed values: 'fake', 'openvino', 'ort', 'tensorrt', 'torch'"]),
    ('precision = "fp8"\n', ["key 'precision' = 'fp8'", "allowed values: 'fp32', 'fp16', 'int8'"]),
    ('device = "tpu"\n', ["key 'device' = 'tpu'", "allowed values: 'cpu', 'gpu'"]),
    ("threads = 0\n", ["key 'threads' must be >= 1, got 0"]),
    ('threads = "four"\n', ["key 'threads' must be an integer, got 'four' (string)"]),
    ("threads = true\n", ["key 'threads' must be an integer, got true (boolean)"]),
    ("batch = 1.5\n", ["key 'batch' must be an integer, got 1.5 (float)"]),
    ("schema_version = 2\n", ["key 'schema_version' = 2 is not allowed; allowed values: 1"]),
    ("timing = 3\n", ["key 'timing' must be a table"]),
    ('[timing]\nstatistic = "meadian"\n', ["key 'timing.statistic' = 'meadian'", "did you mean 'median'?", "allowed values: 'median'"]),
    ("[timing]\nwarmpu = 3\n", ["unknown key 'timing.warmpu' in timing", "did you mean 'warmup'?"]),
    ('[timing]\nmin_time_s = "1s"\n', ["key 'timing.min_time_s' must be a number"]),
    ("[remote]\nuser = 'pi'\n", ["missing required key 'remote.host'"]),
    ("[remote]\nhost = 'b'\nport = 70000\n", ["key 'remote.port' must be <= 65535, got 70000"]),
    ("[options]\nworkspace_mb = 10\n", ["unknown key 'options.workspace_mb'", "allowed keys: execution_mode, execution_provider"]),
    ('[options]\ngraph_optimization_level = "max"\n', ["key 'options.graph_optimization_level' = 'max'", "'disable', 'basic', 'extended', 'all'"]),
    ("[options]\nexecution_provider = 'CPUExecutionProvidr'\n", ["did you mean 'CPUExecutionProvider'?"]),
    ("name = 'other'\n", ["key 'name' = 'other' must match the file name 'mine'"]),
    ("name = 'Bad Name'\n", ["key 'name' = 'Bad Name' must match"]),
    ("runtime = [\n", ["invalid TOML"]),
]


def _override(text: str) -> str:
    key = text.split("=")[0].strip()
    base = "".join(line + "\n" for line in VALID.splitlines() if line.split("=")[0].strip() != key)
    return base + text if not text.startswith("[") else base + "\n" + text


@pytest.mark.parametrize(("text", "expected"), BAD, ids=[b[0].strip() for b in BAD])
def test_invalid_values_name_file_key_and_allowed(tmp_targets: Path, text: str, expected: list[str]) -> None:
    path = write_target(tmp_targets, _override(text))
    with pytest.raises(ConfigError) as info:
        load_target("mine")
    message = str(info.value)
    assert message.startswith(str(path))
    for part in expected:
        assert part in message


def test_device_must_suit_the_runtime(tmp_targets: Path) -> None:
    write_target(tmp_targets, VALID.replace('"ort"', '"tensorrt"'))
    with pytest.raises(ConfigError, match=r"runtime 'tensorrt'\): key 'device' = 'cpu' is not allowed; allowed values: 'gpu'"):
        load_target("mine")


def test_cli_reports_invalid_target_without_traceback(tmp_targets: Path) -> None:
    write_target(tmp_targets, _override('precision = "fp64"\n'))
    result = CliRunner().invoke(cli, ["targets"])
    assert result.exit_code == 1
    assert "Error: " in result.output and "mine.toml" in result.output
    assert "key 'precision' = 'fp64'" in result.output and "'fp32', 'fp16', 'int8'" in result.output
    assert "Traceback" not in result.output


def test_targets_table_lists_every_target() -> None:
    result = CliRunner().invoke(cli, ["targets"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:5] == ["name", "runtime", "device", "precision", "threads"]
    assert [line.split()[0] for line in lines[1:]] == SHIPPED
    for line, spec in zip(lines[1:], list_targets()):
        ok, reason = target_availability(spec)
        assert ("✅" if ok else "❌") in line
        assert reason in line


def test_targets_json() -> None:
    result = CliRunner().invoke(cli, ["targets", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [row["name"] for row in rows] == SHIPPED
    keys = {"name", "runtime", "device", "precision", "threads", "batch", "available", "reason", "fingerprint"}
    for row in rows:
        assert keys <= set(row)
        assert row["fingerprint"] == load_target(row["name"]).fingerprint()
        assert isinstance(row["available"], bool) and (row["reason"] == "") == row["available"]


def test_runtime_registry() -> None:
    assert runtime_names() == ["fake", "openvino", "ort", "tensorrt", "torch"]
    assert get_runtime("tensorrt").devices == ("gpu",)
    with pytest.raises(ConfigError, match=r"unknown runtime 'openvno' \(did you mean 'openvino'\?\)"):
        get_runtime("openvno")


def test_register_runtime_refuses_duplicates() -> None:
    with pytest.raises(ValueError, match="already registered"):
        registry.register_runtime("ort", backend="x:y", packages=(), devices=("cpu",))(lambda: (True, ""))


@pytest.mark.parametrize(
    ("runtime", "module", "hint"),
    [
        ("openvino", "openvino", "pip install 'hwnat[openvino]'"),
        ("tensorrt", "tensorrt", "pip install 'hwnat[tensorrt]'"),
        ("ort", "onnxruntime", "pip install onnxruntime"),
        ("torch", "torch", "torch==2.13.0"),
    ],
)
def test_missing_runtime_reason(monkeypatch: pytest.MonkeyPatch, runtime: str, module: str, hint: str) -> None:
    monkeypatch.setattr(registry.importlib.util, "find_spec", lambda name: None)
    ok, reason = get_runtime(runtime).availability()
    assert not ok
    assert reason.startswith(f"{module} is not installed: ") and hint in reason


def test_tensorrt_needs_a_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry.importlib.util, "find_spec", lambda name: object())
    monkeypatch.setattr(registry, "cuda_gpu_present", lambda: (False, "no CUDA GPU found"))
    assert get_runtime("tensorrt").availability() == (False, "no CUDA GPU found")
    monkeypatch.setattr(registry, "cuda_gpu_present", lambda: (True, ""))
    assert get_runtime("tensorrt").availability() == (True, "")


def test_availability_imports_no_runtime() -> None:
    for spec in list_targets():
        ok, reason = target_availability(spec)
        assert isinstance(ok, bool) and isinstance(reason, str)


def test_remote_targets_need_ssh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry.shutil, "which", lambda name: None)
    assert target_availability(load_target("rpi5-ort")) == (False, "no ssh client on PATH")


def test_backend_class_reports_unavailable_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(RuntimeUnavailableError, match="openvino is not installed"):
        get_runtime("openvino").backend_class()


def test_readme_lists_every_target(repo_root: Path) -> None:
    readme = (repo_root / "README.md").read_text()
    for name in SHIPPED:
        assert f"`{name}`" in readme
