"""`hwnat targets`: list the targets with their settings and whether they can run here."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from hwnat.cli.options import echo_table, emit_json, json_option

if TYPE_CHECKING:
    from hwnat.config.targets import TargetSpec

HEADERS = ("name", "runtime", "device", "precision", "threads", "batch", "host", "fingerprint", "available", "reason")


@click.command("targets")
@json_option
def targets(as_json: bool) -> None:
    """List every target, its settings and whether it can run here.

    Targets are the .toml files in $HWNAT_TARGETS_DIR, else in targets/ at the root of the clone.
    """
    from hwnat.backends.registry import target_availability
    from hwnat.config.targets import list_targets

    rows = [_row(spec, *target_availability(spec)) for spec in list_targets()]
    if as_json:
        emit_json(rows)
        return
    echo_table(HEADERS, [[_cell(row, h) for h in HEADERS] for row in rows])


def _row(spec: TargetSpec, available: bool, reason: str) -> dict[str, Any]:
    return {
        "name": spec.name,
        "runtime": spec.runtime,
        "device": spec.device,
        "precision": spec.precision,
        "threads": spec.threads,
        "batch": spec.batch,
        "host": spec.remote.destination if spec.remote else "local",
        "available": available,
        "reason": reason,
        "fingerprint": spec.fingerprint(),
        "description": spec.description,
        "path": str(spec.path) if spec.path else None,
        "settings": spec.to_dict(),
    }


def _cell(row: dict[str, Any], header: str) -> str:
    if header == "available":
        return "✅" if row["available"] else "❌"
    return str(row[header])
