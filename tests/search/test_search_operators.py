"""Initialisations (NAT, NATv2 depth distribution), canonicalising repair, duplicate elimination."""

from __future__ import annotations

import numpy as np
import pytest
from pymoo.core.population import Population
from pymoo.core.problem import Problem

from hwnat.errors import ConfigError, SpaceError
from hwnat.search.operators import (
    ArchiveDuplicateElimination,
    CanonicalRepair,
    create_init,
    extreme_genomes,
    keys_of,
    list_inits,
    push_zeros,
    search_bounds,
    unique_sample,
)
from hwnat.space import canonicalise, decode, max_arch, min_arch


def depths(space, g: np.ndarray) -> np.ndarray:
    layers = g[:, 2 : 2 + space.num_layers].reshape(len(g), space.num_stages, space.max_depth)
    return (layers > 0).sum(axis=2).ravel()


def test_natv2_depth_distribution(space, bounds) -> None:
    g = create_init("natv2")(space, 6000, np.random.default_rng(0), *bounds)
    share = [np.mean(depths(space, g) == d) for d in (2, 3, 4)]
    assert share == pytest.approx([1 / 3, 2 / 9, 4 / 9], abs=0.015)


def test_nat_init_is_biased_deep_and_pushes_zeros(space, bounds) -> None:
    g = create_init("nat")(space, 6000, np.random.default_rng(0), *bounds)
    share = [np.mean(depths(space, g) == d) for d in (2, 3, 4)]
    assert share == pytest.approx([0.01, 0.18, 0.81], abs=0.02)


def test_push_zeros_keeps_active_genes_in_order(space) -> None:
    g = np.zeros(space.genome_length, dtype=np.int64)
    g[2:6] = [3, 0, 7, 0]  # stage 1: layer 2 skipped, layer 3 present
    g[6:10] = [0, 5, 0, 2]
    pushed = push_zeros(space, g)[0]
    assert pushed[2:6].tolist() == [3, 7, 0, 0]
    assert pushed[6:10].tolist() == [5, 2, 0, 0]


@pytest.mark.parametrize("name", list_inits())
def test_inits_give_valid_canonical_genomes_within_bounds(space, bounds, name) -> None:
    lo, hi = bounds
    g = create_init(name)(space, 500, np.random.default_rng(1), lo, hi)
    assert ((g >= lo) & (g <= hi)).all()
    assert np.array_equal(canonicalise(space, g), g)
    assert (g[:, 1] == 0).all()  # width fixed to 0.5
    decode(space, g[0]).validate(space)


def test_inits_are_seeded(space, bounds) -> None:
    a = create_init("natv2")(space, 50, np.random.default_rng(7), *bounds)
    b = create_init("natv2")(space, 50, np.random.default_rng(7), *bounds)
    assert np.array_equal(a, b)


def test_unknown_init_did_you_mean() -> None:
    with pytest.raises(ConfigError, match="did you mean 'natv2'"):
        create_init("natv3")


def test_bounds_fix_width_and_reject_bad_values(space) -> None:
    lo, hi = search_bounds(space, 1.0, resolutions=(40, 56))
    assert lo[1] == hi[1] == 2
    assert (space.resolutions[lo[0]], space.resolutions[hi[0]]) == (40, 56)
    with pytest.raises(SpaceError, match="width multiplier"):
        search_bounds(space, 0.6)
    with pytest.raises(ConfigError, match="resolutions"):
        search_bounds(space, 0.5, resolutions=(33,))


def test_extremes_are_min_and_max_arch(space, bounds) -> None:
    small, big = extreme_genomes(space, *bounds)
    assert decode(space, small) == min_arch(space, 0.5)
    assert decode(space, big) == max_arch(space, 0.5)


def test_unique_sample_excludes_and_dedups(space, bounds) -> None:
    first = unique_sample(space, "natv2", 200, np.random.default_rng(0), *bounds)
    assert len(set(keys_of(first))) == 200
    more = unique_sample(space, "natv2", 200, np.random.default_rng(0), *bounds, exclude=keys_of(first))
    assert not set(keys_of(more)) & set(keys_of(first))


def test_repair_rounds_clips_and_canonicalises(space, bounds) -> None:
    lo, hi = bounds
    problem = Problem(n_var=len(lo), xl=lo, xu=hi)
    X = np.random.default_rng(0).uniform(lo - 1.5, hi + 1.5, size=(300, len(lo)))
    g = CanonicalRepair(space)._do(problem, X)
    assert g.dtype == np.int64 and ((g >= lo) & (g <= hi)).all()
    assert np.array_equal(canonicalise(space, g), g)


def test_duplicates_eliminated_against_archive(space, bounds) -> None:
    g = unique_sample(space, "natv2", 6, np.random.default_rng(0), *bounds)
    offspring = Population.new(X=np.vstack([g[:3], g[3:4], g[3:4]]).astype(float))
    elim = ArchiveDuplicateElimination(archived=keys_of(g[:2]))
    kept = elim.do(offspring)
    assert keys_of(kept.get("X")) == keys_of(g[2:4])
