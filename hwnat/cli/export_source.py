"""Options shared by `hwnat export` and `hwnat benchmark`: which network, which formats, which export settings."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from hwnat.export.formats import format_names

if TYPE_CHECKING:
    from hwnat.export.formats import ExportFormat
    from hwnat.export.options import ExportOptions
    from hwnat.export.sources import SubnetSource

F = TypeVar("F", bound=Callable[..., Any])

FORMS = ("--run DIR --arch ID", "--checkpoint FILE", "--supernet CKPT --subnet FILE", "--space S --subnet FILE")
OPTION_PARAMS = ("opset", "simplify", "calib_images", "max_drop", "atol", "parity_images")


def source_options(func: F) -> F:
    """--run/--arch, --checkpoint, --supernet/--subnet, --space/--subnet (+ --variant/--classes), --data, --seed."""
    decorators = [
        click.option("--run", "run_dir", type=click.Path(path_type=Path), metavar="DIR",
                     help="A fine-tune run (model.pt) or a search run (archive.jsonl; super-network from "
                          "--supernet, else supernet.pt in DIR or its parent). Needs --arch."),
        click.option("--arch", "arch_id", metavar="ID", help="Arch id in --run, e.g. r32-w0.5-11-11-11-11-11."),
        click.option("--checkpoint", type=click.Path(path_type=Path), metavar="FILE",
                     help="A static subnet file (fine-tuning's model.pt)."),
        click.option("--supernet", type=click.Path(path_type=Path), metavar="CKPT",
                     help="Super-network to extract --subnet (or --run's --arch) from, BN-recalibrated."),
        click.option("--subnet", type=click.Path(path_type=Path), metavar="FILE",
                     help="A NAT/OFA net.subnet file (with --supernet, or with --space for fresh weights)."),
        click.option("--space", "space_name", metavar="NAME",
                     help="Search-space preset: compile --subnet with freshly initialised weights."),
        click.option("--variant", default=None, metavar="NAME", help="OFAv2 variant of --space."),
        click.option("--classes", type=click.IntRange(min=1), default=None, metavar="N",
                     help="Classes of --space (default: the preset's)."),
        click.option("--data", default=None, metavar="SOURCE",
                     help="Dataset for calibration, parity and accuracy: 'digits', an ImageFolder dir or tar "
                          "(default: the checkpoint's; 'digits' for super-networks; none for --space: random "
                          "images)."),
        click.option("--val", type=float, default=None, metavar="V",
                     help="Validation split of --data the super-network held out (fraction or count; default: "
                          "the training config's, else 0.1); halved into validation and test."),
        click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
                     help="Split, calibration and fresh-weight seed."),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def export_options(func: F) -> F:
    """--format, the per-format export settings (checked against the formats table) and --target overrides."""
    decorators = [
        click.option("--format", "format_text", required=True, metavar="F[,F...]",
                     help=f"Formats: {', '.join(format_names())}, or all."),
        click.option("--opset", type=int, default=None, help="ONNX opset (default 17)."),
        click.option("--simplify/--no-simplify", default=None, help="onnxslim the ONNX graph (default: on)."),
        click.option("--calib-images", type=int, default=None, metavar="N",
                     help="INT8 calibration images from the training split (default 300)."),
        click.option("--max-drop", type=float, default=None, metavar="PTS",
                     help="fp16/INT8: largest accuracy drop in points before the export fails (default 1)."),
        click.option("--atol", type=float, default=None, help="fp32: largest |Δlogit| against PyTorch (1e-4)."),
        click.option("--parity-images", type=int, default=None, metavar="N",
                     help="Validation images each export is checked on (default 1000; 0: all)."),
        click.option("--target", "target_names", multiple=True, metavar="NAME",
                     help="Validate (and benchmark) a runtime's formats on this target instead of the format's "
                          "own (ort-cpu, openvino-cpu, tensorrt-gpu, torch-cpu); repeatable."),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def resolve_formats_and_options(format_text: str, params: dict[str, Any]) -> tuple[list[ExportFormat],
                                                                                     ExportOptions]:
    """The chosen formats and ExportOptions; bad names or unsupported options are click errors naming the flag."""
    from hwnat.errors import ConfigError
    from hwnat.export.formats import parse_formats
    from hwnat.export.options import make_options, option_flag

    try:
        formats = parse_formats(format_text)
    except ConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="'--format'") from exc
    given = {k: params[k] for k in OPTION_PARAMS if params.get(k) is not None}
    try:
        return formats, make_options(formats, given)
    except ConfigError as exc:
        flag = next((option_flag(k) for k in given if option_flag(k) in str(exc) or k in str(exc)), None)
        raise click.BadParameter(str(exc), param_hint=f"'{flag}'" if flag else None) from exc


def load_source_from_flags(run_dir: Path | None, arch_id: str | None, checkpoint: Path | None,
                           supernet: Path | None, subnet: Path | None, space_name: str | None,
                           variant: str | None, classes: int | None, data: str | None, val: float | None,
                           seed: int) -> SubnetSource:
    """The network named by exactly one of the four forms; anything else is a usage error listing them."""
    from hwnat.export import sources

    val_value: float | int | None = int(val) if val is not None and val >= 1 else val
    forms = {"run": run_dir is not None, "checkpoint": checkpoint is not None,
             "supernet": supernet is not None and run_dir is None, "space": space_name is not None}
    if sum(forms.values()) != 1:
        raise click.UsageError(f"name the network in exactly one way: {' | '.join(FORMS)}")
    if run_dir is not None:
        if not arch_id:
            raise click.UsageError("--run needs --arch ID (an arch id of the run)")
        src = sources.from_run(run_dir, arch_id, supernet=supernet, data=data, seed=seed)
    elif checkpoint is not None:
        _refuse(subnet=subnet, arch=arch_id)
        if not checkpoint.is_file():
            raise click.BadParameter(f"{str(checkpoint)!r} does not exist", param_hint="'--checkpoint'")
        src = sources.from_checkpoint(checkpoint, data=data, val=val_value, seed=seed)
    elif supernet is not None:
        if subnet is None:
            raise click.UsageError("--supernet needs --subnet FILE (or use --run DIR --arch ID)")
        if not supernet.is_file():
            raise click.BadParameter(f"{str(supernet)!r} does not exist", param_hint="'--supernet'")
        src = sources.from_supernet(supernet, _subnet(subnet), data=data or "digits", seed=seed)
    else:
        from hwnat.cli.space_options import resolve_space

        if subnet is None:
            raise click.UsageError("--space needs --subnet FILE")
        src = sources.from_space(resolve_space(str(space_name), variant, classes), _subnet(subnet), data=data,
                                 seed=seed)
    if val_value is not None:
        src.val = val_value
    return src


def _subnet(path: Path) -> Path:
    if not path.is_file():
        raise click.BadParameter(f"{str(path)!r} does not exist", param_hint="'--subnet'")
    return path


def _refuse(**given: object) -> None:
    extra = [f"--{k}" for k, v in given.items() if v is not None]
    if extra:
        raise click.UsageError(f"--checkpoint takes no {', '.join(extra)}: the file holds its arch")


def parse_targets(names: tuple[str, ...]) -> dict[str, Any]:
    """--target NAME... as {name: TargetSpec}, each name checked."""
    from hwnat.cli.profile_cmd import load_target_option

    return {name: load_target_option(name) for name in names}
