"""TrainConfig: a preset merged with a TOML file's overrides, validated, with errors naming the key."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hwnat.config.fields import Field, check_table
from hwnat.errors import ConfigError, did_you_mean
from hwnat.training.presets import BASE_TRAIN, PHASE_KINDS, preset_data, preset_names

ENS_KD_CHOICES = ("uniform", "up-to-student", "linear")

TRAIN_FIELDS: dict[str, Field] = {
    "batch_size": Field(int, min=1),
    "lr_reference_batch": Field(int, min=1),
    "momentum": Field(float, min=0.0, max=1.0),
    "nesterov": Field(bool),
    "weight_decay": Field(float, min=0.0),
    "label_smoothing": Field(float, min=0.0, max=1.0),
    "augment": Field(str, choices=("cifar", "imagenet", "none")),
    "max_steps_per_epoch": Field(int, min=0),
    "val_max_images": Field(int, min=0),
    "val_random_subnets": Field(int, min=0),
    "bn_calib_batches": Field(int, min=1),
    "ens_kd": Field(str, choices=ENS_KD_CHOICES),
    "threads": Field(int, min=0),
    "channels_last": Field(bool),
    "deterministic": Field(bool),
}
SPECIAL_TRAIN_KEYS = ("resolutions", "val")  # validated by hand (list or "all"; fraction or count)

PHASE_FIELDS: dict[str, Field] = {
    "epochs": Field(int, min=0),
    "lr": Field(float, min=0.0),
    "warmup_epochs": Field(int, min=0),
    "subnets_per_step": Field(int, min=1),
    "kd_ratio": Field(float, min=0.0),
}
PHASE_NAME = re.compile(rf"({'|'.join(PHASE_KINDS)})(-[1-9][0-9]*)?")
TOP_KEYS = ("preset", "train", "phases")


@dataclass(frozen=True)
class PhaseSettings:
    """How one phase trains: epochs, peak learning rate, warm-up epochs, subnets per step, KD ratio."""

    epochs: int
    lr: float
    warmup_epochs: int
    subnets_per_step: int
    kd_ratio: float


@dataclass(frozen=True)
class TrainConfig:
    """Every training setting. `phases` maps a kind or a phase name to (partial) PhaseSettings values."""

    preset: str
    batch_size: int
    lr_reference_batch: int
    momentum: float
    nesterov: bool
    weight_decay: float
    label_smoothing: float
    resolutions: tuple[int, ...] | None
    augment: str
    val: float | int
    max_steps_per_epoch: int
    val_max_images: int
    val_random_subnets: int
    bn_calib_batches: int
    ens_kd: str
    threads: int
    channels_last: bool
    deterministic: bool
    phases: dict[str, dict[str, Any]] = field(default_factory=dict)

    def phase_settings(self, name: str, kind: str) -> PhaseSettings:
        """The kind's settings overridden by the phase's own (e.g. "depth" then "depth-1")."""
        merged = {**self.phases.get(kind, {}), **(self.phases.get(name, {}) if name != kind else {})}
        missing = [key for key in PHASE_FIELDS if key not in merged]
        if missing:
            raise ConfigError(f"phase {name!r}: missing setting(s) {', '.join(missing)} (set them in "
                              f"[phases.{kind}] or [phases.{name}])")
        return PhaseSettings(**merged)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["resolutions"] = "all" if self.resolutions is None else list(self.resolutions)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], source: str = "configuration") -> TrainConfig:
        """Rebuild from `to_dict()` output (as stored in checkpoints), validating every key."""
        data = dict(d)
        preset = data.pop("preset", "custom")
        phases = data.pop("phases", {})
        return _build(str(preset), data, phases, source)


def load_config(preset: str = "quick", path: str | Path | None = None,
                overrides: Mapping[str, Any] | None = None) -> TrainConfig:
    """The named preset, overridden by the TOML file at `path` (its own `preset` key wins over `preset`)
    and then by `overrides` ({"train": {...}, "phases": {...}}, the same layout as the file)."""
    layers: list[tuple[str, Mapping[str, Any]]] = []
    if path is not None:
        file = Path(path)
        try:
            layers.append((str(file), tomllib.loads(file.read_text())))
        except FileNotFoundError as exc:
            raise ConfigError(f"training config {str(file)!r} does not exist") from exc
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"training config {str(file)!r} is not valid TOML: {exc}") from exc
    if overrides:
        layers.append(("overrides", overrides))
    for source, data in layers:
        _check_layout(data, source)
        if "preset" in data:
            preset = data["preset"]
    if preset not in preset_names():
        raise ConfigError(f"unknown training preset {preset!r}{did_you_mean(str(preset), preset_names())}; "
                          f"allowed: {', '.join(preset_names())}")
    base = preset_data(preset)
    train, phases = base["train"], base["phases"]
    source = "preset " + preset
    for source, data in layers:
        train.update(data.get("train", {}))
        for name, values in data.get("phases", {}).items():
            phases[name] = {**phases.get(name, {}), **values}
    return _build(preset, train, phases, " + ".join(["preset " + preset, *(s for s, _ in layers)]))


def _check_layout(data: Mapping[str, Any], source: str) -> None:
    check_table(data, {"preset": Field(str, "")}, source=source, tables=("train", "phases"))
    check_table(data.get("train", {}), {k: Field(f.type, None) for k, f in TRAIN_FIELDS.items()},
                source=source, prefix="train.", tables=SPECIAL_TRAIN_KEYS)
    phases = data.get("phases", {})
    if not isinstance(phases, Mapping):
        raise ConfigError(f"{source}: key 'phases' must be a table of phase tables")
    for name, values in phases.items():
        if not PHASE_NAME.fullmatch(name):
            raise ConfigError(f"{source}: unknown phase {('phases.' + name)!r}{did_you_mean(name, PHASE_KINDS)}; "
                              f"allowed: {', '.join(PHASE_KINDS)}, or one phase of a kind such as depth-1")
        check_table(values, {k: Field(f.type, None) for k, f in PHASE_FIELDS.items()}, source=source,
                    prefix=f"phases.{name}.")


def _build(preset: str, train: Mapping[str, Any], phases: Mapping[str, Any], source: str) -> TrainConfig:
    train = dict(train)
    known = (*TRAIN_FIELDS, *SPECIAL_TRAIN_KEYS)
    for key in train:
        if key not in known:
            raise ConfigError(f"{source}: unknown key {'train.' + key!r}{did_you_mean(key, known)}; "
                              f"allowed keys: {', '.join(sorted(known))}")
    special = {key: train.pop(key, BASE_TRAIN[key]) for key in SPECIAL_TRAIN_KEYS}
    values = check_table(train, {k: Field(f.type, BASE_TRAIN[k], f.choices, f.min, f.max)
                                 for k, f in TRAIN_FIELDS.items()}, source=source, prefix="train.")
    checked_phases: dict[str, dict[str, Any]] = {}
    for name, table in phases.items():
        if not PHASE_NAME.fullmatch(name):
            raise ConfigError(f"{source}: unknown phase {name!r}; allowed: {', '.join(PHASE_KINDS)}")
        checked_phases[name] = {k: PHASE_FIELDS[k].check(v, key=f"phases.{name}.{k}", source=source)
                                for k, v in check_table(table, {k: Field(f.type, None) for k, f in
                                                                PHASE_FIELDS.items()},
                                                        source=source, prefix=f"phases.{name}.").items()
                                if v is not None}
    return TrainConfig(preset=preset, resolutions=_resolutions(special["resolutions"], source),
                       val=_val(special["val"], source), phases=checked_phases, **values)


def _resolutions(value: Any, source: str) -> tuple[int, ...] | None:
    if value == "all" or value is None:
        return None
    if (not isinstance(value, (list, tuple)) or not value
            or any(isinstance(r, bool) or not isinstance(r, int) or r < 8 for r in value)):
        raise ConfigError(f"{source}: key 'train.resolutions' must be \"all\" or a non-empty list of "
                          f"integers ≥ 8, got {value!r}")
    return tuple(sorted({int(r) for r in value}))


def _val(value: Any, source: str) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{source}: key 'train.val' must be a fraction in (0, 1) or an image count, got {value!r}")
    if isinstance(value, float) and not 0.0 < value < 1.0:
        raise ConfigError(f"{source}: key 'train.val' fraction must lie in (0, 1), got {value!r}")
    if isinstance(value, int) and value < 1:
        raise ConfigError(f"{source}: key 'train.val' image count must be ≥ 1, got {value!r}")
    return value
