"""finetune(): NATv2's two-step post-processing of one subnet (what `hwnat finetune` and `hwnat build` call)."""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from hwnat.data import load_dataset
from hwnat.data.dataset import ImageDataset
from hwnat.errors import CheckpointError, ConfigError, SpaceError
from hwnat.finetune import checkpoint as ftckpt
from hwnat.finetune.checkpoint import DONE, Cursor
from hwnat.finetune.config import FinetuneConfig, load_config
from hwnat.finetune.data import finetune_data, supernet_origin
from hwnat.finetune.loop import FinetuneLoop, Job, evaluate
from hwnat.finetune.optimizers import resolve_optimizer
from hwnat.finetune.student import JointExits, subnet_of
from hwnat.io import atomic_write_json, resuming
from hwnat.models.checkpoint import SubnetInfo, save_subnet
from hwnat.space.arch import Arch
from hwnat.space.genome import arch_id as arch_id_of
from hwnat.space.genome import parse_arch_id
from hwnat.space.spec import SearchSpace
from hwnat.supernet import OFAMobileNetV3
from hwnat.training import checkpoint as trckpt

log = logging.getLogger("hwnat.finetune")

MODEL_FILE = "model.pt"
EXIT_HEADS_FILE = "exit_heads.pt"
RESULT_FILE = "result.json"
EXIT_HEADS_FORMAT = "hwnat.exit-heads"


@dataclass
class FinetuneResult:
    """What finetune returns: the files, the chosen epoch count and the accuracies before and after."""

    out_dir: Path
    model_path: Path
    arch_id: str
    epochs: int                       # step 1's choice, trained again on train + val in step 2
    val_top1: float                   # step 1's best validation accuracy (at `epochs`)
    test_top1: float                  # the final network on the test half (no stage selects on it)
    extracted: dict[str, float]       # the extracted, BN-recalibrated subnet: val_top1, test_top1
    optimizer: str
    config: FinetuneConfig
    kd: bool
    joint_exits: bool
    seed: int
    split: dict[str, Any]             # split seed, where it came from, image counts
    history: list[dict[str, Any]]
    exit_test_top1: dict[int, float] = field(default_factory=dict)  # joint exits: every exit's test accuracy
    exit_heads_path: Path | None = None
    wall_s: float = 0.0               # this call's wall time

    def to_dict(self) -> dict[str, Any]:
        return {"out_dir": str(self.out_dir), "model": str(self.model_path), "arch_id": self.arch_id,
                "epochs": self.epochs, "val_top1": self.val_top1, "test_top1": self.test_top1,
                "extracted": dict(self.extracted), "optimizer": self.optimizer, "lr": self.config.lr,
                "kd": self.kd, "joint_exits": self.joint_exits, "seed": self.seed, "split": dict(self.split),
                "exit_test_top1": {str(k): v for k, v in self.exit_test_top1.items()},
                "exit_heads": None if self.exit_heads_path is None else str(self.exit_heads_path),
                "config": self.config.to_dict(), "wall_s": round(self.wall_s, 3), "history": self.history}


