"""Search spaces, archs, NAT genomes (encode/decode/canonicalise), arch ids and net.subnet files."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from hwnat.errors import SpaceError
from hwnat.space import (
    Arch,
    arch_from_subnet,
    arch_id,
    canonicalise,
    decode,
    encode,
    gene_bounds,
    get_space,
    list_spaces,
    make_divisible,
    max_arch,
    min_arch,
    parse_arch_id,
    read_subnet,
    sample_archs,
    subnet_from_arch,
    write_subnet,
)
from hwnat.space.spec import VARIANT_NAMES

NAT_M1 = json.loads((Path(__file__).parent / "fixtures" / "natnets" / "NAT-M1.subnet").read_text())


def test_presets_and_ofa_layout():
    assert {"ofa-mbv3", "mbv3-small-input"} <= set(list_spaces())
    ofa = get_space("ofa-mbv3")
    assert ofa.resolutions == tuple(range(128, 257, 4)) and ofa.width_mults == (1.0, 1.2)
    assert [s.width for s in ofa.stages] == [24, 40, 80, 112, 160]
    assert [s.stride for s in ofa.stages] == [2, 2, 2, 1, 2]
    assert [s.act for s in ofa.stages] == ["relu", "relu", "hswish", "hswish", "hswish"]
    assert [s.se for s in ofa.stages] == [False, True, False, True, True]
    assert ofa.num_classes == 1000 and ofa.genome_length == 22
    assert ofa.widths(1.2)["stages"] == (32, 48, 96, 136, 192)
    assert ofa.widths(1.2)["final_expand"] == 1152 and ofa.widths(1.2)["feature_mix"] == 1536
    with pytest.raises(SpaceError, match="did you mean 'ofa-mbv3'"):
        get_space("ofa_mbv3")


def test_make_divisible_follows_ofa():
    assert [make_divisible(v) for v in (16 * 1.2, 24 * 1.2, 112 * 1.2, 40 * 0.5, 3)] == [24, 32, 136, 24, 8]


def test_fingerprint_tracks_shape_not_name():
    a = get_space("ofa-mbv3")
    assert a.fingerprint == get_space("ofa-mbv3").fingerprint
    assert replace(a, name="other", description="x").fingerprint == a.fingerprint
    assert a.with_classes(10).fingerprint != a.fingerprint
    assert a.with_variant("dense").fingerprint != a.fingerprint
    assert len({get_space("ofa-mbv3", variant=v).fingerprint for v in VARIANT_NAMES}) == len(VARIANT_NAMES)


def test_space_size_counts_canonical_archs():
    ofa = get_space("ofa-mbv3")
    assert ofa.size() == 33 * 2 * (9**2 + 9**3 + 9**4) ** 5
    ee = get_space("ofa-mbv3", variant="ee-parallel")
    stage = 9**2 + 9**3 + 9**4
    assert ee.size() == 33 * 2 * 4 * sum(stage**n for n in range(1, 6))


def test_nat_m1_encodes_like_nat():
    ofa = get_space("ofa-mbv3")
    arch = arch_from_subnet(ofa, NAT_M1)
    g = encode(ofa, arch)
    assert len(g) == 22
    assert g[0] == ofa.resolutions.index(224) and g[1] == 0
    assert "".join(map(str, g[2:])) == "11001440551052208877"  # NAT's released net.encoding, layer genes
    assert decode(ofa, g) == arch
    assert arch_id(ofa, arch) == "r224-w1.0-11-144-551-522-8877"


@pytest.mark.parametrize("variant", list(VARIANT_NAMES))
def test_genome_and_id_round_trip(variant):
    space = get_space("ofa-mbv3", variant=variant)
    lo, hi = gene_bounds(space)
    assert len(lo) == space.genome_length == 22 + space.variant.early_exit + space.variant.parallel
    for arch in sample_archs(space, 100, seed=3) + [max_arch(space), min_arch(space)]:
        g = encode(space, arch)
        assert np.all((lo <= g) & (g <= hi))
        assert decode(space, g) == arch
        assert parse_arch_id(space, arch_id(space, arch)) == arch


def test_canonicalise_zeroes_after_skip_and_after_exit():
    space = get_space("ofa-mbv3", variant="ee-base")
    g = np.zeros(space.genome_length, dtype=np.int64)
    g[2:22] = [1, 2, 0, 5, 3, 3, 3, 3, 4, 4, 4, 0, 9, 9, 9, 9, 7, 7, 7, 7]
    g[22] = 2  # exit after stage 3
    c = canonicalise(space, g)
    assert list(c[2:22]) == [1, 2, 0, 0, 3, 3, 3, 3, 4, 4, 4, 0, 1, 1, 0, 0, 1, 1, 0, 0]
    assert np.array_equal(canonicalise(space, c), c)
    batch = canonicalise(space, np.stack([g, g]))
    assert batch.shape == (2, space.genome_length) and np.array_equal(batch[1], c)
    arch = decode(space, g)
    assert arch.exit == 3 and arch.depths == (2, 4, 3, 2, 2)


def test_canonicalise_required_layers():
    space = get_space("ofa-mbv3")
    g = encode(space, max_arch(space))
    g[3] = 0  # stage 1, layer 2 is required
    with pytest.raises(SpaceError, match="stage 1 layer 2 is required"):
        canonicalise(space, g)
    assert canonicalise(space, g, fill_required=4)[3] == 4
    g[3] = 10
    with pytest.raises(SpaceError, match=r"gene 3 = 10 is outside \[1, 9\]"):
        canonicalise(space, g)
    with pytest.raises(SpaceError, match="genome length 5"):
        decode(space, np.zeros(5, dtype=np.int64))


def test_sampling_is_seeded_and_covers_choices():
    space = get_space("mbv3-small-input", variant="ee-parallel")
    assert sample_archs(space, 20, seed=1) == sample_archs(space, 20, seed=1)
    assert sample_archs(space, 20, seed=1) != sample_archs(space, 20, seed=2)
    archs = sample_archs(space, 300, seed=0)
    assert {a.resolution for a in archs} == set(space.resolutions)
    assert {d for a in archs for d in a.depths} == set(space.depths)
    assert {a.exit_stage(space) for a in archs} == set(space.exits)
    assert {a.branches for a in archs} == set(space.branch_masks)


def test_arch_validation_names_the_value():
    space = get_space("ofa-mbv3")
    arch = max_arch(space)
    with pytest.raises(SpaceError, match=r"resolution 250 .* allowed: \[128"):
        replace(arch, resolution=250).validate(space)
    with pytest.raises(SpaceError, match="stage 2 depth 5"):
        replace(arch, kernels=(arch.kernels[0], (7,) * 5, *arch.kernels[2:]),
                expands=(arch.expands[0], (6,) * 5, *arch.expands[2:])).validate(space)
    with pytest.raises(SpaceError, match="exit 3"):
        replace(arch, exit=3).validate(space)
    with pytest.raises(SpaceError, match="branch mask 3"):
        replace(arch, branches=3).validate(space)
    with pytest.raises(SpaceError, match="cannot parse arch id"):
        parse_arch_id(space, "r224-wide-11")
    assert Arch.from_dict(arch.to_dict()) == arch


def test_subnet_files_both_layouts(tmp_path):
    space = get_space("ofa-mbv3")
    arch = arch_from_subnet(space, NAT_M1)
    assert arch.depths == (2, 3, 3, 3, 4) and arch.kernels[4] == (5, 5, 3, 3)
    full = {"ks": [], "e": [], "d": NAT_M1["d"], "r": 224, "w": 1.0}
    for ks, es in zip(arch.kernels, arch.expands):
        full["ks"] += list(ks) + [7] * (4 - len(ks))
        full["e"] += list(es) + [6] * (4 - len(es))
    assert arch_from_subnet(space, full) == arch  # OFA's set_active_subnet layout: every layer slot
    path = write_subnet(tmp_path / "net.subnet", space, arch)
    assert json.loads(path.read_text()) == subnet_from_arch(space, arch) == NAT_M1
    assert read_subnet(path, space) == arch
    ee = get_space("mbv3-small-input", variant="ee-parallel")
    a = sample_archs(ee, 1, seed=4)[0]
    assert read_subnet(write_subnet(tmp_path / "ee.subnet", ee, a), ee) == replace(a, exit=a.exit_stage(ee)).canonical(ee)


@pytest.mark.parametrize("cfg, message", [
    ({"e": [3], "d": [2] * 5, "r": 224}, "missing key"),
    ({"ks": [3] * 10, "e": [3] * 9, "d": [2] * 5, "r": 224}, "'e' has 9"),
    ({"ks": [3] * 11, "e": [3] * 11, "d": [2] * 5, "r": 224}, "expected sum"),
    ({"ks": [3] * 10, "e": [3] * 10, "d": [2] * 4, "r": 224}, "'d' has 4 stages"),
    ({"ks": [3] * 10, "e": [3] * 10, "d": [2] * 5}, "missing key 'r'"),
    ({"ks": [3] * 10, "e": [3] * 10, "d": [2] * 5, "r": 224, "w": 1.1}, "width multiplier 1.1"),
    ({"ks": "3", "e": [3] * 10, "d": [2] * 5, "r": 224}, "'ks' must be a list of integers"),
])
def test_bad_subnet_files(cfg, message):
    with pytest.raises(SpaceError, match=message):
        arch_from_subnet(get_space("ofa-mbv3"), cfg)
