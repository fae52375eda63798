"""Where latency tables live (latency_tables/ or $HWNAT_TABLES_DIR) and finding the one for a target and space."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from hwnat.latency.identity import SpaceIdentity, TargetIdentity, rebuild_command
from hwnat.latency.table import LatencyTable, LatencyTableError

if TYPE_CHECKING:
    from hwnat.config.targets import TargetSpec
    from hwnat.space.spec import SearchSpace

ENV_VAR = "HWNAT_TABLES_DIR"


def tables_dir() -> Path:
    """$HWNAT_TABLES_DIR, else latency_tables/ at the root of the source tree."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    return Path(__file__).resolve().parents[2] / "latency_tables"


def table_filename(target_name: str, space: SearchSpace) -> str:
    """`<target>-<space>-<variant>-<space fingerprint[:8]>.json`."""
    return f"{target_name}-{space.name}-{space.variant.name}-{space.fingerprint[:8]}.json"


def default_table_path(target_name: str, space: SearchSpace) -> Path:
    return tables_dir() / table_filename(target_name, space)


def target_identity(spec: TargetSpec) -> TargetIdentity:
    """The identity a table for `spec` must carry. Local targets create their backend to read the runtime
    version and device model (RuntimeUnavailableError naming the package when the runtime is missing); a remote
    board's runtime and device are taken on trust from the table."""
    if spec.remote is not None:
        return TargetIdentity(spec.name, spec.fingerprint(), spec.runtime, "", spec.device, spec.remote.host,
                              spec.precision, spec.threads, spec.batch, remote=True)
    from hwnat.backends.base import create_backend

    return TargetIdentity.measured(spec, create_backend(spec))


def _candidates(target_name: str, space: SearchSpace) -> list[Path]:
    """The default file name first, then any other table in the folder for the same target and space."""
    folder = tables_dir()
    first = folder / table_filename(target_name, space)
    paths = [first] if first.is_file() else []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        if path == first:
            continue
        try:
            head = json.loads(path.read_text(encoding="utf-8"))
            if head["target"]["name"] == target_name and head["space"]["fingerprint"] == space.fingerprint:
                paths.append(path)
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return paths


def find_table(spec: TargetSpec, space: SearchSpace, identity: TargetIdentity | None = None) -> LatencyTable:
    """The table for `spec` on this machine and `space`, checked; else LatencyTableError saying how to build it."""
    paths = _candidates(spec.name, space)
    if not paths:
        raise LatencyTableError(
            f"no latency table for target {spec.name!r} and space {SpaceIdentity.of(space).describe()} in "
            f"{tables_dir()}; build one with: {rebuild_command(spec.name, SpaceIdentity.of(space))}")
    identity = identity or target_identity(spec)
    errors = []
    for path in paths:
        try:
            return LatencyTable.load(path).check(identity, space)
        except LatencyTableError as exc:
            errors.append(exc)
    raise errors[0]