def finetune(supernet: str | Path, arch: Arch | str, data: str | Path | ImageDataset, *, out: str | Path,
             preset: str = "quick", kd: bool = False, joint_exits: bool = False, seed: int = 0,
             resume: bool = False, overrides: Mapping[str, Any] | None = None, progress: bool = False,
             device: str = "cpu", split_seed: int | None = None, cache_dir: Path | None = None,
             on_epoch: Callable[[dict[str, Any]], None] | None = None) -> FinetuneResult:
    """NATv2 post-processing of `arch` (an Arch or an arch id) extracted from `supernet` (a supernet.pt).

    Step 1 trains on the super-network's training split, validating after each epoch, until `patience` epochs
    bring no better validation accuracy (or `max_epochs`); step 2 retrains the extracted weights on train + val
    for the best epoch count. The test half of the held-out images is scored at the end only. `kd` distils from
    the super-network's largest subnet (ENS-KD over its exits for early-exit ones); `joint_exits` re-attaches the
    exits of the subnet's earlier stages and trains them with it (saved to exit_heads.pt). Writes `out`/model.pt
    (hwnat.models.checkpoint.save_subnet), result.json, log.jsonl and checkpoints/last.pt after every epoch;
    `resume` continues from it (its configuration and seed win). The split seed is the super-network's training
    seed (read from the file or its run's config.json) unless `split_seed` is given.
    """
    t_start = time.perf_counter()
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    out_dir = Path(out)
    last = ftckpt.last_path(out_dir)
    payload = ftckpt.load(last) if resuming(last, out_dir, resume, "fine-tuning") else None
    cfg = load_config(preset, overrides)
    if payload is not None:
        stored = FinetuneConfig.from_dict(payload["config"], source=str(last))
        if stored != cfg and overrides:
            log.warning("resuming with the configuration stored in %s, not the one given", last)
        cfg, seed = stored, int(payload["seed"])

    supernet_path = Path(supernet)
    raw = trckpt.load_file(supernet_path)
    net = _load_supernet(supernet_path, raw)
    space = net.space
    arch = resolve_arch(space, arch, float(net.width_mult))
    if joint_exits and not space.variant.early_exit:
        raise ConfigError(f"joint exits need an early-exit super-network (variant ee-…); {str(supernet_path)!r} is "
                          f"variant {space.variant.name!r}")
    dataset = data if isinstance(data, ImageDataset) else load_dataset(data, cache_dir=cache_dir)
    source = str(data) if not isinstance(data, ImageDataset) else data.source
    origin = supernet_origin(supernet_path, raw, split_seed, seed)
    fdata = finetune_data(dataset, origin, space.num_classes, source)
    optimizer = resolve_optimizer(cfg.optimizer, space.variant.early_exit)
    aid = arch_id_of(space, arch)
    identity = {"supernet": str(supernet_path), "supernet_sha256": _sha256(supernet_path), "space": space.name,
                "variant": space.variant.name, "space_fingerprint": space.fingerprint,
                "width_mult": float(net.width_mult), "arch_id": aid, "arch": arch.to_dict(), "kd": bool(kd),
                "joint_exits": bool(joint_exits), "dataset": source, "num_images": len(dataset),
                "split_seed": origin.split_seed, "val": origin.val}
    cursor = Cursor()
    if payload is not None:
        ftckpt.check_identity(payload["identity"], identity, last)
        cursor = Cursor.from_dict(payload["cursor"])
    if joint_exits and arch.exit_stage(space) == 1:
        log.warning("arch %s exits after stage 1: there are no earlier exits to train jointly", aid)

    dev = torch.device(device)
    with _torch_settings(cfg, device):
        teacher = _teacher(net, fdata, cfg, seed, dev) if kd else None
        job = Job(net, arch, fdata, cfg, optimizer, joint_exits, teacher, out_dir, seed, identity, dev, progress,
                  on_epoch)
        out_dir.mkdir(parents=True, exist_ok=True)
        model = FinetuneLoop(job, cursor, payload).run()
        scores = evaluate(model, fdata.test, fdata.eval_transform, arch.resolution, cfg.batch_size, dev,
                          cfg.channels_last)
    assert cursor.stage == DONE and cursor.chosen_epochs is not None and cursor.best_val is not None
    stages = model.exit_stages if isinstance(model, JointExits) else (arch.exit_stage(space),)
    exit_test = {s: acc for s, (acc, _) in zip(stages, scores)} if joint_exits else {}
    split = {"seed": origin.split_seed, "seed_from": origin.seed_from, "val": origin.val, **fdata.counts(),
             "retrain_images": len(fdata.train) + len(fdata.val)}
    result = FinetuneResult(out_dir, out_dir / MODEL_FILE, aid, cursor.chosen_epochs, cursor.best_val, scores[-1][0],
                            {k: cursor.extracted[k] for k in ("val_top1", "test_top1")}, optimizer, cfg, bool(kd),
                            bool(joint_exits), seed, split, cursor.history, exit_test,
                            out_dir / EXIT_HEADS_FILE if isinstance(model, JointExits) else None,
                            time.perf_counter() - t_start)
    _write_outputs(result, model, space, arch, dataset, identity)
    return result


def resolve_arch(space: SearchSpace, arch: Arch | str, width_mult: float) -> Arch:
    """An Arch of `space` from an Arch or an arch id; errors name the value and the super-network's space."""
    if isinstance(arch, str):
        arch = parse_arch_id(space, arch)
    elif not isinstance(arch, Arch):
        raise SpaceError(f"arch must be an Arch or an arch id string, got {type(arch).__name__}")
    try:
        arch = arch.validate(space)
    except SpaceError as exc:
        raise SpaceError(f"{exc} (the super-network's space is {space.name!r} variant {space.variant.name})") from exc
    if float(arch.width_mult) != width_mult:
        raise SpaceError(f"arch width multiplier {arch.width_mult} does not match the super-network's {width_mult}")
    return arch.canonical(space)


