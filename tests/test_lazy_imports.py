"""`import hwnat`, `hwnat --help` and `hwnat targets` import no runtime and no torch (checked in a fresh interpreter)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from hwnat.cli.main import COMMANDS

HEAVY = ("onnxruntime", "openvino", "tensorrt", "torch")

PROBE = """
import json, sys
{code}
heavy = sorted({{m.split(".")[0] for m in sys.modules}} & set({heavy!r}))
print("HEAVY=" + json.dumps(heavy))
"""

RUN_CLI = """
from hwnat.cli.main import cli
try:
    cli.main({args!r}, prog_name="hwnat", standalone_mode=False)
except SystemExit:
    pass
"""


def heavy_modules_after(code: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(code=code, heavy=HEAVY)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    line = next(line for line in result.stdout.splitlines() if line.startswith("HEAVY="))
    return json.loads(line.removeprefix("HEAVY="))


@pytest.mark.parametrize(
    "code",
    [
        "import hwnat",
        "import hwnat.errors",
        "import hwnat.config, hwnat.config.targets",
        "import hwnat.backends",
        "import hwnat.cli.main",
    ],
)
def test_imports_are_light(code: str) -> None:
    assert heavy_modules_after(code) == []


CLI_CALLS = [["--help"], ["--version"], ["targets"], ["targets", "--json"], *([name, "--help"] for name in sorted(COMMANDS))]


@pytest.mark.parametrize("args", CLI_CALLS, ids=" ".join)
def test_cli_is_light(args: list[str]) -> None:
    assert heavy_modules_after(RUN_CLI.format(args=args)) == []


def test_probe_sees_a_heavy_import() -> None:
    assert heavy_modules_after("import onnxruntime") == ["onnxruntime"]
