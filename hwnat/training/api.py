"""train_supernet(): the Python entry point (and what `hwnat train-supernet` calls), and load_supernet()."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from hwnat.data import load_dataset, split_dataset
from hwnat.data.dataset import ImageDataset
from hwnat.data.transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    Normalize,
    eval_transform,
    train_transform,
)
from hwnat.errors import CheckpointError, ConfigError, SpaceError
from hwnat.io import resuming
from hwnat.space.presets import get_space
from hwnat.space.spec import SearchSpace, Variant
from hwnat.supernet import OFAMobileNetV3, load_supernet_weights, read_state_dict
from hwnat.training import checkpoint as ckpt
from hwnat.training.batches import ShardedLoader
from hwnat.training.config import TrainConfig, load_config
from hwnat.training.distributed import DistContext, check_device, init_distributed, shutdown
from hwnat.training.loop import CHECKPOINT_DIR, LOG_FILE, Run, Trainer
from hwnat.training.phases import PhaseSpec, build_phases
from hwnat.training.state import TrainState

log = logging.getLogger("hwnat.training")

SUPERNET_FILE = "supernet.pt"
RESULT_FILE = "result.json"


@dataclass
class PhaseResult:
    """One phase's outcome: its last epoch's validation accuracies, its best largest-subnet accuracy, wall time."""

    name: str
    epochs: int
    val: dict[str, float]
    best_acc: float | None
    wall_s: float


@dataclass
class TrainResult:
    """What train_supernet returns: where the files are, the trained super-network and per-phase figures."""

    out_dir: Path
    supernet_path: Path
    log_path: Path
    space: SearchSpace
    width_mult: float
    config: TrainConfig
    phases: list[PhaseResult]
    history: list[dict[str, Any]]
    net: OFAMobileNetV3 = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"out_dir": str(self.out_dir), "supernet": str(self.supernet_path), "log": str(self.log_path),
                "space": self.space.name, "variant": self.space.variant.name, "width_mult": self.width_mult,
                "num_classes": self.space.num_classes, "space_fingerprint": self.space.fingerprint,
                "preset": self.config.preset,
                "phases": [vars(p) for p in self.phases]}


def train_supernet(space: str | SearchSpace, data: str | Path | ImageDataset, *, variant: str | Variant | None = None,
                   width_mult: float | None = None, preset: str = "quick", config: str | Path | None = None,
                   overrides: Mapping[str, Any] | None = None, out: str | Path = "runs/supernet",
                   resume: bool = False, device: str = "cpu", seed: int = 0, init: str | Path | None = None,
                   new_head: bool = False, progress: bool = True, cache_dir: Path | None = None,
                   on_epoch: Callable[[dict[str, Any]], None] | None = None) -> TrainResult:
    """Train an OFAv2 super-network by extended progressive shrinking; see the README's "Training" section.

    `space`: a preset name or a SearchSpace (its `variant` replaced when given); `data`: "digits", an ImageFolder
    directory or tar, or an ImageDataset (its class count sets the head). `resume` continues from
    `out/checkpoints/last.pt` (its configuration and seed win). `init` starts from a super-network's weights
    (`new_head` to replace a classifier of another class count). Under torchrun each process calls this.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    check_device(device)  # before the data set loads
    out_dir = Path(out)
    last = out_dir / CHECKPOINT_DIR / ckpt.LAST
    payload = ckpt.load_training_checkpoint(last) if resuming(last, out_dir, resume, "training") else None
    cfg = load_config(preset, config, overrides)
    if payload is not None:
        stored = TrainConfig.from_dict(payload["config"], source=str(last))
        if stored != cfg and (config is not None or overrides):
            log.warning("resuming with the configuration stored in %s, not the one given", last)
        cfg, seed = stored, int(payload["seed"])
    dataset = data if isinstance(data, ImageDataset) else load_dataset(data, cache_dir=cache_dir)
    sp = _space(space, variant).with_classes(dataset.num_classes)
    width = sp.check_width(sp.width_mults[0] if width_mult is None else width_mult)
    resolutions = _resolutions(sp, cfg)

    with _torch_settings(cfg, device):
        ctx = init_distributed(device)
        try:
            return _train(sp, width, dataset, cfg, resolutions, out_dir, seed, ctx, payload, last, init, new_head,
                          progress, on_epoch)
        finally:
            shutdown(ctx)


