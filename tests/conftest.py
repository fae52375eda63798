"""Shared fixtures and the automatic skip of tests whose hardware or runtime is absent."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from hwnat.backends.registry import Availability, cuda_gpu_present, get_runtime

REPO_ROOT = Path(__file__).resolve().parents[1]

MARKER_CHECKS: dict[str, Callable[[], Availability]] = {
    "gpu": cuda_gpu_present,
    "tensorrt": lambda: get_runtime("tensorrt").availability(),
    "openvino": lambda: get_runtime("openvino").availability(),
}


def pytest_configure(config: pytest.Config) -> None:
    # One intra-op thread per test process (and the subprocesses tests start): `pytest -n 2` on a 2-core machine
    # already runs two processes, and torch's default of one thread per core each made the training tests several
    # times slower than with one thread (oversubscription). Set before torch is imported; tests may still call
    # torch.set_num_threads themselves.
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(var, "1")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    results: dict[str, Availability] = {}
    for item in items:
        for marker, check in MARKER_CHECKS.items():
            if item.get_closest_marker(marker) is None:
                continue
            ok, reason = results.setdefault(marker, check())
            if not ok:
                item.add_marker(pytest.mark.skip(reason=f"{marker}: {reason}"))


@pytest.fixture(autouse=True)
def _no_user_targets_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HWNAT_TARGETS_DIR", raising=False)


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture
def shared_dir() -> Path:
    path = REPO_ROOT.parent / "shared"
    if not path.is_dir():
        pytest.skip(f"no shared folder at {path}")
    return path


def load_tool(name: str) -> ModuleType:
    """tools/<name>.py imported as the module `name` (once; kept in sys.modules)."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "tools" / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="session")
def tool() -> Callable[[str], ModuleType]:
    """load_tool, for tests of the benchmark scripts in tools/."""
    return load_tool
