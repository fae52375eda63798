"""Settings files: target specs (targets/*.toml) and the field checks they share."""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "TargetSpec": "hwnat.config.targets",
    "TimingSpec": "hwnat.config.targets",
    "RemoteSpec": "hwnat.config.targets",
    "load_target": "hwnat.config.targets",
    "list_targets": "hwnat.config.targets",
    "targets_dir": "hwnat.config.targets",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    # Lazy so that hwnat.backends.registry can import hwnat.config.fields without a cycle.
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)
