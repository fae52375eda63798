"""Target specs: load, validate and fingerprint the runtime-on-a-device settings in targets/*.toml."""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from hwnat.backends.registry import get_runtime, runtime_names
from hwnat.config.fields import Field, check_table
from hwnat.errors import ConfigError, unknown_name

SCHEMA_VERSION = 1
ENV_VAR = "HWNAT_TARGETS_DIR"
NAME_PATTERN = r"[a-z0-9][a-z0-9._-]*"

TOP_FIELDS: dict[str, Field] = {
    "schema_version": Field(int, SCHEMA_VERSION, choices=(SCHEMA_VERSION,)),
    "name": Field(str, pattern=NAME_PATTERN),
    "description": Field(str, ""),
    "runtime": Field(str),
    "device": Field(str, choices=("cpu", "gpu")),
    "precision": Field(str, choices=("fp32", "fp16", "int8")),
    "threads": Field(int, 1, min=1),
    "batch": Field(int, 1, min=1),
}
TIMING_FIELDS: dict[str, Field] = {
    "warmup": Field(int, 10, min=0),
    "min_runs": Field(int, 50, min=1),
    "min_time_s": Field(float, 0.2, min=0.0),
    "statistic": Field(str, "median", choices=("median",)),
}
REMOTE_FIELDS: dict[str, Field] = {
    "host": Field(str),
    "user": Field(str, ""),
    "port": Field(int, 22, min=1, max=65535),
    "python": Field(str, "python3"),
    "workdir": Field(str, "~/hwnat"),
}
TABLES = ("timing", "remote", "options")


@dataclass(frozen=True)
class TimingSpec:
    """How each latency is measured: warm-up calls, then at least min_runs calls and min_time_s seconds."""

    warmup: int = 10
    min_runs: int = 50
    min_time_s: float = 0.2
    statistic: str = "median"


@dataclass(frozen=True)
class RemoteSpec:
    """An SSH-reachable board that runs the measurements."""

    host: str
    user: str = ""
    port: int = 22
    python: str = "python3"
    workdir: str = "~/hwnat"

    @property
    def destination(self) -> str:
        """user@host, or host when no user is set."""
        return f"{self.user}@{self.host}" if self.user else self.host


@dataclass(frozen=True)
class TargetSpec:
    """A runtime on a device with fixed measurement settings; build one with load_target or from_dict."""

    name: str
    runtime: str
    device: str
    precision: str
    threads: int = 1
    batch: int = 1
    description: str = ""
    timing: TimingSpec = TimingSpec()
    remote: RemoteSpec | None = None
    options: Mapping[str, Any] = field(default_factory=dict, hash=False)
    path: Path | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "<target>", path: Path | None = None) -> TargetSpec:
        """Validate a target table (as in a TOML file, or from to_dict) and build the spec."""
        top = check_table(data, TOP_FIELDS, source=source, tables=TABLES)
        runtime_field = Field(str, choices=tuple(runtime_names()))
        runtime = get_runtime(runtime_field.check(top["runtime"], key="runtime", source=source))
        Field(str, choices=runtime.devices).check(top["device"], key="device", source=f"{source} (runtime {runtime.name!r})")
        timing = check_table(top.get("timing", {}), TIMING_FIELDS, source=source, prefix="timing.")
        options = check_table(top.get("options", {}), runtime.options, source=source, prefix="options.")
        remote = None
        if "remote" in top:
            remote = RemoteSpec(**check_table(top["remote"], REMOTE_FIELDS, source=source, prefix="remote."))
        return cls(
            name=top["name"],
            runtime=runtime.name,
            device=top["device"],
            precision=top["precision"],
            threads=top["threads"],
            batch=top["batch"],
            description=top["description"],
            timing=TimingSpec(**timing),
            remote=remote,
            options=options,
            path=path,
        )

    def settings(self) -> dict[str, Any]:
        """What the measurements depend on: everything but the description and the SSH connection."""
        return {
            "schema_version": SCHEMA_VERSION,
            "name": self.name,
            "runtime": self.runtime,
            "device": self.device,
            "precision": self.precision,
            "threads": self.threads,
            "batch": self.batch,
            "timing": asdict(self.timing),
            "options": dict(self.options),
        }

    def fingerprint(self) -> str:
        """First 12 hex digits of the sha256 of the canonical JSON of settings()."""
        canonical = json.dumps(self.settings(), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]

    def to_dict(self) -> dict[str, Any]:
        """The full spec as a TOML/JSON-ready dict that from_dict reads back."""
        data = {**self.settings(), "description": self.description}
        if self.remote is not None:
            data["remote"] = asdict(self.remote)
        return data


def targets_dir() -> Path:
    """The folder of target files: $HWNAT_TARGETS_DIR, else targets/ at the root of the source tree."""
    env = os.environ.get(ENV_VAR)
    if env:
        path = Path(env).expanduser()
        if not path.is_dir():
            raise ConfigError(f"${ENV_VAR} is {env!r}, which is not a directory")
        return path
    path = Path(__file__).resolve().parents[2] / "targets"
    if not path.is_dir():
        raise ConfigError(
            f"no targets folder at {path}: install hwnat from its clone (pip install -e .) "
            f"or set ${ENV_VAR} to a folder of target .toml files"
        )
    return path


def target_names() -> list[str]:
    """Names of the targets in targets_dir(), sorted."""
    return sorted(p.stem for p in targets_dir().glob("*.toml"))


def load_target(name_or_path: str | os.PathLike[str]) -> TargetSpec:
    """A target by name (a file in targets_dir()) or by path to a .toml file."""
    text = os.fspath(name_or_path)
    if isinstance(name_or_path, os.PathLike) or text.endswith(".toml") or os.sep in text or "/" in text:
        path = Path(text).expanduser()
        if not path.is_file():
            raise ConfigError(f"target file not found: {path}")
        return _load_file(path)
    folder = targets_dir()
    path = folder / f"{text}.toml"
    if not path.is_file():
        raise ConfigError(f"{unknown_name('target', text, target_names())} (from {folder})")
    return _load_file(path)


def list_targets() -> list[TargetSpec]:
    """Every target in targets_dir(), sorted by name; an invalid file raises ConfigError."""
    folder = targets_dir()
    return [_load_file(folder / f"{name}.toml") for name in target_names()]


def _load_file(path: Path) -> TargetSpec:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    spec = TargetSpec.from_dict(data, source=str(path), path=path)
    if spec.name != path.stem:
        raise ConfigError(f"{path}: key 'name' = {spec.name!r} must match the file name {path.stem!r}")
    return spec
