"""The progressive-shrinking loop: phases → epochs → steps, with distillation, validation and checkpoints."""

from __future__ import annotations

import logging
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hwnat.io import atomic_write_jsonl
from hwnat.progress import progress_bar
from hwnat.space.arch import max_arch
from hwnat.space.spec import SearchSpace
from hwnat.supernet import OFAMobileNetV3
from hwnat.training import checkpoint as ckpt
from hwnat.training.batches import ShardedLoader, calibration_batches, prepare
from hwnat.training.config import TrainConfig
from hwnat.training.distill import Teacher, build_teacher
from hwnat.training.distributed import (
    DistContext,
    barrier,
    broadcast_object,
    sync_buffers,
    wrap_ddp,
)
from hwnat.training.optim import WarmupCosine, make_optimizer
from hwnat.training.phases import PhaseSpec, sample_phase_arch
from hwnat.training.state import BestRecord, TrainState
from hwnat.training.step import train_step
from hwnat.training.validate import EvalData, evaluate_subnets, validation_archs

log = logging.getLogger("hwnat.training")

CHECKPOINT_DIR = "checkpoints"
LOG_FILE = "log.jsonl"


def peak_rss_mb() -> float:
    """Peak resident memory of this process (getrusage maxrss), in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def step_rng(seed: int, phase: int, epoch: int, step: int) -> np.random.Generator:
    """The generator of one training step: same on every rank, independent of history (resume-safe)."""
    return np.random.default_rng([seed, phase, epoch, step])


@dataclass
class Run:
    """Everything a training run holds: the network, its data, its phases, where it writes, who it is."""

    space: SearchSpace
    width_mult: float
    net: OFAMobileNetV3
    config: TrainConfig
    phases: list[PhaseSpec]
    loader: ShardedLoader
    eval_data: EvalData
    resolutions: tuple[int, ...]
    out: Path
    seed: int
    ctx: DistContext
    identity: dict[str, Any]
    progress: bool = True

    @property
    def checkpoint_dir(self) -> Path:
        return self.out / CHECKPOINT_DIR


class Trainer:
    """Runs (or resumes) the phases of a Run; `state` is the cursor saved in every checkpoint."""

    def __init__(self, run: Run, state: TrainState | None = None, resume_payload: dict[str, Any] | None = None,
                 on_epoch: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.run = run
        self.state = state or TrainState()
        self.resume = resume_payload
        self.model = wrap_ddp(run.net, run.ctx)
        self.best_weights: dict[str, dict[str, torch.Tensor]] = {}
        self.on_epoch = on_epoch
        if resume_payload is not None:  # the bests still needed: the current phase's and the previous trained one's
            done = [p.name for p in run.phases[: self.state.phase + 1] if p.name in self.state.best]
            for name in done[-2:]:
                best_file = run.checkpoint_dir / self.state.best[name].file
                self.best_weights[name] = ckpt.load_file(best_file)["state_dict"]

    # -- the loop ---------------------------------------------------------------------------------
    def train(self) -> TrainState:
        run, state = self.run, self.state
        while state.phase < len(run.phases):
            phase = run.phases[state.phase]
            if phase.epochs == 0 or state.epoch >= phase.epochs:
                state.phase, state.epoch = state.phase + 1, 0
                continue
            self._run_phase(phase)
        run.net.set_active_subnet(max_arch(run.space, run.width_mult))
        return state

    def _run_phase(self, phase: PhaseSpec) -> None:
        run, state, net = self.run, self.state, self.run.net
        starting = state.epoch == 0
        if starting and phase.sort_expand_stage is not None:
            net.sort_channels(phase.sort_expand_stage)
        teacher = self._teacher(phase)
        self.best_weights = {k: v for k, v in self.best_weights.items() if k == phase.name}
        settings, steps = phase.settings, len(run.loader)
        global_batch = run.config.batch_size * run.ctx.world_size
        lr = settings.lr * global_batch / run.config.lr_reference_batch
        optimizer = make_optimizer(net, lr, run.config.momentum, run.config.nesterov, run.config.weight_decay)
        schedule = WarmupCosine(optimizer, lr, phase.epochs * steps, settings.warmup_epochs * steps)
        if self.resume is not None:
            if not starting:
                optimizer.load_state_dict(self.resume["optimizer"])
                schedule.load_state_dict(self.resume["scheduler"])
            ckpt.set_rng_state(self.resume["rng"])
            self.resume = None
        archs = validation_archs(run.space, phase.choices, run.width_mult, run.resolutions,
                                 run.config.val_random_subnets, seed=run.seed * 1000 + phase.index)
        bar = progress_bar(phase.epochs * steps, f"phase {phase.index} {phase.name}",
                           run.progress and run.ctx.is_main, initial=state.epoch * steps)
        try:
            while state.epoch < phase.epochs:
                t0 = time.perf_counter()
                loss = self._train_epoch(phase, optimizer, schedule, teacher, bar)
                t1 = time.perf_counter()
                sync_buffers(net, run.ctx)
                val = broadcast_object(evaluate_subnets(net, archs, run.eval_data, run.config.val_max_images),
                                       run.ctx)
                t2 = time.perf_counter()
                state.epoch += 1
                state.loader_epoch += 1
                record = {"event": "epoch", "phase": phase.name, "phase_index": phase.index, "epoch": state.epoch,
                          "epochs": phase.epochs, "steps": steps, "lr_end": schedule.lr, "loss": loss,
                          "val": val, "train_s": round(t1 - t0, 3), "val_s": round(t2 - t1, 3),
                          "peak_rss_mb": round(peak_rss_mb(), 1)}
                if state.epoch == 1:
                    record["archs"] = {k: a.to_dict() for k, a in archs.items()}
                self._update_best(phase, val["largest"], record)
                if state.epoch == phase.epochs:
                    state.phase, state.epoch = state.phase + 1, 0
                state.history.append(record)
                self._save(optimizer, schedule, phase_end=state.epoch == 0)
                if self.on_epoch is not None:
                    self.on_epoch(record)
                if run.ctx.is_main and run.progress:
                    bar.write(_summary(record), file=sys.stderr)
                elif run.ctx.is_main:
                    log.info("%s", _summary(record))
                if state.epoch == 0:
                    break
        finally:
            bar.close()

    def _train_epoch(self, phase: PhaseSpec, optimizer: torch.optim.Optimizer, schedule: WarmupCosine,
                     teacher: Teacher | None, bar: Any) -> float:
        run, net, model = self.run, self.run.net, self.model
        cfg, settings = run.config, phase.settings
        model.train()
        run.loader.set_epoch(self.state.loader_epoch)
        total, count = 0.0, 0
        for step, (x, y) in enumerate(run.loader):
            rng = step_rng(run.seed, phase.index, self.state.epoch, step)
            resolution = int(rng.choice(run.resolutions))
            x = prepare(x, resolution, run.ctx.device, cfg.channels_last)
            y = y.to(run.ctx.device, non_blocking=True)
            archs = [sample_phase_arch(run.space, phase.choices, rng, run.width_mult, resolution)
                     for _ in range(settings.subnets_per_step)]
            step_loss = train_step(net, x, y, archs, optimizer, schedule=schedule, teacher=teacher,
                                   kd_ratio=settings.kd_ratio, label_smoothing=cfg.label_smoothing,
                                   ens_kd=cfg.ens_kd, model=model)
            total += step_loss
            count += 1
            bar.update(1)
            bar.set_postfix(loss=f"{step_loss:.3f}", lr=f"{schedule.lr:.2e}", refresh=False)
        net.set_active_subnet(max_arch(run.space, run.width_mult))
        return total / max(1, count)

    # -- teacher and bests ----------------------------------------------------------------------------
    def _teacher(self, phase: PhaseSpec) -> Teacher | None:
        """The maximal subnet of the previous trained phase's best checkpoint (None for the first phase)."""
        if phase.settings.kd_ratio <= 0:
            return None
        previous = [p for p in self.run.phases[: phase.index] if p.epochs > 0 and p.name in self.best_weights]
        if not previous:
            return None
        source = previous[-1]
        run = self.run
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(run.seed)
            batches = calibration_batches(run.eval_data.train, run.eval_data.train_transform, run.config.batch_size,
                                          max(run.config.bn_calib_batches, len(run.resolutions)), run.seed,
                                          run.resolutions, run.ctx.device, run.config.channels_last)
            teacher = build_teacher(run.space, run.width_mult, self.best_weights[source.name], source.choices.exits,
                                    batches, run.ctx.device, run.config.channels_last)
        log.info("phase %s: teacher = largest subnet of phase %s's best epoch", phase.name, source.name)
        return teacher

    def _update_best(self, phase: PhaseSpec, acc: float, record: dict[str, Any]) -> None:
        best = self.state.best.get(phase.name)
        record["best"] = best is None or acc > best.acc
        if not record["best"]:
            return
        file = f"best-{phase.index}-{phase.name}-e{self.state.epoch}.pt"
        weights = {k: v.detach().to("cpu", copy=True) for k, v in self.run.net.state_dict().items()}
        self.best_weights[phase.name] = weights
        self.state.best[phase.name] = BestRecord(acc, self.state.epoch, file)
        if self.run.ctx.is_main:
            ckpt.atomic_save({"format": ckpt.SUPERNET_FORMAT, **self.run.identity, "phase": phase.name,
                              "epoch": self.state.epoch, "acc": acc, "state_dict": weights},
                             self.run.checkpoint_dir / file)

    # -- checkpoints ------------------------------------------------------------------------------
    def _save(self, optimizer: torch.optim.Optimizer, schedule: WarmupCosine, phase_end: bool) -> None:
        run = self.run
        if run.ctx.is_main:
            payload = {"format": ckpt.FORMAT, "schema_version": ckpt.SCHEMA_VERSION, **run.identity,
                       "config": run.config.to_dict(), "seed": run.seed, "world_size": run.ctx.world_size,
                       "phases": [p.name for p in run.phases], "cursor": self.state.to_dict(),
                       "model": run.net.state_dict(), "optimizer": optimizer.state_dict(),
                       "scheduler": schedule.state_dict(), "rng": ckpt.rng_state()}
            ckpt.atomic_save(payload, run.checkpoint_dir / ckpt.LAST, keep_previous=True)
            if phase_end:
                finished = run.phases[self.state.phase - 1]
                ckpt.atomic_save(payload, run.checkpoint_dir / f"phase-{finished.index}-{finished.name}.pt")
            atomic_write_jsonl(run.out / LOG_FILE, self.state.history)
            self._prune_best_files()
        barrier(run.ctx)

    def _prune_best_files(self) -> None:
        keep = {r.file for r in self.state.best.values()}
        for path in self.run.checkpoint_dir.glob("best-*.pt"):
            if path.name not in keep:
                path.unlink(missing_ok=True)


def _summary(record: dict[str, Any]) -> str:
    val = " ".join(f"{k}={v:.3f}" for k, v in record["val"].items())
    return (f"[{record['phase']} {record['epoch']}/{record['epochs']}] loss={record['loss']:.3f} {val} "
            f"({record['train_s']:.0f}+{record['val_s']:.0f} s)")
