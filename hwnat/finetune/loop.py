"""The two-step loop: train with early stopping to pick the epoch count, then retrain on train + val; resumable."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hwnat.data.dataset import ImageDataset
from hwnat.data.splits import stratified_order
from hwnat.finetune import checkpoint as ftckpt
from hwnat.finetune.checkpoint import DONE, RETRAIN, SELECT, Cursor
from hwnat.finetune.config import FinetuneConfig
from hwnat.finetune.data import FinetuneData, Transform
from hwnat.finetune.optimizers import create_optimizer
from hwnat.finetune.student import build_student, exit_logits, exit_stages
from hwnat.io import atomic_write_jsonl
from hwnat.progress import progress_bar
from hwnat.space.arch import Arch
from hwnat.supernet import OFAMobileNetV3, recalibrate_bn
from hwnat.training.batches import ShardedLoader, calibration_batches, prepare
from hwnat.training.checkpoint import rng_state, set_rng_state
from hwnat.training.distill import Teacher, distillation_loss

log = logging.getLogger("hwnat.finetune")

LOG_FILE = "log.jsonl"
STAGE_INDEX = {SELECT: 1, RETRAIN: 2}
STAGE_TITLE = {SELECT: "step 1: train, early stopping", RETRAIN: "step 2: retrain on train+val"}


@dataclass
class Job:
    """Everything one fine-tuning run holds: what it trains, on what, how, and where it writes."""

    supernet: OFAMobileNetV3
    arch: Arch
    data: FinetuneData
    config: FinetuneConfig
    optimizer: str
    joint_exits: bool
    teacher: Teacher | None
    out: Path
    seed: int
    identity: dict[str, Any]
    device: torch.device
    progress: bool = False
    on_epoch: Callable[[dict[str, Any]], None] | None = None

    @property
    def exit_stage(self) -> int:
        return self.arch.exit_stage(self.supernet.space)


def stage_seed(seed: int, stage: str) -> int:
    """The seed of one step's data order, augmentation and dropout (independent of the other step's)."""
    return int(np.random.SeedSequence([seed, STAGE_INDEX[stage]]).generate_state(1, np.uint64)[0] >> 1)


class FinetuneLoop:
    """Runs (or resumes from `payload`) the steps a Cursor has left; `run()` returns the final network."""

    def __init__(self, job: Job, cursor: Cursor, payload: dict[str, Any] | None = None) -> None:
        self.job = job
        self.cursor = cursor
        self.payload = payload
        cfg = job.config
        val = job.data.val
        if cfg.val_max_images and cfg.val_max_images < len(val):  # a fixed, class-stratified subset
            val = val.subset(np.sort(stratified_order(val.labels, job.seed)[: cfg.val_max_images]))
        self.val = val

    def run(self) -> nn.Module:
        if self.cursor.stage == SELECT:
            self._select()
        if self.cursor.stage == RETRAIN:
            return self._retrain()
        assert self.payload is not None and "model" in self.payload, "a finished run's checkpoint holds its weights"
        model = self._fresh(self.job.data.train)
        model.load_state_dict(self.payload["model"])
        return model

    # -- the two steps ------------------------------------------------------------------------------
    def _select(self) -> None:
        job, cursor, cfg = self.job, self.cursor, self.job.config
        model, optimizer = self._start(SELECT, job.data.train)
        if not cursor.extracted:
            t0 = time.perf_counter()
            val_acc, val_loss = self._evaluate(model, self.val)[-1]
            test_acc, _ = self._evaluate(model, job.data.test)[-1]
            cursor.extracted = {"val_top1": val_acc, "val_loss": val_loss, "test_top1": test_acc}
            cursor.best_val, cursor.best_val_loss = val_acc, val_loss
            self._record(SELECT, 0, None, 0, 0, 0.0, time.perf_counter() - t0, val_acc, val_loss,
                         epochs=cfg.max_epochs)
        loader = self._loader(SELECT, job.data.train)
        bar = progress_bar(cfg.max_epochs * len(loader), STAGE_TITLE[SELECT], job.progress,
                           initial=cursor.epoch * len(loader))
        try:
            while cursor.stage == SELECT:
                t0 = time.perf_counter()
                loss = self._train_epoch(model, optimizer, loader, cursor.epoch, bar)
                t1 = time.perf_counter()
                val_acc, val_loss = self._evaluate(model, self.val)[-1]
                cursor.epoch += 1
                assert cursor.best_val is not None and cursor.best_val_loss is not None
                if (val_acc, -val_loss) > (cursor.best_val, -cursor.best_val_loss):  # ties: lower loss wins
                    cursor.best_epoch, cursor.best_val, cursor.best_val_loss = cursor.epoch, val_acc, val_loss
                    cursor.since_best = 0
                else:
                    cursor.since_best += 1
                record = self._record(SELECT, cursor.epoch, loss, len(loader), len(job.data.train), t1 - t0,
                                      time.perf_counter() - t1,
                                      val_acc, val_loss, epochs=cfg.max_epochs)
                stop = cursor.since_best >= cfg.patience or cursor.epoch >= cfg.max_epochs
                if stop:
                    cursor.chosen_epochs = cursor.best_epoch
                    cursor.stage, cursor.epoch = RETRAIN, 0
                    log.info("step 1 chose %d epoch(s) (validation top-1 %.4f)", cursor.best_epoch, cursor.best_val)
                self._save(None if stop else model, None if stop else optimizer)
                self._report(record, bar)
        finally:
            bar.close()

    def _retrain(self) -> nn.Module:
        job, cursor = self.job, self.cursor
        assert cursor.chosen_epochs is not None
        train_val = job.data.train_val
        model, optimizer = self._start(RETRAIN, train_val)
        loader = self._loader(RETRAIN, train_val)
        total = cursor.chosen_epochs
        bar = progress_bar(total * len(loader), STAGE_TITLE[RETRAIN], job.progress, initial=cursor.epoch * len(loader))
        try:
            while cursor.epoch < total:
                t0 = time.perf_counter()
                loss = self._train_epoch(model, optimizer, loader, cursor.epoch, bar)
                cursor.epoch += 1
                record = self._record(RETRAIN, cursor.epoch, loss, len(loader), len(train_val),
                                      time.perf_counter() - t0, 0.0, epochs=total)
                if cursor.epoch < total:
                    self._save(model, optimizer)
                    self._report(record, bar)
                else:
                    break
        finally:
            bar.close()
        cursor.stage, cursor.epoch = DONE, 0
        self._save(model, None)
        if total:
            self._report(cursor.history[-1], None)
        return model

    # -- pieces -------------------------------------------------------------------------------------
    def _start(self, stage: str, dataset: ImageDataset) -> tuple[nn.Module, torch.optim.Optimizer]:
        """The step's network and optimiser: fresh (extracted, BN-recalibrated) at its first epoch, otherwise
        restored with the RNG states from the checkpoint being resumed."""
        job = self.job
        model = self._fresh(dataset)
        optimizer = create_optimizer(job.optimizer, model, job.config)
        payload, self.payload = self.payload, None
        if self.cursor.epoch > 0 and payload is not None and "model" in payload:
            model.load_state_dict(payload["model"])
            optimizer.load_state_dict(payload["optimizer"])
            set_rng_state(payload["rng"])
        else:
            torch.manual_seed(stage_seed(job.seed, stage))
        return model, optimizer

    def _fresh(self, dataset: ImageDataset) -> nn.Module:
        job, cfg = self.job, self.job.config
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(job.seed)
            model = build_student(job.supernet, job.arch, job.joint_exits).to(job.device)
            if cfg.channels_last:
                model = model.to(memory_format=torch.channels_last)
            recalibrate_bn(model, calibration_batches(dataset, job.data.train_transform, cfg.batch_size,
                                                      cfg.bn_calib_batches, job.seed, job.arch.resolution,
                                                      job.device, cfg.channels_last))
        return model

    def _loader(self, stage: str, dataset: ImageDataset) -> ShardedLoader:
        cfg = self.job.config
        return ShardedLoader(dataset, batch_size=cfg.batch_size, transform=self.job.data.train_transform,
                             seed=stage_seed(self.job.seed, stage), shuffle=True, drop_last=True,
                             max_steps=cfg.max_steps_per_epoch)

    def _train_epoch(self, model: nn.Module, optimizer: torch.optim.Optimizer, loader: ShardedLoader, epoch: int,
                     bar: Any) -> float:
        job, cfg, teacher = self.job, self.job.config, self.job.teacher
        stages = exit_stages(model, job.exit_stage)
        model.train()
        loader.set_epoch(epoch)
        total, count = 0.0, 0
        for x, y in loader:
            x = prepare(x, job.arch.resolution, job.device, cfg.channels_last)
            y = y.to(job.device, non_blocking=True)
            soft = teacher.exit_logits(x) if teacher is not None and cfg.kd_ratio > 0 else None
            optimizer.zero_grad(set_to_none=True)
            losses = []
            for logits, stage in zip(exit_logits(model, x), stages):
                target = teacher.soft_target(soft, cfg.ens_kd, stage) if soft is not None and teacher else None
                losses.append(distillation_loss(logits, y, target, cfg.kd_ratio, cfg.label_smoothing))
            loss = torch.stack(losses).mean()
            loss.backward()
            optimizer.step()
            total += float(loss.detach())
            count += 1
            bar.update(1)
            bar.set_postfix(loss=f"{total / count:.3f}", refresh=False)
        return total / max(1, count)

    @torch.no_grad()
    def _evaluate(self, model: nn.Module, dataset: ImageDataset) -> list[tuple[float, float]]:
        return evaluate(model, dataset, self.job.data.eval_transform, self.job.arch.resolution,
                        self.job.config.batch_size, self.job.device, self.job.config.channels_last)

    def _record(self, stage: str, epoch: int, loss: float | None, steps: int, images: int, train_s: float,
                val_s: float, val_top1: float | None = None, val_loss: float | None = None, *,
                epochs: int) -> dict[str, Any]:
        record: dict[str, Any] = {"event": "epoch", "stage": stage, "epoch": epoch, "epochs": epochs, "steps": steps,
                                  "images": images, "loss": loss, "lr": self.job.config.lr}
        if val_top1 is not None:
            record.update(val_top1=val_top1, val_loss=val_loss, best_epoch=self.cursor.best_epoch)
        record.update(train_s=round(train_s, 3), val_s=round(val_s, 3))
        self.cursor.history.append(record)
        return record

    def _save(self, model: nn.Module | None, optimizer: torch.optim.Optimizer | None) -> None:
        job = self.job
        ftckpt.save(job.out, job.identity, job.config.to_dict(), job.seed, self.cursor,
                    model=None if model is None else model.state_dict(),
                    optimizer=None if optimizer is None else optimizer.state_dict(),
                    rng=rng_state())
        atomic_write_jsonl(job.out / LOG_FILE, self.cursor.history)

    def _report(self, record: dict[str, Any], bar: Any) -> None:
        if self.job.on_epoch is not None:
            self.job.on_epoch(record)
        line = summary(record)
        if self.job.progress and bar is not None:
            bar.write(line, file=sys.stderr)
        elif self.job.progress:
            print(line, file=sys.stderr)
        else:
            log.info("%s", line)


@torch.no_grad()
def evaluate(model: nn.Module, dataset: ImageDataset, transform: Transform, resolution: int, batch_size: int,
             device: torch.device, channels_last: bool) -> list[tuple[float, float]]:
    """(top-1 accuracy, mean cross-entropy) of every exit of `model` on `dataset`, the model's own exit last."""
    was_training = model.training
    model.eval()
    loader = ShardedLoader(dataset, batch_size=max(batch_size, 100), transform=transform, seed=0, shuffle=False,
                           drop_last=False)
    correct: list[int] = []
    losses: list[float] = []
    total = 0
    for x, y in loader:
        outputs = exit_logits(model, prepare(x, resolution, device, channels_last))
        if not correct:
            correct, losses = [0] * len(outputs), [0.0] * len(outputs)
        y = y.to(device)
        for i, logits in enumerate(outputs):
            correct[i] += int((logits.argmax(1) == y).sum())
            losses[i] += float(F.cross_entropy(logits, y, reduction="sum"))
        total += len(y)
    model.train(was_training)
    n = max(1, total)
    return [(c / n, s / n) for c, s in zip(correct, losses)]


def summary(record: dict[str, Any]) -> str:
    step = STAGE_INDEX.get(record["stage"], 0)
    loss = "" if record["loss"] is None else f" loss={record['loss']:.4f}"
    val = "" if "val_top1" not in record else f" val_top1={record['val_top1']:.4f} (best epoch {record['best_epoch']})"
    return (f"[step {step} epoch {record['epoch']}/{record['epochs']}]{loss}{val} "
            f"({record['train_s']:.0f}+{record['val_s']:.0f} s)")