def _train(sp: SearchSpace, width: float, dataset: ImageDataset, cfg: TrainConfig, resolutions: tuple[int, ...],
           out_dir: Path, seed: int, ctx: DistContext, payload: dict[str, Any] | None, last: Path,
           init: str | Path | None, new_head: bool, progress: bool,
           on_epoch: Callable[[dict[str, Any]], None] | None) -> TrainResult:
    if payload is not None:
        ckpt.check_identity(payload, sp, width, last)
        if int(payload.get("world_size", 1)) != ctx.world_size:
            log.warning("checkpoint was written by %s process(es), resuming with %s: the data order changes",
                        payload.get("world_size"), ctx.world_size)
    splits = split_dataset(dataset, val=cfg.val, test=0, seed=seed)
    torch.manual_seed(seed + ctx.rank)
    net = OFAMobileNetV3(sp, width)
    state = None
    if payload is not None:
        net.load_state_dict(payload["model"], strict=True)
        state = TrainState.from_dict(payload["cursor"])
    elif init is not None:
        _load_init(net, Path(init), sp, width, new_head)
    net.to(ctx.device)
    if cfg.channels_last:
        net.to(memory_format=torch.channels_last)
    native = dataset.resolution
    augment = training_transform(native, cfg.augment)
    loader = ShardedLoader(splits.train, batch_size=cfg.batch_size, transform=augment, seed=seed, rank=ctx.rank,
                           world_size=ctx.world_size, max_steps=cfg.max_steps_per_epoch)
    from hwnat.training.validate import EvalData

    eval_data = EvalData(splits.train, splits.val, augment, eval_transform(native), cfg.batch_size,
                         cfg.bn_calib_batches, ctx.device, cfg.channels_last, seed)
    phases = build_phases(sp, cfg)
    identity = ckpt.space_identity(sp, width)
    run = Run(sp, width, net, cfg, phases, loader, eval_data, resolutions, out_dir, seed, ctx, identity,
              progress)
    if ctx.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        _write_json(out_dir / "config.json", {**identity, "config": cfg.to_dict(), "seed": seed,
                                              "world_size": ctx.world_size, "train_images": len(splits.train),
                                              "val_images": len(splits.val), "resolutions": list(resolutions),
                                              "phases": [p.to_dict() for p in phases]})
    state = Trainer(run, state, payload, on_epoch).train()
    supernet_path = out_dir / SUPERNET_FILE
    if ctx.is_main:
        ckpt.atomic_save({"format": ckpt.SUPERNET_FORMAT, **identity, "config": cfg.to_dict(), "seed": seed,
                          "state_dict": net.state_dict()}, supernet_path)
    result = TrainResult(out_dir, supernet_path, out_dir / LOG_FILE, sp, width, cfg,
                         _phase_results(phases, state), state.history, net.to("cpu"))
    if ctx.is_main:
        _write_json(out_dir / RESULT_FILE, result.to_dict())
    return result


def load_supernet(path: str | Path, device: str = "cpu") -> OFAMobileNetV3:
    """The super-network saved by train_supernet (`supernet.pt`, or a training checkpoint), loaded strictly."""
    file = Path(path)
    data = ckpt.load_file(file)
    if data.get("format") not in (ckpt.SUPERNET_FORMAT, ckpt.FORMAT):
        raise CheckpointError(f"{str(file)!r} is not an hwnat super-network file (format {data.get('format')!r})")
    sp = SearchSpace.from_dict(data["space"])
    net = OFAMobileNetV3(sp, float(data["width_mult"]))
    load_supernet_weights(net, data["state_dict"] if "state_dict" in data else data["model"])
    return net.to(device)


# -- helpers ------------------------------------------------------------------------------------------
def _space(space: str | SearchSpace, variant: str | Variant | None) -> SearchSpace:
    if isinstance(space, SearchSpace):
        return space if variant is None else space.with_variant(variant)
    if not isinstance(space, str):
        raise SpaceError(f"space must be a preset name or a SearchSpace, got {type(space).__name__}")
    return get_space(space, variant=variant)


def _resolutions(sp: SearchSpace, cfg: TrainConfig) -> tuple[int, ...]:
    if cfg.resolutions is None:
        return sp.resolutions
    bad = [r for r in cfg.resolutions if r not in sp.resolutions]
    if bad:
        raise ConfigError(f"train.resolutions {bad} are not resolutions of space {sp.name!r}; allowed: "
                          f"{', '.join(map(str, sp.resolutions))}")
    return cfg.resolutions


def training_transform(native: int, augment: str) -> Any:
    """The training augmentation of a run (its config's `augment`) for images of `native` pixels."""
    if augment == "none":
        normalize = Normalize(IMAGENET_MEAN, IMAGENET_STD)
        return lambda x, generator=None: normalize(x)
    return train_transform(native, augment)


def _load_init(net: OFAMobileNetV3, path: Path, sp: SearchSpace, width: float, new_head: bool) -> None:
    data = ckpt.load_file(path)
    replace_head = False
    if data.get("format") in (ckpt.SUPERNET_FORMAT, ckpt.FORMAT):
        replace_head = ckpt.check_identity(data, sp, width, path, new_head=new_head)
        state = dict(data["state_dict"] if "state_dict" in data else data["model"])
    else:
        state = read_state_dict(data)
        head = state.get("classifier.linear.weight")
        if head is not None and head.shape[0] != sp.num_classes:
            if not new_head:
                raise CheckpointError(f"checkpoint {str(path)!r} has a {head.shape[0]}-class head but the dataset "
                                      f"has {sp.num_classes} classes; pass --new-head to train a new head")
            replace_head = True
    if replace_head:
        fresh = net.state_dict()
        state = {k: (fresh[k] if ckpt.is_head_key(k) else v) for k, v in state.items()}
    load_supernet_weights(net, state)


def _phase_results(phases: list[PhaseSpec], state: TrainState) -> list[PhaseResult]:
    results = []
    for phase in phases:
        records = [r for r in state.history if r["phase"] == phase.name]
        best = state.best.get(phase.name)
        results.append(PhaseResult(phase.name, phase.epochs, records[-1]["val"] if records else {},
                                   best.acc if best else None,
                                   round(sum(r["train_s"] + r["val_s"] for r in records), 3)))
    return results


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


@contextmanager
def _torch_settings(cfg: TrainConfig, device: str) -> Iterator[None]:
    """Threads and deterministic algorithms for the run, restored afterwards."""
    threads, det = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    det_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    if cfg.deterministic:
        if device == "cuda":
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.backends.cudnn.benchmark = False
        torch.use_deterministic_algorithms(True, warn_only=device == "cuda")
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(det, warn_only=det_warn)
