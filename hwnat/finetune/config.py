"""FinetuneConfig: a preset merged with overrides, validated, with errors naming the key and the allowed values."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from hwnat.config.fields import Field, check_table
from hwnat.errors import ConfigError, did_you_mean
from hwnat.finetune.optimizers import AUTO, optimizer_names
from hwnat.finetune.presets import BASE, preset_data, preset_names

ENS_KD_CHOICES = ("uniform", "up-to-student", "linear")


def _fields() -> dict[str, Field]:
    return {
        "max_epochs": Field(int, min=1),
        "patience": Field(int, min=1),
        "batch_size": Field(int, min=1),
        "optimizer": Field(str, choices=(AUTO, *optimizer_names())),
        "lr": Field(float, min=0.0),
        "momentum": Field(float, min=0.0, max=1.0),
        "nesterov": Field(bool),
        "weight_decay": Field(float, min=0.0),
        "label_smoothing": Field(float, min=0.0, max=1.0),
        "kd_ratio": Field(float, min=0.0),
        "ens_kd": Field(str, choices=ENS_KD_CHOICES),
        "max_steps_per_epoch": Field(int, min=0),
        "val_max_images": Field(int, min=0),
        "bn_calib_batches": Field(int, min=1),
        "threads": Field(int, min=0),
        "channels_last": Field(bool),
        "deterministic": Field(bool),
    }


@dataclass(frozen=True)
class FinetuneConfig:
    """Every fine-tuning setting (see hwnat.finetune.presets.BASE for their meaning)."""

    preset: str
    max_epochs: int
    patience: int
    batch_size: int
    optimizer: str
    lr: float
    momentum: float
    nesterov: bool
    weight_decay: float
    label_smoothing: float
    kd_ratio: float
    ens_kd: str
    max_steps_per_epoch: int
    val_max_images: int
    bn_calib_batches: int
    threads: int
    channels_last: bool
    deterministic: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], source: str = "configuration") -> FinetuneConfig:
        """Rebuild from `to_dict()` output (as stored in checkpoints), validating every key."""
        data = dict(d)
        preset = str(data.pop("preset", "custom"))
        return cls(preset=preset, **_check(data, source))


def load_config(preset: str = "quick", overrides: Mapping[str, Any] | None = None) -> FinetuneConfig:
    """The named preset with `overrides` (flat keys of BASE, e.g. {"max_epochs": 5, "lr": 1e-3}) applied."""
    if preset not in preset_names():
        raise ConfigError(f"unknown fine-tuning preset {preset!r}{did_you_mean(str(preset), preset_names())}; "
                          f"allowed: {', '.join(preset_names())}")
    values = preset_data(preset)
    if overrides:
        check_table(overrides, {k: Field(f.type, None, f.choices, f.min, f.max) for k, f in _fields().items()},
                    source="fine-tuning overrides")
        values.update(overrides)
    return FinetuneConfig(preset=preset, **_check(values, f"fine-tuning preset {preset}"
                                                  + (" + overrides" if overrides else "")))


def _check(values: Mapping[str, Any], source: str) -> dict[str, Any]:
    fields = {k: Field(f.type, BASE[k], f.choices, f.min, f.max) for k, f in _fields().items()}
    return check_table(values, fields, source=source)
