"""NATv2 post-processing: two-step fine-tuning of a subnet extracted from a super-network; heavy modules load lazily."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hwnat.finetune.api import FinetuneResult, finetune, resolve_arch, supernet_header
    from hwnat.finetune.config import FinetuneConfig, load_config
    from hwnat.finetune.optimizers import create_optimizer, optimizer_names, register_optimizer
    from hwnat.finetune.presets import preset_names

__all__ = ["FinetuneConfig", "FinetuneResult", "create_optimizer", "finetune", "load_config", "optimizer_names",
           "preset_names", "register_optimizer", "resolve_arch", "supernet_header"]

_WHERE = {
    "FinetuneResult": "api", "finetune": "api", "resolve_arch": "api", "supernet_header": "api",
    "FinetuneConfig": "config", "load_config": "config",
    "create_optimizer": "optimizers", "optimizer_names": "optimizers", "register_optimizer": "optimizers",
    "preset_names": "presets",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"hwnat.finetune.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
