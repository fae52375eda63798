"""`hwnat finetune`: NATv2's two-step fine-tuning of one subnet of a trained super-network."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from hwnat.cli.options import emit_json, json_option
from hwnat.finetune.optimizers import AUTO, optimizer_names
from hwnat.finetune.presets import preset_names


@click.command("finetune")
@click.option("--supernet", "supernet_path", required=True, type=click.Path(path_type=Path), metavar="CKPT",
              help="Super-network file written by training (supernet.pt).")
@click.option("--arch", "arch_text", default=None, metavar="ID",
              help="Arch id, e.g. r32-w0.5-11-144-551-522-8877 (from search's archive.jsonl or front.json).")
@click.option("--subnet", "subnet_file", type=click.Path(path_type=Path), default=None, metavar="FILE",
              help="Subnet file (NAT/OFA net.subnet JSON) instead of --arch.")
@click.option("--data", required=True, metavar="SOURCE",
              help='The dataset the super-network was trained on: "digits", an ImageFolder directory or tar.')
@click.option("--preset", type=click.Choice(preset_names()), default="quick", show_default=True,
              help="smoke (a few steps), quick (2-core CPU), paper: max epochs, patience, batch size, lr.")
@click.option("--kd", is_flag=True, help="Distil from the super-network's largest subnet (ENS-KD for early exits).")
@click.option("--joint-exits", is_flag=True,
              help="Early-exit subnets: re-attach the exits of earlier stages and train them jointly.")
@click.option("--epochs", type=click.IntRange(min=1), default=None, metavar="N",
              help="Step 1's maximum epoch count (default: the preset's).")
@click.option("--patience", type=click.IntRange(min=1), default=None, metavar="N",
              help="Step 1 stops after N epochs without a better validation accuracy (default: the preset's).")
@click.option("--optimizer", type=click.Choice([AUTO, *optimizer_names()]), default=None,
              help="Default auto: adamw for early-exit super-networks, sgd otherwise (NATv2).")
@click.option("--lr", type=click.FloatRange(min=0.0, min_open=True), default=None, metavar="LR",
              help="Constant learning rate (default: the preset's, 1e-4).")
@click.option("--batch-size", type=click.IntRange(min=1), default=None, metavar="N")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seed of data order, augmentation and dropout (same seed, same weights).")
@click.option("--split-seed", type=click.IntRange(min=0), default=None, metavar="N",
              help="Seed of the train/val/test split (default: the super-network's training seed).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("runs/finetune"),
              show_default=True, help="Run folder: model.pt, result.json, log.jsonl, checkpoints/.")
@click.option("--resume", is_flag=True, help="Continue from OUT/checkpoints/last.pt (its settings and seed).")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda or cuda:N.")
@click.option("--no-progress", is_flag=True, help="No progress bar; epoch summaries become log lines (hwnat -v).")
@json_option
def finetune_cmd(supernet_path: Path, arch_text: str | None, subnet_file: Path | None, data: str, preset: str,
                 kd: bool, joint_exits: bool, epochs: int | None, patience: int | None, optimizer: str | None,
                 lr: float | None, batch_size: int | None, seed: int, split_seed: int | None, out: Path,
                 resume: bool, device: str, no_progress: bool, as_json: bool) -> None:
    """Fine-tune one subnet (NATv2): train with validation and early stopping to find the epoch count, retrain
    on train + validation for that many epochs, report test accuracy. Resumable."""
    from hwnat.errors import CheckpointError, DataError, HwnatError, SpaceError
    from hwnat.finetune.api import finetune, resolve_arch, supernet_header

    if (arch_text is None) == (subnet_file is None):
        raise click.UsageError("give exactly one of --arch ID and --subnet FILE")
    if not supernet_path.is_file():
        raise click.BadParameter(f"{str(supernet_path)!r} does not exist", param_hint="'--supernet'")
    try:
        space, width = supernet_header(supernet_path)
    except CheckpointError as exc:
        raise click.BadParameter(str(exc), param_hint="'--supernet'") from exc
    try:
        if subnet_file is not None:
            from hwnat.space.subnet_file import read_subnet

            arch = resolve_arch(space, read_subnet(subnet_file, space), width)
        else:
            assert arch_text is not None
            arch = resolve_arch(space, arch_text, width)
    except SpaceError as exc:
        raise click.BadParameter(str(exc), param_hint="'--subnet'" if subnet_file else "'--arch'") from exc
    if joint_exits and not space.variant.early_exit:
        raise click.BadParameter(f"needs an early-exit super-network (variant ee-…); {str(supernet_path)!r} is "
                                 f"variant {space.variant.name!r}", param_hint="'--joint-exits'")
    from hwnat.data import load_dataset

    try:
        dataset = load_dataset(data)
    except (DataError, HwnatError) as exc:
        raise click.BadParameter(str(exc), param_hint="'--data'") from exc
    if dataset.num_classes != space.num_classes:
        raise click.BadParameter(f"{data!r} has {dataset.num_classes} classes but the super-network "
                                 f"{str(supernet_path)!r} has {space.num_classes}: use the dataset it was trained on",
                                 param_hint="'--data'")
    overrides: dict[str, Any] = {k: v for k, v in {"max_epochs": epochs, "patience": patience, "optimizer": optimizer,
                                                   "lr": lr, "batch_size": batch_size}.items() if v is not None}
    result = finetune(supernet_path, arch, dataset, out=out, preset=preset, kd=kd, joint_exits=joint_exits, seed=seed,
                      resume=resume, overrides=overrides or None, progress=not no_progress, device=device,
                      split_seed=split_seed)
    if as_json:
        emit_json({k: v for k, v in result.to_dict().items() if k != "history"})
        return
    split, ext = result.split, result.extracted
    click.echo(f"{result.arch_id}: {result.epochs} epoch(s) chosen on validation, retrained on "
               f"{split['retrain_images']:,} images ({result.optimizer}, lr {result.config.lr:g}"
               f"{', KD' if result.kd else ''}{', joint exits' if result.joint_exits else ''})")
    click.echo(f"  extracted   val {ext['val_top1']:.2%}  test {ext['test_top1']:.2%}")
    click.echo(f"  fine-tuned  val {result.val_top1:.2%}  test {result.test_top1:.2%}")
    for stage, acc in result.exit_test_top1.items():
        click.echo(f"  exit {stage}      test {acc:.2%}")
    click.echo(f"model: {result.model_path}")
