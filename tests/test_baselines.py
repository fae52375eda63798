"""MobileNetV3-Small/-Large baselines (layer tables, small-input strides, sizes, ONNX) and bench_build's helpers."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch

from hwnat.complexity.analytic import net_cost
from hwnat.complexity.hooks import count_module
from hwnat.errors import ConfigError
from hwnat.models.baselines import (
    BASELINE_WIDTHS,
    baseline_config,
    baseline_id,
    create_baseline,
    get_baseline,
    list_baselines,
)
from hwnat.space.spec import make_divisible

# (kernel, expansion, out, SE, activation, stride) per bneck, as the paper tables them (ImageNet strides).
LARGE_TABLE = [(3, 16, 16, 0, "relu", 1), (3, 64, 24, 0, "relu", 2), (3, 72, 24, 0, "relu", 1),
               (5, 72, 40, 1, "relu", 2), (5, 120, 40, 1, "relu", 1), (5, 120, 40, 1, "relu", 1),
               (3, 240, 80, 0, "hswish", 2), (3, 200, 80, 0, "hswish", 1), (3, 184, 80, 0, "hswish", 1),
               (3, 184, 80, 0, "hswish", 1), (3, 480, 112, 1, "hswish", 1), (3, 672, 112, 1, "hswish", 1),
               (5, 672, 160, 1, "hswish", 2), (5, 960, 160, 1, "hswish", 1), (5, 960, 160, 1, "hswish", 1)]
SMALL_TABLE = [(3, 16, 16, 1, "relu", 2), (3, 72, 24, 0, "relu", 2), (3, 88, 24, 0, "relu", 1),
               (5, 96, 40, 1, "hswish", 2), (5, 240, 40, 1, "hswish", 1), (5, 240, 40, 1, "hswish", 1),
               (5, 120, 48, 1, "hswish", 1), (5, 144, 48, 1, "hswish", 1), (5, 288, 96, 1, "hswish", 2),
               (5, 576, 96, 1, "hswish", 1), (5, 576, 96, 1, "hswish", 1)]
TABLES = {"mbv3-large": (LARGE_TABLE, 960, 1280), "mbv3-small": (SMALL_TABLE, 576, 1024)}
# torchvision's mobilenet_v3_large / _small parameter counts (1000 classes) minus the bias of its first classifier
# Linear (here the feature-mix 1×1 conv, bias-free as in OFA): the layer tables and widths match exactly.
TORCHVISION_PARAMS = {"mbv3-large": 5_483_032 - 1280, "mbv3-small": 2_542_856 - 1024}
# 10 classes at 32 px: params (millions) per width, and the MACs range.
PARAMS_10 = {"mbv3-large": (1.0, 4.4), "mbv3-small": (0.35, 1.6)}


@pytest.fixture(autouse=True)
def _one_thread():  # type: ignore[no-untyped-def]
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_registry_lists_both_and_unknown_names_hint() -> None:
    assert list_baselines() == ["mbv3-large", "mbv3-small"]
    with pytest.raises(ConfigError, match="did you mean 'mbv3-small'"):
        create_baseline("mbv3-smal")
    with pytest.raises(ConfigError, match="width_mult"):
        baseline_config("mbv3-small", width_mult=0)
    with pytest.raises(ConfigError, match="num_classes"):
        baseline_config("mbv3-small", 0)
    assert baseline_id("mbv3-small", 0.75, 32) == "mbv3-small-w0.75-r32"


@pytest.mark.parametrize("name", ["mbv3-large", "mbv3-small"])
def test_layers_follow_the_paper_table(name: str) -> None:
    table, last, mix = TABLES[name]
    imagenet = baseline_config(name, 1000, resolution=224, small_input=False)
    assert len(imagenet.blocks) == len(table) == len(get_baseline(name).bnecks)
    got = [(b.kernel, b.mid, b.cout, int(b.se), b.act, b.stride) for b in imagenet.blocks]
    assert got == table
    assert (imagenet.stem_out, imagenet.stem_stride, imagenet.stem_act) == (16, 2, "hswish")
    assert (imagenet.head.expand, imagenet.head.mix, imagenet.head.act) == (last, mix, "hswish")
    for b in imagenet.blocks:
        assert b.expand == (b.mid != b.cin)
        assert b.residual == (b.stride == 1 and b.cin == b.cout)
        assert b.se_mid == (make_divisible(b.mid // 4) if b.se else 0)  # torchvision's _make_divisible(exp // 4)


@pytest.mark.parametrize("name", ["mbv3-large", "mbv3-small"])
def test_small_input_drops_the_first_two_downsamplings(name: str) -> None:
    imagenet = baseline_config(name, resolution=224, small_input=False)
    small = baseline_config(name, resolution=32)
    strides = [b.stride for b in small.blocks]
    assert small.stem_stride == 1 and math.prod(strides) == 8  # ImageNet: stem 2 × bnecks 16 = 32
    changed = [i for i, (a, b) in enumerate(zip(imagenet.blocks, small.blocks)) if a.stride != b.stride]
    assert changed == ([1] if name == "mbv3-large" else [0])  # the 24-ch stage of -Large, the first bneck of -Small
    features = create_baseline(name).eval().forward_features(torch.zeros(1, 3, 32, 32))
    assert tuple(features.shape[2:]) == (4, 4)


@pytest.mark.parametrize("name", ["mbv3-large", "mbv3-small"])
@pytest.mark.parametrize("width", BASELINE_WIDTHS)
def test_builds_forward_shape_and_sizes(name: str, width: float) -> None:
    model = create_baseline(name, 10, width_mult=width).eval()
    with torch.no_grad():
        assert tuple(model(torch.randn(2, 3, 32, 32)).shape) == (2, 10)
    params = sum(p.numel() for p in model.parameters())
    lo, hi = PARAMS_10[name]
    assert lo * 1e6 * width**2 <= params <= hi * 1e6
    cost = net_cost(model.config)
    assert cost.params == params
    assert count_module(model, (1, 3, 32, 32)) == cost  # analytic MACs agree with forward hooks


@pytest.mark.parametrize("name", ["mbv3-large", "mbv3-small"])
def test_param_count_matches_torchvision_at_1000_classes(name: str) -> None:
    model = create_baseline(name, 1000, width_mult=1.0, resolution=224, small_input=False)
    assert sum(p.numel() for p in model.parameters()) == TORCHVISION_PARAMS[name]


def test_widths_give_increasing_cost() -> None:
    for name in list_baselines():
        costs = [net_cost(baseline_config(name, width_mult=w)) for w in BASELINE_WIDTHS]
        assert all(a.macs < b.macs and a.params < b.params for a, b in itertools.pairwise(costs))


@pytest.mark.parametrize("name", ["mbv3-large", "mbv3-small"])
def test_exports_to_onnx_and_runs_in_onnxruntime(name: str, tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    from hwnat.backends.onnx_export import export_onnx

    torch.manual_seed(0)
    model = create_baseline(name, 10, width_mult=0.5).eval()
    x = torch.randn(1, 3, 32, 32)
    path = export_onnx(model, (1, 3, 32, 32), tmp_path / f"{name}.onnx")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    got = session.run(None, {"input": x.numpy()})[0]
    with torch.no_grad():
        np.testing.assert_allclose(got, model(x).numpy(), atol=1e-4, rtol=1e-4)


# -- tools/bench_build.py helpers -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def bench_build(tool: Callable[[str], ModuleType]) -> ModuleType:
    return tool("bench_build")


def test_spread_budgets_are_geometric_and_strictly_inside(bench_build: ModuleType) -> None:
    spread = bench_build.spread_budgets
    values = spread(0.5, 2.0, 5)
    assert len(values) == 5 and values == sorted(values) and 0.5 < values[0] and values[-1] < 2.0
    ratios = np.diff(np.log(values))
    assert np.allclose(ratios, math.log(4.0) / 6, atol=2e-3)
    assert spread(1.0, 4.0, 1) == [2.0]
    assert spread(1.0, 8.0, 2) == [2.0, 4.0]
    for lo, hi, n in ((1.0, 1.0, 3), (2.0, 1.0, 3), (0.0, 1.0, 3), (1.0, 2.0, 0), (1.0, float("nan"), 2)):
        with pytest.raises(ConfigError, match="--budgets"):
            spread(lo, hi, n)
    with pytest.raises(ConfigError, match="collide"):
        spread(1.0, 1.002, 5)


def test_budgets_flag_takes_a_count_or_latencies(bench_build: ModuleType) -> None:
    parse = bench_build.parse_budgets_arg
    assert parse(None) == 5 and parse("2") == 2
    assert parse("1.5ms, 1.2,2 ms") == [1.2, 1.5, 2.0]
    for bad in ("fast", "1.2,x", "-1"):
        with pytest.raises(ConfigError, match="--budgets"):
            parse(bad)


SIZES = {"p90_ms": 9.9, "macs": 1e6, "params": 1e5}


def test_goals_budget_use_and_dominance(bench_build: ModuleType) -> None:
    check = bench_build.check_goals

    def hw(budget: float, p50: float, top1: float) -> dict:
        return {"target": "t", "kind": "hwnat", "name": f"h{budget}", "budget_ms": budget, "p50_ms": p50,
                "test_top1": top1, **SIZES}

    def base(name: str, p50: float, top1: float) -> dict:
        return {"target": "t", "kind": "baseline", "name": name, "p50_ms": p50, "test_top1": top1, **SIZES}

    rows = [hw(1.0, 0.9, 0.80), hw(2.0, 1.7, 0.90), base("a", 0.5, 0.7), base("b", 1.0, 0.75), base("c", 1.8, 0.9)]
    goals = check(rows)["t"]
    assert goals["meets_budget"] and goals["uses_80pct"] and goals["dominates"]
    assert goals["meets_budget_table_speed"] is None  # no paired pass
    assert goals["baselines"]["a"].startswith("out of range") and goals["baselines_in_range"] == 2
    for row, at_table_speed in zip(rows, (0.85, 2.1)):  # the second over its budget at the table's speed
        row.update(table_speed_p50_ms=at_table_speed, host_slowdown=1.1)
    goals = check(rows)["t"]
    assert goals["meets_budget"] and not goals["meets_budget_table_speed"] and goals["uses_80pct_table_speed"]
    assert goals["host_slowdown"] == pytest.approx(1.1)
    text = bench_build.markdown(rows, check(rows))
    assert "at the table's speed: no" in text and "1.10× as slow" in text
    rows.append(base("d", 2.5, 0.95))
    rows[0]["p50_ms"] = 0.7
    goals = check(rows)["t"]
    assert goals["meets_budget"] and not goals["uses_80pct"] and not goals["dominates"]
    assert goals["baselines"]["d"].startswith("not dominated")
    rows.append({"target": "t", "kind": "hwnat", "budget_ms": 0.1, "error": "infeasible"})
    assert not check(rows)["t"]["meets_budget"]


def test_budget_use_is_rounded_down_in_the_table(bench_build: ModuleType) -> None:
    assert bench_build.used_percent(0.3158, 0.397) == 79.5  # short of 80%: never shown as 80%
    assert bench_build.used_percent(0.7996, 1.0) == 79.9
    assert bench_build.used_percent(0.8, 1.0) == 80.0 and bench_build.used_percent(0.336, 0.336) == 100.0


def test_render_rewrites_the_report_from_bench_json(bench_build: ModuleType, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    rows = [{"target": "t", "kind": "hwnat", "name": "h", "budget_ms": 0.397, "p50_ms": 0.3158, "test_top1": 0.73,
             **SIZES},
            {"target": "t", "kind": "baseline", "name": "b", "family_name": "mbv3-small", "width": 0.5,
             "p50_ms": 0.2, "test_top1": 0.8, **SIZES}]
    run = tmp_path / "bench.json"
    run.write_text(json.dumps({"rows": rows}))
    assert bench_build.main(["--render", str(run), "--out", str(tmp_path / "again")]) == 0
    text = (tmp_path / "again" / "bench.md").read_text()
    assert "| 79.5% |" in text and "uses ≥ 80% of its budget: no" in text and "b: out of range" in text
    assert (tmp_path / "again" / "bench.png").read_bytes().startswith(b"\x89PNG")
    run.write_text("{}")
    assert bench_build.main(["--render", str(run), "--out", str(tmp_path / "again")]) == 2
    assert f"--render: {run} is not a bench.json" in capsys.readouterr().err
    assert bench_build.main(["--render", str(tmp_path / "none.json"), "--out", str(tmp_path / "again")]) == 2
    assert "--render: cannot read" in capsys.readouterr().err


def test_a_bad_config_fails_before_any_work(bench_build: ModuleType, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[finetune]\nmax_epoch = 1\n")
    assert bench_build.main(["--config", str(bad), "--supernet", str(tmp_path / "none.pt"),
                             "--out", str(tmp_path / "out")]) == 2
    assert "[finetune]" in capsys.readouterr().err  # the config's error, not the missing super-network's
    assert not (tmp_path / "out").exists()  # refused before the run folder or any stage


def test_measured_ranges_are_kept_per_table(bench_build: ModuleType, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A headline resumed on another machine profiles its table again under the same file name: the range measured
    on the first machine must not set the budgets on the second, nor one scaled to a table profiled since."""
    import dataclasses
    import json
    from types import SimpleNamespace

    import hwnat.latency.calm
    from hwnat.config.targets import load_target
    from hwnat.latency.table import LatencyTable
    from hwnat.space import get_space

    shipped = LatencyTable.load(Path(__file__).parents[1] / "latency_tables"
                                / "ort-cpu-mbv3-small-input-base-07147a7e.json")
    tables = {}
    for machine in ("first", "second"):
        table = dataclasses.replace(shipped, target=dataclasses.replace(shipped.target, device_name=machine))
        tables[machine] = table.save(tmp_path / machine / "ort-cpu-mbv3-small-input-base-07147a7e.json")
    measured: list[float] = []  # the smallest subnet's p50 of each measurement: 1, 2, ... ms

    def fake_measure(measure: Callable[..., object], policy: object, notify: object) -> tuple[list, None]:
        measured.append(float(len(measured) + 1))
        return [SimpleNamespace(p50_ms=measured[-1]), SimpleNamespace(p50_ms=2 * measured[-1])], None

    monkeypatch.setattr(hwnat.latency.calm, "measure_when_calm", fake_measure)
    facts = SimpleNamespace(space=get_space("mbv3-small-input"), width=0.5, resolutions=(32,))
    _, settings = bench_build.build_settings("smoke", None)
    store = tmp_path / "ranges.json"

    def measured_range(machine: str) -> tuple[float, float]:
        return bench_build.measured_range(load_target("ort-cpu"), facts, str(tables[machine]), settings=settings,
                                          store=store, seed=0, progress=False)

    assert measured_range("first") == (1.0, 2.0)
    assert measured_range("first") == (1.0, 2.0) and len(measured) == 1  # kept: a resumed run reuses it
    assert measured_range("second") == (2.0, 4.0) and len(measured) == 2  # another machine: measured again
    dataclasses.replace(LatencyTable.load(tables["first"]), created="later").save(tables["first"])
    assert measured_range("first") == (3.0, 6.0) and len(measured) == 3  # profiled again: measured again
    assert len(json.loads(store.read_text())) == 3
