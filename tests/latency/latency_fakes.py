"""Helpers shared by the latency tests (plain functions; the fixtures that use them are in conftest.py)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from hwnat.config.targets import load_target
from hwnat.latency.identity import TargetIdentity
from hwnat.latency.table import LatencyTable

MakeTable = Callable[..., LatencyTable]


def fake_ms(key: str) -> float:
    """A deterministic pseudo-latency in [0.01, 0.2) ms per unit key."""
    return 0.01 + int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) / 2**32 * 0.19


def fake_identity(name: str = "fake-cpu") -> TargetIdentity:
    from hwnat.backends.base import create_backend

    spec = load_target(name)
    return TargetIdentity.measured(spec, create_backend(spec))
