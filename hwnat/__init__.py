"""hwnat: a hardware-aware deployment compiler for image classifiers."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "build"]


def __getattr__(name: str) -> Any:
    # `hwnat.build(...)` without importing torch or the runtimes when only `hwnat` is imported.
    if name == "build":
        from hwnat.pipeline import build

        return build
    raise AttributeError(f"module 'hwnat' has no attribute {name!r}")
