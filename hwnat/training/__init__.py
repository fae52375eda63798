"""OFAv2 super-network training (extended progressive shrinking); heavy modules load on first use."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hwnat.training.api import (
        PhaseResult,
        TrainResult,
        load_supernet,
        train_supernet,
        training_transform,
    )
    from hwnat.training.config import PhaseSettings, TrainConfig, load_config
    from hwnat.training.phases import PhaseSpec, build_phases, register_phase_kind
    from hwnat.training.presets import preset_names
    from hwnat.training.step import train_step

__all__ = ["PhaseResult", "PhaseSettings", "PhaseSpec", "TrainConfig", "TrainResult", "build_phases",
           "load_config", "load_supernet", "preset_names", "register_phase_kind", "train_step", "train_supernet",
           "training_transform"]

_WHERE = {
    "PhaseResult": "api", "TrainResult": "api", "load_supernet": "api", "train_supernet": "api",
    "training_transform": "api", "train_step": "step",
    "PhaseSettings": "config", "TrainConfig": "config", "load_config": "config",
    "PhaseSpec": "phases", "build_phases": "phases", "register_phase_kind": "phases",
    "preset_names": "presets",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"hwnat.training.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
