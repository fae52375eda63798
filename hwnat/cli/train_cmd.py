"""`hwnat train-supernet`: OFAv2 progressive-shrinking training of a super-network on a dataset."""

from __future__ import annotations

import os
from pathlib import Path

import click

from hwnat.cli.options import emit_json, json_option
from hwnat.cli.space_options import resolve_space, variant_option
from hwnat.training.presets import preset_names


@click.command("train-supernet")
@click.option("--space", "space_name", required=True, metavar="NAME", help="Search-space preset (hwnat space list).")
@click.option("--data", required=True, metavar="SOURCE",
              help='"digits", an ImageFolder directory or a .tar/.tar.gz of one; its classes set the head.')
@variant_option
@click.option("--width", "width_mult", type=float, default=None, metavar="W",
              help="Width multiplier (default: the space's smallest).")
@click.option("--preset", type=click.Choice(preset_names()), default="quick", show_default=True,
              help="Phase schedule: smoke (a few steps), quick (2-core CPU, CIFAR-sized), paper (OFA's epochs).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              metavar="FILE", help="TOML overriding the preset: [train] settings and [phases.<name>] tables.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("runs/supernet"),
              show_default=True, help="Run folder: checkpoints/, log.jsonl, supernet.pt, result.json.")
@click.option("--resume", is_flag=True, help="Continue from OUT/checkpoints/last.pt (its config and seed).")
@click.option("--init", "init_file", type=click.Path(dir_okay=False, path_type=Path), default=None, metavar="FILE",
              help="Start from these super-network weights (supernet.pt, a checkpoint, or an OFA state dict).")
@click.option("--new-head", is_flag=True, help="With --init: replace a classifier of another class count.")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True,
              help="Under torchrun every process uses cuda:LOCAL_RANK (nccl) or the CPU (gloo).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="One seed for the split, initialisation, subnet sampling and augmentation.")
@click.option("--no-progress", is_flag=True, help="No progress bar; epoch summaries become log lines (shown with hwnat -v).")
@json_option
def train_supernet_cmd(space_name: str, data: str, variant: str | None, width_mult: float | None, preset: str,
                       config_file: Path | None, out: Path, resume: bool, init_file: Path | None, new_head: bool,
                       device: str, seed: int, no_progress: bool, as_json: bool) -> None:
    """Train an OFAv2 super-network: full network, elastic kernel, level, height, depth and expand phases with
    knowledge distillation. Resumable; run it under torchrun for several processes or GPUs."""
    from hwnat.training import train_supernet

    if new_head and init_file is None:
        raise click.UsageError("--new-head needs --init FILE (the weights whose head is replaced)")
    if resume and init_file is not None:
        raise click.UsageError("--resume and --init exclude each other: --resume continues OUT's own checkpoint")
    space = resolve_space(space_name, variant, None)
    result = train_supernet(space, data, width_mult=width_mult, preset=preset, config=config_file, out=out,
                            resume=resume, device=device, seed=seed, init=init_file, new_head=new_head,
                            progress=not no_progress)
    if os.environ.get("RANK", "0") != "0":  # under torchrun only rank 0 reports
        return
    summary = result.to_dict()
    if as_json:
        emit_json(summary)
        return
    click.echo(f"super-network: {result.supernet_path}")
    for phase in summary["phases"]:
        val = phase["val"]
        accs = "  ".join(f"{k} {val[k]:.2%}" for k in ("largest", "median", "smallest") if k in val)
        click.echo(f"  {phase['name']:10} {phase['epochs']:>4} epochs  {accs}  {phase['wall_s']:.0f} s")
