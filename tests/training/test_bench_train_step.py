"""tools/bench_train_step.py: every variant timed, speeds relative to the quick preset's setting, bad flags refused."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest


def test_every_variant_is_timed_against_the_reference(tool: Callable[[str], ModuleType], tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    bench = tool("bench_train_step")
    out = tmp_path / "steps.json"
    assert bench.main(["--batch", "2", "--batch-sizes", "4", "--rounds", "2", "--steps", "1", "--warmup", "0",
                       "--threads", "1", "--baselines", "mbv3-small", "--baseline-widths", "0.5",
                       "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    names = [r["variant"] for r in result["rows"]]
    assert result["reference"] == names[0] == "supernet cl det b2"
    assert {"static nchw nondet b2", "supernet cl det b4", "mbv3-small-w0.5-r32 cl det b2"} <= set(names)
    assert len(names) == 10
    for row in result["rows"]:
        assert row["steps_timed"] == 2 and row["s_per_step"] > 0
        assert row["images_per_s"] == pytest.approx(row["batch"] / row["s_per_step"])
    assert result["rows"][0]["speed_vs_reference"] == 1.0
    assert "supernet cl det b4" in capsys.readouterr().out


def test_bad_flags_are_refused(tool: Callable[[str], ModuleType]) -> None:
    bench = tool("bench_train_step")
    for argv in (["--batch-sizes", "64,x"], ["--steps", "0"], ["--batch", "0"], ["--baselines", "mbv3-tiny"],
                 ["--baseline-widths", "half"]):
        with pytest.raises(SystemExit):
            bench.parse_args(argv)
