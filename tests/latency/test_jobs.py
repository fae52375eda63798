"""Measurement jobs: units alone, or between context layers with a shared reference subtracted."""

from __future__ import annotations

import pytest
import torch

from hwnat.errors import ConfigError
from hwnat.latency.blocks import enumerate_units
from hwnat.latency.jobs import default_mode, plan_jobs
from hwnat.latency.timing import UnitTiming
from hwnat.space import get_space


def timing(ms: float) -> UnitTiming:
    return UnitTiming(ms, ms, ms, 0.0, 10, ms, ms)


def test_alone_jobs_are_the_units() -> None:
    units = enumerate_units(get_space("mbv3-small-input"), [0.5], [32])
    plan = plan_jobs(units + units[:3], "alone")
    assert [j.key for j in plan.jobs] == [u.key for u in units]
    entries = plan.entries({u.key: timing(i + 1.0) for i, u in enumerate(units)})
    assert entries[units[4].key].p10_ms == 5.0


def test_context_jobs_share_references_and_subtract_them() -> None:
    units = enumerate_units(get_space("mbv3-small-input", variant="dense-parallel"), [0.5], [40])
    plan = plan_jobs(units, "context")
    ctx = [j for j in plan.jobs if j.key.startswith("ctx:")]
    refs = [j for j in plan.jobs if j.key.startswith("ref:")]
    assert len(ctx) == len(units) and 0 < len(refs) < len(units) / 10
    assert any(j.key.startswith("ref:img") for j in refs) and any("->logits" in j.key for j in refs)
    timings = {j.key: timing(1.0 if j.key.startswith("ref:") else 1.25) for j in plan.jobs}
    timings[ctx[0].key] = timing(0.5)  # noise below the reference clamps at zero
    entries = plan.entries(timings)
    assert entries[units[0].key].p10_ms == 0.0
    assert {e.p10_ms for e in list(entries.values())[1:]} == {0.25}
    del timings[refs[0].key]
    with pytest.raises(ConfigError, match="have no timing"):
        plan.entries(timings)


def test_context_models_keep_the_unit_shapes() -> None:
    units = enumerate_units(get_space("mbv3-small-input", variant="dense-parallel"), [0.5], [40])
    plan = plan_jobs(units, "context")
    by_key = {u.key: u for u in units}
    for job in plan.jobs[::25]:
        out = job.build()(torch.zeros(job.input_shape))
        if job.key.startswith("ctx:"):
            assert tuple(out.shape) == by_key[job.key.removeprefix("ctx:")].output_shape


def test_modes_and_defaults() -> None:
    assert default_mode("ort") == "alone" and default_mode("openvino") == "context"
    with pytest.raises(ConfigError, match="unknown unit timing mode 'inline'"):
        plan_jobs([], "inline")
