"""Where the network to export comes from: a subnet file, a fine-tune or search run, a super-network, or fresh weights."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hwnat.errors import CheckpointError, ConfigError, SpaceError, unknown_name

if TYPE_CHECKING:
    from hwnat.data.dataset import ImageDataset
    from hwnat.export.data import ExportData
    from hwnat.export.options import ExportOptions
    from hwnat.models.checkpoint import SubnetInfo
    from hwnat.models.mobilenetv3 import MobileNetV3
    from hwnat.space import Arch, SearchSpace

DEFAULT_VAL = 0.1            # the training presets' validation split (halved into val and test after training)
MODEL_FILE = "model.pt"      # a fine-tune run's output
ARCHIVE_FILE = "archive.jsonl"
SUPERNET_FILE = "supernet.pt"


@dataclass
class SubnetSource:
    """A static network ready to export, its info, and the dataset (None: fresh weights, random images)."""

    model: MobileNetV3
    info: SubnetInfo
    dataset: ImageDataset | None
    val: float | int
    seed: int
    origin: str

    def export_data(self, options: ExportOptions, test_images: int = 0) -> ExportData:
        """Calibration / parity / test images at the network's resolution (random images without a dataset)."""
        from hwnat.export.data import dataset_data, random_data

        resolution = int(self.info.arch.resolution)
        if self.dataset is None:
            return random_data((1, 3, resolution, resolution), calib_images=options.calib_images,
                               parity_images=min(options.parity_images or 64, 64), seed=self.seed)
        if self.dataset.num_classes != self.info.space.num_classes:
            raise ConfigError(f"dataset {self.dataset.source!r} has {self.dataset.num_classes} classes but the "
                              f"network has {self.info.space.num_classes}")
        return dataset_data(self.dataset, resolution, val=self.val, seed=self.seed,
                            calib_images=options.calib_images, parity_images=options.parity_images,
                            test_images=test_images)


def _dataset(data: str | Path | ImageDataset | None) -> ImageDataset | None:
    if data is None or not isinstance(data, (str, Path)):
        return data
    from hwnat.data import load_dataset

    return load_dataset(data)


def from_checkpoint(path: str | Path, *, data: str | Path | ImageDataset | None = None,
                    val: float | int | None = None, seed: int = 0) -> SubnetSource:
    """A static subnet file (fine-tuning's model.pt); its dataset is `data`, else the one it records."""
    from hwnat.models.checkpoint import load_subnet

    model, info = load_subnet(path)
    recorded = info.dataset if info.dataset == "digits" or (info.dataset and Path(info.dataset).exists()) else None
    split = info.provenance.get("split", {}) if isinstance(info.provenance.get("split"), dict) else {}
    return SubnetSource(model, info, _dataset(data if data is not None else recorded),
                        val if val is not None else split.get("val", DEFAULT_VAL),
                        int(split.get("seed", seed)), f"checkpoint {path}")


def from_supernet(supernet: str | Path, arch: Arch | str | Path, *, data: str | Path | ImageDataset,
                  seed: int = 0, metrics: dict[str, Any] | None = None) -> SubnetSource:
    """`arch` (an Arch, an arch id, or a net.subnet file) extracted from the super-network, its batch-norm
    statistics recalibrated on training images exactly as search evaluates it."""
    import torch

    from hwnat.data import split_dataset
    from hwnat.models.checkpoint import SubnetInfo
    from hwnat.supernet import extract, recalibrate_bn
    from hwnat.training import checkpoint as ckpt
    from hwnat.training.api import load_supernet, training_transform
    from hwnat.training.batches import calibration_batches
    from hwnat.training.config import TrainConfig, load_config

    path = Path(supernet)
    raw = ckpt.load_file(path)
    cfg = TrainConfig.from_dict(raw["config"], source=str(path)) if "config" in raw else load_config("quick")
    net = load_supernet(path).eval()
    space = net.space
    resolved = resolve_arch(space, arch, float(net.width_mult))
    dataset = _dataset(data)
    assert dataset is not None
    if dataset.num_classes != space.num_classes:
        raise ConfigError(f"dataset {dataset.source!r} has {dataset.num_classes} classes but the super-network "
                          f"{str(path)!r} has {space.num_classes}")
    train = split_dataset(dataset, val=cfg.val, test=0, seed=seed).train
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = extract(net, resolved)
        recalibrate_bn(model, calibration_batches(train, training_transform(dataset.resolution, cfg.augment),
                                                  cfg.batch_size, cfg.bn_calib_batches, seed, resolved.resolution,
                                                  torch.device("cpu"), False))
    info = SubnetInfo(space, resolved, list(dataset.classes), dataset.source, dict(metrics or {}),
                      {"supernet": str(path), "bn_recalibrated": True})
    return SubnetSource(model.eval(), info, dataset, cfg.val, seed, f"super-network {path}")


