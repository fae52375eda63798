"""Block enumeration: every unit of every subnet is enumerated once, with stable keys and working modules."""

from __future__ import annotations

import pytest

from hwnat.latency.blocks import Unit, enumerate_units, unit_counts, units_of
from hwnat.models import net_config
from hwnat.space import get_space, sample_archs
from hwnat.space.spec import VARIANT_NAMES

VARIANTS = tuple(VARIANT_NAMES)


@pytest.mark.parametrize("variant", VARIANTS)
def test_enumeration_covers_every_unit_of_random_archs(variant: str) -> None:
    space = get_space("mbv3-small-input", variant=variant)
    enumerated = {u.key: u for u in enumerate_units(space)}
    assert len(enumerated) == len(enumerate_units(space))  # unique keys
    for arch in sample_archs(space, 200, seed=VARIANTS.index(variant)):
        for unit in units_of(net_config(space, arch)):
            assert enumerated.get(unit.key) == unit, unit.key


def test_units_of_counts_each_call() -> None:
    base, dense = get_space("mbv3-small-input"), get_space("mbv3-small-input", variant="dense")
    arch = sample_archs(base, 1, seed=3)[0]
    plain, with_adds = units_of(net_config(base, arch)), units_of(net_config(dense, arch))
    assert [u.kind for u in plain].count("block") == 1 + sum(arch.depths)
    assert [u.kind for u in with_adds].count("add") == sum(d - 1 for d in arch.depths)
    assert [u.kind for u in plain] == ["stem", *["block"] * (1 + sum(arch.depths)), "head"]


def test_small_input_base_unit_counts_per_width() -> None:
    space = get_space("mbv3-small-input")
    for width in space.width_mults:
        # 5 resolutions × (stem + first block + 5 stages × 2 slot shapes × 9 (k, e) + head)
        assert unit_counts(space, [width]) == {"stem": 5, "block": 455, "add": 0, "head": 5, "total": 465}
    assert unit_counts(space)["total"] == 1295  # the stem and first block are shared by widths 0.75 and 1.0


def test_ee_dense_parallel_counts() -> None:
    space = get_space("mbv3-small-input", variant="ee-dense-parallel")
    assert unit_counts(space, [0.5]) == {"stem": 5, "block": 1805, "add": 25, "head": 25, "total": 1860}


def test_keys_are_stable_and_readable() -> None:
    space = get_space("mbv3-small-input", variant="dense")
    keys = [u.key for u in enumerate_units(space, [0.5], [32])]
    assert keys[:2] == ["stem_i3_o8_k3_s1_hswish@32x32", "mb_i8_o8_k3_s1_m8_relu_noexp_res_b1@32x32"]
    assert "head_i80_e480_m640_c10_hswish@4x4" in keys and "add_c16@32x32" in keys


def test_units_build_export_and_round_trip(tmp_path) -> None:
    import onnx
    import torch

    space = get_space("mbv3-small-input", variant="dense-parallel")
    units = enumerate_units(space, [0.5], [40])
    picks = [next(u for u in units if u.kind == kind) for kind in ("stem", "block", "add", "head")]
    picks.append(next(u for u in units if u.kind == "block" and u.config.branches == 7 and u.config.se))
    for unit in picks:
        assert Unit.from_dict(unit.to_dict()) == unit
        out = unit.build()(torch.zeros(unit.input_shape))
        assert out.shape[0] == unit.input_shape[0]
        model = onnx.load(str(unit.export(tmp_path / f"{unit.kind}.onnx")))
        dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
        assert tuple(dims) == unit.input_shape
