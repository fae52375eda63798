"""What a latency table was measured on and for: the target (settings, runtime version, device) and the space."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from hwnat.errors import ConfigError

if TYPE_CHECKING:
    from hwnat.backends.base import Backend
    from hwnat.config.targets import TargetSpec
    from hwnat.space.spec import SearchSpace


def _digest(data: Any, n: int) -> str:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:n]


@dataclass(frozen=True)
class TargetIdentity:
    """A target as measured: its settings' fingerprint plus the runtime version and the device model."""

    name: str
    settings_fingerprint: str
    runtime: str
    runtime_version: str
    device: str
    device_name: str
    precision: str
    threads: int
    batch: int
    remote: bool = False

    @property
    def fingerprint(self) -> str:
        """12 hex digits over every field: target settings (their fingerprint), runtime version, device model."""
        return _digest(asdict(self), 12)

    @classmethod
    def measured(cls, spec: TargetSpec, backend: Backend) -> TargetIdentity:
        """The identity of `spec` as run by `backend` on this machine."""
        return cls(spec.name, spec.fingerprint(), spec.runtime, backend.runtime_version(), spec.device,
                   backend.device_name(), spec.precision, spec.threads, spec.batch, spec.remote is not None)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "fingerprint": self.fingerprint}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TargetIdentity:
        fields = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        try:
            identity = cls(**fields)
        except TypeError as exc:
            raise ConfigError(f"invalid target identity: {exc}") from exc
        if "fingerprint" in d and d["fingerprint"] != identity.fingerprint:
            raise ConfigError(f"target fingerprint {d['fingerprint']!r} does not match its fields "
                              f"({identity.fingerprint!r}); the file was edited")
        return identity

    def differences(self, other: TargetIdentity) -> list[str]:
        """'field: ours != theirs' for every field that differs (the name excepted)."""
        ours, theirs = asdict(self), asdict(other)
        return [f"{k}: {ours[k]!r} != {theirs[k]!r}" for k in ours if k != "name" and ours[k] != theirs[k]]

    def describe(self) -> str:
        return f"{self.runtime} {self.runtime_version} on {self.device_name}, {self.precision}, " \
               f"{self.threads} thread(s), batch {self.batch}"


@dataclass(frozen=True)
class SpaceIdentity:
    """A search space by name, variant, number of classes and fingerprint."""

    name: str
    variant: str
    num_classes: int
    fingerprint: str

    @classmethod
    def of(cls, space: SearchSpace) -> SpaceIdentity:
        return cls(space.name, space.variant.name, space.num_classes, space.fingerprint)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SpaceIdentity:
        try:
            return cls(str(d["name"]), str(d["variant"]), int(d["num_classes"]), str(d["fingerprint"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"invalid space identity: {exc}") from exc

    def describe(self) -> str:
        return f"{self.name} (variant {self.variant}, {self.num_classes} classes, fingerprint {self.fingerprint})"


def rebuild_command(target: str, space: SpaceIdentity, widths: tuple[float, ...] | None = None) -> str:
    """The `hwnat profile` command line that builds a table for `target` and `space`."""
    from hwnat.errors import SpaceError
    from hwnat.space.presets import get_space

    parts = ["hwnat profile", f"--target {target}", f"--space {space.name}"]
    if space.variant != "base":
        parts.append(f"--variant {space.variant}")
    try:
        preset_classes = get_space(space.name).num_classes
    except SpaceError:
        preset_classes = space.num_classes
    if space.num_classes != preset_classes:
        parts.append(f"--classes {space.num_classes}")
    if widths:
        parts.append("--widths " + ",".join(str(w) for w in widths))
    return " ".join(parts)