def from_space(space: SearchSpace, arch: Arch | str | Path, *, data: str | Path | ImageDataset | None = None,
               seed: int = 0) -> SubnetSource:
    """`arch` built with freshly initialised weights (seeded): for latency studies of published architectures."""
    import torch

    from hwnat.models import build_static
    from hwnat.models.checkpoint import SubnetInfo

    dataset = _dataset(data)
    if dataset is not None and dataset.num_classes != space.num_classes:
        space = space.with_classes(dataset.num_classes)
    resolved = resolve_arch(space, arch, None)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_static(space, resolved).eval()
    classes = list(dataset.classes) if dataset is not None else [str(i) for i in range(space.num_classes)]
    info = SubnetInfo(space, resolved, classes, dataset.source if dataset is not None else "",
                      {}, {"weights": f"fresh (seed {seed})"})
    return SubnetSource(model, info, dataset, DEFAULT_VAL, seed, f"space {space.name} (fresh weights)")


def from_run(run: str | Path, arch_id: str, *, supernet: str | Path | None = None,
             data: str | Path | ImageDataset | None = None, seed: int = 0) -> SubnetSource:
    """A fine-tune run folder (model.pt; `arch_id` must be its arch) or a search output folder (archive.jsonl;
    the super-network is `supernet`, else supernet.pt in the folder or its parent, `hwnat search`'s layout)."""
    folder = Path(run)
    if not folder.is_dir():
        raise ConfigError(f"run folder {str(folder)!r} does not exist")
    if (folder / MODEL_FILE).is_file():
        source = from_checkpoint(folder / MODEL_FILE, data=data, seed=seed)
        check_arch(source.info, arch_id, str(folder / MODEL_FILE))
        return source
    archive = folder / ARCHIVE_FILE
    if not archive.is_file():
        raise ConfigError(f"run folder {str(folder)!r} has neither {MODEL_FILE} (fine-tuning) nor {ARCHIVE_FILE} "
                          "(search)")
    records = {}
    for line in archive.read_text().splitlines():
        if line.strip():
            rec = json.loads(line)
            records[rec["arch_id"]] = rec
    if arch_id not in records:
        raise ConfigError(f"{archive}: {unknown_name('arch', arch_id, records)[:400]}")
    candidates = [Path(supernet)] if supernet is not None else [folder / SUPERNET_FILE, folder.parent / SUPERNET_FILE]
    found = next((p for p in candidates if p.is_file()), None)
    if found is None:
        raise ConfigError(f"no super-network for search run {str(folder)!r}: tried "
                          f"{', '.join(repr(str(p)) for p in candidates)}; pass --supernet")
    rec = records[arch_id]
    metrics = {"val_top1_supernet": 1.0 - float(rec["error"])} if "error" in rec else {}
    return from_supernet(found, arch_id, data=data if data is not None else "digits", seed=seed, metrics=metrics)


def resolve_arch(space: SearchSpace, arch: Arch | str | Path, width_mult: float | None) -> Arch:
    """An Arch from an Arch, an arch id or a net.subnet file, valid in `space` (and of the super-network's width)."""
    from hwnat.space import Arch as ArchType
    from hwnat.space import parse_arch_id, read_subnet

    try:
        if isinstance(arch, ArchType):
            resolved = arch.validate(space)
        elif isinstance(arch, Path) or Path(str(arch)).suffix in (".subnet", ".json") or Path(str(arch)).is_file():
            resolved = read_subnet(arch, space)
        else:
            resolved = parse_arch_id(space, str(arch)).validate(space)
    except SpaceError as exc:
        raise SpaceError(f"{arch}: {exc}") from exc
    if width_mult is not None and float(resolved.width_mult) != width_mult:
        raise CheckpointError(f"arch {arch} has width {resolved.width_mult}; the super-network has {width_mult}")
    return resolved


def check_arch(info: SubnetInfo, arch_id: str, where: str) -> None:
    """CheckpointError naming both when `arch_id` is not the arch stored in the checkpoint."""
    from hwnat.space import parse_arch_id

    try:
        wanted = parse_arch_id(info.space, arch_id).canonical(info.space)
    except SpaceError as exc:
        raise CheckpointError(f"--arch {arch_id!r} is not an arch of space {info.space.name!r}: {exc}") from exc
    if wanted != info.arch.canonical(info.space):
        raise CheckpointError(f"{where} holds arch {info.arch_id}, not the requested {arch_id}")
