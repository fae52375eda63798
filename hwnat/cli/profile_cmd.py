"""`hwnat profile`: build (or resume, extend, recalibrate, validate) a target's latency table for a space."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from hwnat.cli.options import emit_json, json_option
from hwnat.cli.profile_board import (
    board_options,
    board_requested,
    bundle_or_remote,
    check_board_flags,
    import_board,
)
from hwnat.cli.space_options import classes_option, resolve_space, variant_option

if TYPE_CHECKING:
    from hwnat.config.targets import TargetSpec
    from hwnat.space import SearchSpace


def _numbers(value: str | None, kind: type, flag: str) -> tuple[Any, ...] | None:
    if value is None:
        return None
    try:
        items = tuple(kind(v) for v in value.split(",") if v.strip())
    except ValueError:
        raise click.BadParameter(f"expected comma-separated numbers, got {value!r}", param_hint=flag) from None
    if not items:
        raise click.BadParameter("expected at least one value", param_hint=flag)
    return items


def _coverage(space: SearchSpace, widths: str | None,
              resolutions: str | None) -> tuple[tuple[float, ...] | None, tuple[int, ...] | None]:
    """--widths and --resolutions checked against the space (a click error naming the flag)."""
    from hwnat.errors import SpaceError
    from hwnat.latency.blocks import check_coverage

    ws, rs = _numbers(widths, float, "'--widths'"), _numbers(resolutions, int, "'--resolutions'")
    for flag, value in (("'--widths'", (ws, None)), ("'--resolutions'", (None, rs))):
        try:
            check_coverage(space, *value)
        except SpaceError as exc:
            raise click.BadParameter(str(exc), param_hint=flag) from exc
    return ws, rs


def load_target_option(name: str, flag: str = "'--target'") -> TargetSpec:
    """The TargetSpec `name`; an unknown one is a click error naming the flag with a did-you-mean hint."""
    from hwnat.config.targets import load_target
    from hwnat.errors import ConfigError

    try:
        return load_target(name)
    except ConfigError as exc:
        raise click.BadParameter(str(exc), param_hint=flag) from exc


@click.command("profile")
@click.option("--target", "target_name", default=None, metavar="NAME",
              help="Target to measure on (hwnat targets), or a path to a target .toml file. Required, except "
                   "with --import (the bundle names it).")
@click.option("--space", "space_name", default=None, metavar="NAME",
              help="Search-space preset (hwnat space list). Required, except with --import.")
@variant_option
@classes_option
@click.option("--widths", default=None, metavar="W,...",
              help="Width multipliers to cover (default: all of the space's, plus those of an existing table).")
@click.option("--resolutions", default=None, metavar="R,...",
              help="Resolutions to cover (default: all of the space's, plus those of an existing table).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, metavar="FILE",
              help="Table file (default: latency_tables/<target>-<space>-<variant>-<fingerprint>.json, "
                   "or under $HWNAT_TABLES_DIR).")
@click.option("--calibrate", type=click.IntRange(min=0), default=None, metavar="N",
              help="Fit the calibration on N whole subnets measured end to end (default: 30 when anything "
                   "was measured; 0: none, the raw block sum).")
@click.option("--validate", type=click.IntRange(min=0), default=0, metavar="M",
              help="Measure M held-out random subnets end to end and report the predictor's accuracy.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the calibration and validation subnets.")
@click.option("--min-time", "min_time", type=click.FloatRange(min=0.0), default=None, metavar="SECONDS",
              help="Minimum measuring time per unit, over all passes (default: 0.06).")
@click.option("--passes", type=click.IntRange(min=1), default=3, show_default=True,
              help="Passes over all units (each in a fresh shuffled order); an entry is the median of its passes.")
@click.option("--unit-timing", "mode", type=click.Choice(["alone", "context"]), default=None,
              help="Time each block alone, or between context layers minus a reference (default: context for "
                   "OpenVINO and TensorRT, whose lone blocks pay layout conversions; alone otherwise).")
@click.option("--rounds", type=click.IntRange(min=1), default=5, show_default=True,
              help="Interleaved rounds when timing whole subnets.")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Progress bars on stderr.")
@board_options
@json_option
def profile(target_name: str | None, space_name: str | None, variant: str | None, classes: int | None,
            widths: str | None, resolutions: str | None, out: Path | None, calibrate: int | None, validate: int,
            seed: int, min_time: float | None, passes: int, mode: str | None, rounds: int, progress: bool,
            bundle: Path | None, import_path: Path | None, remote: str | None, identity_file: Path | None,
            ssh_options: tuple[str, ...], as_json: bool) -> None:
    """Measure every unique block of a space on a target and write its latency table.

    Each block (stem, MBConv layer, dense-skip add, exit head) is exported to ONNX and timed on the target
    in several shuffled passes; completed timings are journalled, so an interrupted run resumes where it
    stopped. The table is then calibrated on whole subnets measured end to end, and optionally validated on
    held-out ones. With --bundle / --remote / --import the measuring happens on a board instead.
    """
    from hwnat.latency.build import ProfileRequest, build_table

    if validate == 1:
        raise click.BadParameter("validation needs at least 2 subnets (or 0 for none)", param_hint="'--validate'")
    check_board_flags(bundle, import_path, remote, identity_file, ssh_options)
    if import_path is not None:
        space = resolve_space(space_name, variant, classes) if space_name is not None else None
        import_board(import_path, bundle, out, target_name, space, as_json)
        return
    for value, flag in ((target_name, "--target"), (space_name, "--space")):
        if value is None:
            raise click.UsageError(f"Missing option '{flag}' (required unless importing a board's timings with "
                                   f"'--import').")
    assert target_name is not None and space_name is not None
    spec = load_target_option(target_name)
    space = resolve_space(space_name, variant, classes)
    width_list, resolution_list = _coverage(space, widths, resolutions)
    req = ProfileRequest(spec, space, width_list, resolution_list, out, calibrate, validate, seed, min_time,
                         passes, rounds, progress, mode)
    if board_requested(bundle, None, remote):
        bundle_or_remote(req, bundle, remote, identity_file, ssh_options, as_json)
        return
    report = build_table(req)
    if as_json:
        emit_json({k: v for k, v in report.items() if not k.endswith("_nets")})
        return
    _print_report(report)


def _print_report(report: dict[str, Any]) -> None:
    prof, cal = report["profiling"], report["calibration"]
    click.echo(f"table        {report['table']}")
    click.echo(f"units        {prof.get('units')} timed {prof.get('mode')} ({prof.get('measured_timings', 0)} timings "
               f"in {prof.get('wall_s')} s "
               f"over {prof.get('passes')} passes; {prof.get('resumed_timings', 0)} from the journal, "
               f"{prof.get('reused_units', 0)} units from the existing table)")
    print_calibration(cal, report.get("validation"), "interleaved")


def print_calibration(cal: dict[str, Any], val: dict[str, Any] | None, how: str) -> None:
    """The calibration line and, when validated, the raw and calibrated accuracy lines."""
    params = ", ".join(f"{p:.4g}" for p in cal["params"])
    click.echo(f"calibration  {cal['model']} ({cal['description']}) [{params}] on {cal['n']} subnets")
    if val:
        click.echo(f"validation   {val['n']} held-out subnets, {how}")
        for name in ("raw", "calibrated"):
            m = val[name]
            click.echo(f"  {name:<11}within ±5% {m['within_5pct']:.0%}  ±10% {m['within_10pct']:.0%}  "
                       f"MAPE {m['mape']:.1f}%  Spearman {m['spearman']:.3f}  Kendall {m['kendall']:.3f}")