def supernet_header(path: str | Path) -> tuple[SearchSpace, float]:
    """The search space (with its class count) and width multiplier of a super-network file, without building it."""
    file = Path(path)
    data = trckpt.load_file(file)
    _check_format(file, data)
    try:
        return SearchSpace.from_dict(data["space"]), float(data["width_mult"])
    except (KeyError, TypeError, ValueError, SpaceError) as exc:
        raise CheckpointError(f"super-network file {str(file)!r} does not describe its space: {exc}") from exc


# -- helpers ------------------------------------------------------------------------------------------
def _check_format(path: Path, data: Mapping[str, Any]) -> None:
    if data.get("format") not in (trckpt.SUPERNET_FORMAT, trckpt.FORMAT):
        raise CheckpointError(f"{str(path)!r} is not an hwnat super-network file (format {data.get('format')!r}); "
                              f"pass the supernet.pt written by hwnat train-supernet")


def _load_supernet(path: Path, data: Mapping[str, Any]) -> OFAMobileNetV3:
    from hwnat.supernet import load_supernet_weights

    _check_format(path, data)
    try:
        net = OFAMobileNetV3(SearchSpace.from_dict(data["space"]), float(data["width_mult"]))
        load_supernet_weights(net, data["state_dict"] if "state_dict" in data else data["model"])
    except (CheckpointError, KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"super-network file {str(path)!r} cannot be loaded: {exc}") from exc
    return net.eval()


def _teacher(net: OFAMobileNetV3, data: Any, cfg: FinetuneConfig, seed: int, device: torch.device) -> Any:
    """The super-network's largest subnet, BN-recalibrated and frozen (all exits for ENS-KD when it has them)."""
    from hwnat.space.arch import max_arch
    from hwnat.training.batches import calibration_batches
    from hwnat.training.distill import build_teacher

    space = net.space
    resolution = max_arch(space, net.width_mult).resolution
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        batches = calibration_batches(data.train, data.train_transform, cfg.batch_size, cfg.bn_calib_batches, seed,
                                      resolution, device, cfg.channels_last)
        return build_teacher(space, net.width_mult, net.state_dict(), tuple(space.exits), batches, device,
                             cfg.channels_last)


def _write_outputs(result: FinetuneResult, model: torch.nn.Module, space: SearchSpace, arch: Arch,
                   dataset: ImageDataset, identity: Mapping[str, Any]) -> None:
    subnet = subnet_of(model).cpu().to(memory_format=torch.contiguous_format).eval()
    metrics = {"val_top1": result.val_top1, "test_top1": result.test_top1, "epochs": result.epochs,
               "extracted_val_top1": result.extracted["val_top1"],
               "extracted_test_top1": result.extracted["test_top1"]}
    if result.exit_test_top1:
        metrics["exit_test_top1"] = {str(k): v for k, v in result.exit_test_top1.items()}
    provenance = {"supernet": identity["supernet"], "supernet_sha256": identity["supernet_sha256"],
                  "finetune": {"config": result.config.to_dict(), "optimizer": result.optimizer, "kd": result.kd,
                               "joint_exits": result.joint_exits, "seed": result.seed, "split": result.split}}
    save_subnet(result.model_path, subnet, SubnetInfo(space, arch, list(dataset.classes), identity["dataset"],
                                                      metrics, provenance))
    if isinstance(model, JointExits) and result.exit_heads_path is not None:
        heads = {k: {n: t.detach().cpu().contiguous() for n, t in h.state_dict().items()}
                 for k, h in model.heads.items()}
        trckpt.atomic_save({"format": EXIT_HEADS_FORMAT, "arch_id": result.arch_id, "heads": heads},
                           result.exit_heads_path)
    atomic_write_json(result.out_dir / RESULT_FILE, {k: v for k, v in result.to_dict().items() if k != "history"},
                      indent=2)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@contextmanager
def _torch_settings(cfg: FinetuneConfig, device: str) -> Iterator[None]:
    """Threads and deterministic algorithms for the run, restored afterwards."""
    threads, det = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    det_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    if cfg.deterministic:
        if device.startswith("cuda"):
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.backends.cudnn.benchmark = False
        torch.use_deterministic_algorithms(True, warn_only=device.startswith("cuda"))
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(det, warn_only=det_warn)

