"""Phase registry: OFAv2's order per variant, each phase's choices, channel sorting, restricted sampling."""

from __future__ import annotations

import numpy as np
import pytest

from hwnat.space import get_space
from hwnat.space.spec import VARIANT_NAMES
from hwnat.training.config import load_config
from hwnat.training.phases import build_phases, ranked_arch, sample_phase_arch


def names(variant: str) -> list[str]:
    return [p.name for p in build_phases(get_space("mbv3-small-input", variant=variant), load_config("quick"))]


def test_order_follows_ofav2():
    tail = ["depth-1", "depth-2", "expand-1", "expand-2"]
    assert names("base") == ["teacher", "kernel", *tail]
    assert names("dense") == ["teacher", "kernel", *tail]
    assert names("parallel") == ["teacher", "kernel", "level", *tail]
    assert names("ee-base") == ["teacher", "kernel", "height-1", "height-2", "height-3", "height-4", *tail]
    assert names("ee-dense-parallel") == ["teacher", "kernel", "level", "height-1", "height-2", "height-3",
                                          "height-4", *tail]


def test_choices_grow_as_in_ofa():
    sp = get_space("mbv3-small-input", variant="ee-parallel")
    phases = {p.name: p for p in build_phases(sp, load_config("quick"))}
    assert phases["teacher"].choices.kernel_sizes == (7,) and phases["teacher"].choices.exits == (5,)
    assert phases["kernel"].choices.kernel_sizes == (3, 5, 7) and phases["kernel"].choices.depths == (4,)
    assert phases["level"].choices.branch_masks == (1, 3, 5, 7)
    assert [phases[f"height-{i}"].choices.exits for i in range(1, 5)] == [
        (4, 5), (3, 4, 5), (2, 3, 4, 5), (1, 2, 3, 4, 5)]
    assert phases["depth-1"].choices.depths == (3, 4) and phases["depth-2"].choices.depths == (2, 3, 4)
    assert phases["expand-1"].choices.expand_ratios == (4, 6) and phases["expand-1"].sort_expand_stage == 1
    assert phases["expand-2"].choices.expand_ratios == (3, 4, 6) and phases["expand-2"].sort_expand_stage == 2
    assert all(p.sort_expand_stage is None for n, p in phases.items() if not n.startswith("expand"))


@pytest.mark.parametrize("variant", sorted(VARIANT_NAMES))
def test_sampling_stays_inside_each_phase(variant):
    sp = get_space("mbv3-small-input", variant=variant)
    rng = np.random.default_rng(0)
    for phase in build_phases(sp, load_config("smoke")):
        c = phase.choices
        for _ in range(20):
            arch = sample_phase_arch(sp, c, rng, 0.5, 32)
            stop = arch.exit_stage(sp)
            assert stop in c.exits and arch.branches in c.branch_masks
            for ks, es in zip(arch.kernels[:stop], arch.expands[:stop]):
                assert len(ks) in c.depths and set(ks) <= set(c.kernel_sizes) and set(es) <= set(c.expand_ratios)
        small = ranked_arch(sp, c, 0.5, (32, 40), "smallest")
        large = ranked_arch(sp, c, 0.5, (32, 40), "largest")
        assert small.resolution == 32 and large.resolution == 40 and large.exit is None


def test_settings_reach_the_phases():
    sp = get_space("mbv3-small-input")
    cfg = load_config("smoke", overrides={"phases": {"depth-2": {"epochs": 4, "subnets_per_step": 3}}})
    phases = {p.name: p for p in build_phases(sp, cfg)}
    assert phases["depth-2"].epochs == 4 and phases["depth-2"].settings.subnets_per_step == 3
    assert phases["depth-1"].epochs == 1
