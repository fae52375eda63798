"""Runtime backends; this package imports only the registry, never a runtime."""

from hwnat.backends.registry import (
    RuntimeInfo,
    get_runtime,
    register_runtime,
    runtime_names,
    target_availability,
)

__all__ = ["RuntimeInfo", "get_runtime", "register_runtime", "runtime_names", "target_availability"]
