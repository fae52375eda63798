"""Board options of `hwnat profile`: --bundle (write a bundle to measure on a board), --import (turn the timings
it returns into a table) and --remote (both over SSH, resumable)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from hwnat.cli.options import emit_json

if TYPE_CHECKING:
    from hwnat.latency.build import ProfileRequest
    from hwnat.space import SearchSpace

F = TypeVar("F", bound=Callable[..., Any])

TARGET_REMOTE = "@target"


def board_options(func: F) -> F:
    """Add --bundle, --import, --remote, --identity and --ssh-option (parameters bundle, import_path, remote,
    identity_file, ssh_options)."""
    options = [
        click.option("--bundle", type=click.Path(path_type=Path), default=None, metavar="FILE.tar.gz",
                     help="Write a self-contained bundle (ONNX models, manifest, runner needing only Python, numpy "
                          "and the runtime) to measure on a board instead of here. With --import: the bundle the "
                          "timings came from; with --remote: keep the bundle and the fetched timings there."),
        click.option("--import", "import_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     metavar="TIMINGS.json",
                     help="Turn the timings.json a board's run.py wrote into the latency table (target and space "
                          "come from its bundle)."),
        click.option("--remote", is_flag=False, flag_value=TARGET_REMOTE, default=None, metavar="[USER@]HOST[:PORT]",
                     help="Measure on a board over SSH: copy the bundle with scp, run it with ssh (re-running "
                          "resumes), fetch and import its timings. Without a value: the target's [remote] host."),
        click.option("--identity", "identity_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     default=None, metavar="FILE", help="SSH private key for --remote (ssh -i)."),
        click.option("--ssh-option", "ssh_options", multiple=True, metavar="KEY=VALUE",
                     help="Extra ssh/scp -o option for --remote, repeatable (e.g. StrictHostKeyChecking=accept-new)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def board_requested(bundle: Path | None, import_path: Path | None, remote: str | None) -> bool:
    """Whether the command measures on a board (or imports a board's timings) rather than here."""
    return bundle is not None or import_path is not None or remote is not None


def check_board_flags(bundle: Path | None, import_path: Path | None, remote: str | None,
                      identity_file: Path | None, ssh_options: tuple[str, ...]) -> None:
    """Usage errors naming the flag for combinations that make no sense."""
    if import_path is not None and remote is not None:
        raise click.UsageError("'--import' reads timings already fetched; '--remote' fetches them itself: "
                               "give one of them")
    if remote is None and (identity_file is not None or ssh_options):
        flag = "'--identity'" if identity_file is not None else "'--ssh-option'"
        raise click.UsageError(f"{flag} only applies with '--remote'")
    for option in ssh_options:
        if "=" not in option or option.startswith("="):
            raise click.BadParameter(f"expected KEY=VALUE, got {option!r}", param_hint="'--ssh-option'")
    if import_path is not None and not import_path.is_file():
        raise click.BadParameter(f"file {str(import_path)!r} does not exist", param_hint="'--import'")


def import_board(import_path: Path, bundle: Path | None, out: Path | None, target_name: str | None,
                 space: SearchSpace | None, as_json: bool) -> None:
    """`hwnat profile --import timings.json [--bundle B] [--target T] [--space S] [--out FILE]`."""
    from hwnat.cli.profile_cmd import load_target_option
    from hwnat.latency.board_import import import_timings

    target = load_target_option(target_name) if target_name is not None else None
    report = import_timings(import_path, bundle, space=space, target=target, out=out)
    _emit(report, as_json)


def bundle_or_remote(req: ProfileRequest, bundle: Path | None, remote: str | None, identity_file: Path | None,
                     ssh_options: tuple[str, ...], as_json: bool) -> None:
    """`--bundle FILE` alone writes the bundle; `--remote` measures it on the board and writes the table."""
    if remote is None:
        assert bundle is not None
        _write_bundle(req, bundle, as_json)
        return
    from hwnat.latency.remote import profile_remote, ssh_board

    board = ssh_board(req.target, None if remote == TARGET_REMOTE else remote, identity_file=identity_file,
                      options=ssh_options)
    _emit(profile_remote(req, board, bundle=bundle), as_json)


def _write_bundle(req: ProfileRequest, path: Path, as_json: bool) -> None:
    from hwnat.latency.bundle import build_bundle

    plan = build_bundle(req, path)
    roles = [n["role"] for n in plan.manifest["networks"]]
    summary = {"bundle": str(path), "bundle_id": plan.bundle_id, "folder": plan.folder, "target": req.target.name,
               "space": req.space.name, "variant": req.space.variant.name, "units": len(plan.units),
               "calibration_networks": roles.count("calibration"), "validation_networks": roles.count("validation"),
               "bytes": path.stat().st_size}
    if as_json:
        emit_json(summary)
        return
    click.echo(f"bundle       {path} ({summary['bytes'] / 1e6:.1f} MB, id {plan.bundle_id[:12]})")
    click.echo(f"models       {summary['units']} units, {summary['calibration_networks']} calibration and "
               f"{summary['validation_networks']} validation networks")
    click.echo(f"on the board tar xzf {path.name} && cd {plan.folder} && python3 run.py --out timings.json")
    click.echo(f"then here    hwnat profile --import timings.json --bundle {path}")


def _emit(report: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json({k: v for k, v in report.items() if not k.endswith("_nets")})
        return
    prof, cal = report["profiling"], report["calibration"]
    board = prof.get("board", {})
    click.echo(f"table        {report['table']}")
    click.echo(f"measured on  {board.get('runtime')} {board.get('runtime_version')}, {board.get('device_name')}"
               + (f" ({report['board']['where']})" if "board" in report else ""))
    click.echo(f"units        {prof.get('units')} (board wall time {prof.get('wall_s')} s)")
    from hwnat.cli.profile_cmd import print_calibration

    print_calibration(cal, report.get("validation"), "measured on the board")
