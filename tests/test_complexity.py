"""Complexity: analytic and vectorised counts equal forward-hook counts of the built network, exactly."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

from hwnat.complexity import Complexity, complexity, complexity_many, count_module
from hwnat.complexity.vectorised import tables
from hwnat.errors import SpaceError
from hwnat.models import build_static
from hwnat.space import (
    Arch,
    SearchSpace,
    arch_from_subnet,
    decode,
    encode,
    get_space,
    max_arch,
    min_arch,
    sample_archs,
)
from hwnat.space.genome import gene_bounds
from hwnat.space.spec import VARIANT_NAMES

SPACES = ("ofa-mbv3", "mbv3-small-input")
VARIANTS = tuple(VARIANT_NAMES)
N_ARCHS = 200
FAST_HOOK_ARCHS = {"ofa-mbv3": 12, "mbv3-small-input": 40}
OFA_FAST_RESOLUTIONS = 3

NAT_M1 = {"ks": [3, 3, 3, 3, 3, 5, 5, 3, 5, 5, 5, 5, 5, 3, 3], "e": [3, 3, 3, 4, 4, 4, 4, 3, 4, 3, 3, 6, 6, 6, 6],
          "d": [2, 3, 3, 3, 4], "r": 224, "w": 1.0}

SMALL_INPUT_MIN = {False: Complexity(11_376_896, 552_858), True: Complexity(4_827_392, 73_090)}
SMALL_INPUT_MAX = {False: Complexity(707_588_352, 6_396_570), True: Complexity(784_134_400, 6_746_394)}

CASES = [pytest.param(s, v, id=f"{s}-{v}") for s in SPACES for v in VARIANTS]


def seed_of(space: SearchSpace, tier: int) -> int:
    return 1000 * tier + 10 * SPACES.index(space.name) + VARIANTS.index(space.variant.name)


def hook_count(space: SearchSpace, arch: Arch) -> Complexity:
    torch.manual_seed(0)
    return count_module(build_static(space, arch), (1, 3, arch.resolution, arch.resolution))


def assert_hooks_agree(space: SearchSpace, archs: list[Arch]) -> None:
    for arch in archs:
        assert complexity(space, arch) == hook_count(space, arch), arch


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.mark.parametrize(("name", "variant"), CASES)
def test_vectorised_equals_analytic(name: str, variant: str) -> None:
    space = get_space(name, variant=variant)
    archs = sample_archs(space, N_ARCHS, seed=seed_of(space, 1))
    macs, params = complexity_many(space, np.stack([encode(space, a) for a in archs]))
    assert macs.dtype == params.dtype == np.int64 and macs.shape == params.shape == (N_ARCHS,)
    expected = [complexity(space, a) for a in archs]
    assert macs.tolist() == [c.macs for c in expected]
    assert params.tolist() == [c.params for c in expected]


@pytest.mark.parametrize(("name", "variant"), CASES)
def test_analytic_equals_hooks(name: str, variant: str) -> None:
    """A fast sample; ofa-mbv3 at its smallest resolutions (the formula is resolution-generic)."""
    space = get_space(name, variant=variant)
    archs = sample_archs(space, FAST_HOOK_ARCHS[name], seed=seed_of(space, 2))
    if name == "ofa-mbv3":
        archs = [replace(a, resolution=space.resolutions[i % OFA_FAST_RESOLUTIONS]) for i, a in enumerate(archs)]
    assert_hooks_agree(space, archs)


@pytest.mark.slow
@pytest.mark.parametrize(("name", "variant"), CASES)
def test_analytic_equals_hooks_many(name: str, variant: str) -> None:
    """200 random archs per space and variant, at their sampled resolutions."""
    space = get_space(name, variant=variant)
    assert_hooks_agree(space, sample_archs(space, N_ARCHS, seed=seed_of(space, 3)))


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("name", SPACES)
def test_min_and_max_arch_agree_with_hooks(name: str, variant: str) -> None:
    space = get_space(name, variant=variant)
    small, large = complexity(space, min_arch(space)), complexity(space, max_arch(space))
    assert small.macs < large.macs and small.params < large.params
    if name == "mbv3-small-input":
        assert small == hook_count(space, min_arch(space)) and large == hook_count(space, max_arch(space))


@pytest.mark.parametrize("variant", VARIANTS)
def test_known_counts_of_small_input_min_and_max(variant: str) -> None:
    space = get_space("mbv3-small-input", variant=variant)
    assert complexity(space, min_arch(space)) == SMALL_INPUT_MIN[space.variant.early_exit]
    assert complexity(space, max_arch(space)) == SMALL_INPUT_MAX[space.variant.parallel]


def test_nat_m1_matches_published_params() -> None:
    space = get_space("ofa-mbv3")
    arch = arch_from_subnet(space, NAT_M1)
    counted = complexity(space, arch)
    assert counted == Complexity(222_557_600, 6_067_408)
    assert counted == hook_count(space, arch)
    macs, params = complexity_many(space, encode(space, arch)[None])
    assert (macs[0], params[0]) == (counted.macs, counted.params)


def test_count_module_convention_on_a_toy_network() -> None:
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=True), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 8, 5, padding=2, groups=8, bias=False), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(8, 10),
    ).train()
    counted = count_module(model, (2, 3, 16, 16))
    assert counted.macs == 8 * 8 * 8 * 3 * 3 * 3 + 8 * 8 * 8 * 1 * 5 * 5 + 8 * 10
    assert counted.params == (8 * 27 + 8) + 16 + 8 * 25 + (80 + 10)
    assert model.training
    assert counted.to_dict() == {"macs": counted.macs, "params": counted.params}


def test_dense_costs_nothing() -> None:
    base, dense = get_space("ofa-mbv3"), get_space("ofa-mbv3", variant="dense")
    for arch in sample_archs(base, 20, seed=7):
        assert complexity(base, arch) == complexity(dense, arch)


@pytest.mark.parametrize("name", SPACES)
def test_genes_after_the_exit_and_after_a_skip_are_ignored(name: str) -> None:
    space = get_space(name, variant="ee-dense-parallel")
    rng = np.random.default_rng(3)
    lo, hi = gene_bounds(space)
    raw = rng.integers(lo, hi + 1, size=(500, space.genome_length))
    macs, params = complexity_many(space, raw)
    noisy = raw.copy()
    layers = noisy[:, 2 : 2 + space.num_layers].reshape(len(raw), space.num_stages, space.max_depth)
    exit_stage = np.asarray(space.exits)[raw[:, 2 + space.num_layers]]
    after_exit = np.arange(1, space.num_stages + 1)[None, :] > exit_stage[:, None]
    layers[after_exit] = rng.integers(1, len(space.layer_choices) + 1, size=(int(after_exit.sum()), space.max_depth))
    noisy_macs, noisy_params = complexity_many(space, noisy)
    assert (noisy_macs == macs).all() and (noisy_params == params).all()
    for genome, m, p in zip(raw[:50], macs, params):
        assert complexity(space, decode(space, genome)) == Complexity(int(m), int(p))


def test_complexity_many_accepts_one_genome_and_rejects_bad_ones() -> None:
    space = get_space("mbv3-small-input", variant="parallel")
    genome = encode(space, max_arch(space))
    macs, params = complexity_many(space, genome)
    assert macs.shape == (1,) and Complexity(int(macs[0]), int(params[0])) == complexity(space, max_arch(space))
    with pytest.raises(SpaceError, match="genome length"):
        complexity_many(space, genome[None, :-1])
    bad = genome.copy()
    bad[-1] = len(space.branch_masks)
    with pytest.raises(SpaceError, match="outside"):
        complexity_many(space, bad[None])


def test_tables_are_cached_and_read_only() -> None:
    space = get_space("ofa-mbv3", variant="ee-parallel")
    assert tables(space) is tables(get_space("ofa-mbv3", variant="ee-parallel"))
    with pytest.raises(ValueError):
        tables(space).layers[0, 0, 0, 0, 1, 0] = 1
