"""`hwnat space list|show`: the search-space presets, their size and fingerprint."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from hwnat.cli.options import HwnatGroup, echo_table, emit_json, json_option
from hwnat.cli.space_options import classes_option, resolve_space, variant_option

if TYPE_CHECKING:
    from hwnat.space import SearchSpace


@click.group("space", cls=HwnatGroup)
def space() -> None:
    """Search spaces: list the presets or show one."""


@space.command("list")
@json_option
def space_list(as_json: bool) -> None:
    """List the search-space presets."""
    from hwnat.space import get_space, list_spaces

    rows = [summary(get_space(name)) for name in list_spaces()]
    if as_json:
        emit_json(rows)
        return
    echo_table(("name", "resolutions", "widths", "classes", "size", "fingerprint", "description"),
               [[r["name"], _span(r["resolutions"]), ",".join(map(str, r["width_mults"])), r["num_classes"],
                 f"{r['size']:.2e}", r["fingerprint"], r["description"]] for r in rows])


@space.command("show")
@click.argument("name")
@variant_option
@classes_option
@json_option
def space_show(name: str, variant: str | None, classes: int | None, as_json: bool) -> None:
    """Show one search space: its choices, stage layout, size and fingerprint."""
    sp = resolve_space(name, variant, classes, param_hint="'NAME'")
    info = summary(sp)
    if as_json:
        emit_json(info)
        return
    for key in ("name", "description", "variant", "fingerprint", "num_classes", "genome_length"):
        click.echo(f"{key:14} {info[key]}")
    click.echo(f"{'size':14} {info['size']:.3e} architectures")
    click.echo(f"{'resolutions':14} {_span(info['resolutions'])}")
    for key in ("width_mults", "kernel_sizes", "expand_ratios", "depths", "exits", "branch_masks"):
        click.echo(f"{key:14} {', '.join(map(str, info[key]))}")
    click.echo(f"{'stem':14} {sp.stem_width} channels, stride {sp.stem_stride}, {sp.stem_act}")
    echo_table(("stage", "width", "stride", "act", "se"),
               [[i, s.width, s.stride, s.act, "yes" if s.se else "no"] for i, s in enumerate(sp.stages, start=1)])


def summary(sp: SearchSpace) -> dict[str, Any]:
    d = sp.to_dict()
    d.update(fingerprint=sp.fingerprint, size=sp.size(), genome_length=sp.genome_length,
             exits=list(sp.exits), branch_masks=list(sp.branch_masks))
    return d


def _span(values: list[int]) -> str:
    if len(values) > 2 and len({b - a for a, b in zip(values, values[1:])}) == 1:
        return f"{values[0]}-{values[-1]} step {values[1] - values[0]}"
    return ",".join(map(str, values))
