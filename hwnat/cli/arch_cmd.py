"""`hwnat arch stats`: MACs and params of a subnet given as a NAT/OFA `net.subnet` file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from hwnat.cli.options import HwnatGroup, emit_json, json_option
from hwnat.cli.space_options import classes_option, resolve_space, variant_option

if TYPE_CHECKING:
    from hwnat.space import Arch, SearchSpace


@click.group("arch", cls=HwnatGroup)
def arch() -> None:
    """Architectures: statistics of one subnet."""


@arch.command("stats")
@click.option("--space", "space_name", required=True, metavar="NAME", help="Search-space preset (hwnat space list).")
@click.option("--subnet", "subnet_file", required=True, type=click.Path(path_type=Path), metavar="FILE",
              help='A net.subnet file: {"ks": [...], "e": [...], "d": [...], "r": 224, "w": 1.0}.')
@variant_option
@classes_option
@click.option("--target", "target_name", default=None, metavar="NAME",
              help="Also predict the latency on this target from its table in latency_tables/ (hwnat profile).")
@json_option
def arch_stats(space_name: str, subnet_file: Path, variant: str | None, classes: int | None,
               target_name: str | None, as_json: bool) -> None:
    """MACs and params of the subnet in FILE (analytic, exact), and its table-predicted latency with --target."""
    from hwnat.complexity import complexity
    from hwnat.errors import SpaceError
    from hwnat.space import arch_id, read_subnet

    sp = resolve_space(space_name, variant, classes)
    try:
        a = read_subnet(subnet_file, sp)
    except SpaceError as exc:
        raise click.BadParameter(str(exc), param_hint="'--subnet'") from exc
    c = complexity(sp, a)
    info = {"arch_id": arch_id(sp, a), "space": sp.name, "variant": sp.variant.name,
            "num_classes": sp.num_classes, "resolution": a.resolution, "width_mult": a.width_mult,
            "depths": list(a.depths), "macs": c.macs, "params": c.params}
    if target_name is not None:
        info.update(_latency(target_name, sp, a))
    if as_json:
        emit_json(info)
        return
    for key, value in info.items():
        shown = f"{value:,}" if key in ("macs", "params") else value
        click.echo(f"{key:12} {shown}")


def _latency(target_name: str, space: SearchSpace, arch: Arch) -> dict[str, object]:
    """Table-predicted latency of `arch` on the target (the table found by target and space fingerprints)."""
    from hwnat.cli.profile_cmd import load_target_option
    from hwnat.latency.store import find_table

    table = find_table(load_target_option(target_name), space)
    return {"target": target_name, "latency_ms": round(table.predict(space, arch), 6),
            "latency_table": str(table.path)}
