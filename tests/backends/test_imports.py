"""Importing a backend module imports no runtime: each one imports its runtime when it is used."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hwnat.backends.registry import get_runtime, runtime_names

RUNTIME_MODULES = {"onnxruntime", "openvino", "tensorrt", "cuda", "torch"}


@pytest.mark.parametrize("runtime", runtime_names())
def test_backend_module_imports_no_runtime(runtime: str) -> None:
    module = get_runtime(runtime).backend.partition(":")[0]
    code = f"import sys, {module}; print(sorted({{m.split('.')[0] for m in sys.modules}} & {RUNTIME_MODULES!r}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"
