"""OFA / NAT `net.config` reading and writing: reference equality, round trips, NAT naming, errors."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from hwnat.errors import SpaceError
from hwnat.models import MobileNetV3, NetConfig, net_config
from hwnat.models.ofa_format import (
    EXTENSION_KEY,
    from_ofa_config,
    load_ofa_net_config,
    save_ofa_net_config,
    to_ofa_config,
)
from hwnat.space import Arch, get_space, list_spaces, sample_archs
from hwnat.space.spec import VARIANT_NAMES

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "ofa_mbv3_state_dict_layout.json"
WIDTHS = (1.0, 1.2)


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    if not REFERENCE.is_file():
        pytest.skip(f"OFA reference layout not found at {REFERENCE}")
    return json.loads(REFERENCE.read_text())


def k3e3d2(width: float) -> NetConfig:
    """The reference subnet. OFA's model zoo builds its supernets with dropout_rate=0, the space says 0.1."""
    cfg = net_config(get_space("ofa-mbv3"), Arch(224, width, ((3, 3),) * 5, ((3, 3),) * 5))
    return replace(cfg, head=replace(cfg.head, dropout=0.0))


def json_round_trip(d: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(d))


def key_tree(value: Any) -> Any:
    """Every dict's keys in order (dict equality ignores order)."""
    if isinstance(value, dict):
        return [(k, key_tree(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [key_tree(v) for v in value]
    return None


def to_nat_naming(d: dict[str, Any], act: str = "mish") -> dict[str, Any]:
    """OFA's config in NAT's older naming (MobileInvertedResidualBlock / MBInvertedConvLayer, list shortcut
    channels), with every activation replaced by `act`."""
    nat = copy.deepcopy(d)
    for layer in ("first_conv", "final_expand_layer", "feature_mix_layer"):
        nat[layer]["act_func"] = act
    blocks = []
    for block in nat["blocks"]:
        conv = {**block["conv"], "name": "MBInvertedConvLayer", "act_func": act}
        conv.pop("groups")
        shortcut = block["shortcut"]
        if shortcut is not None:
            shortcut = {**shortcut, "in_channels": [shortcut["in_channels"]],
                        "out_channels": [shortcut["out_channels"]]}
        blocks.append({"name": "MobileInvertedResidualBlock", "mobile_inverted_conv": conv, "shortcut": shortcut})
    nat["blocks"] = blocks
    return nat


def n_params(cfg: NetConfig) -> int:
    return sum(p.numel() for p in MobileNetV3(cfg).parameters())


# -- the reference --------------------------------------------------------------------------------


@pytest.mark.parametrize("width", WIDTHS)
def test_to_ofa_config_equals_reference(reference: dict[str, Any], width: float) -> None:
    ours = json_round_trip(to_ofa_config(k3e3d2(width)))
    theirs = reference[f"ofa_mbv3_w{width}_subnet_k3_e3_d2_config"]
    assert ours == theirs
    assert key_tree(ours) == key_tree(theirs)
    assert EXTENSION_KEY not in ours


@pytest.mark.parametrize("width", WIDTHS)
def test_reference_config_reads_back(reference: dict[str, Any], width: float) -> None:
    assert from_ofa_config(reference[f"ofa_mbv3_w{width}_subnet_k3_e3_d2_config"]) == k3e3d2(width)


def test_only_dropout_differs_from_the_space_default(reference: dict[str, Any]) -> None:
    cfg = net_config(get_space("ofa-mbv3"), Arch(224, 1.0, ((3, 3),) * 5, ((3, 3),) * 5))
    ours = json_round_trip(to_ofa_config(cfg))
    theirs = reference["ofa_mbv3_w1.0_subnet_k3_e3_d2_config"]
    assert ours["classifier"].pop("dropout_rate") == cfg.head.dropout == 0.1
    assert theirs["classifier"]["dropout_rate"] == 0
    assert {k: v for k, v in ours.items() if k != "classifier"} == {k: v for k, v in theirs.items()
                                                                     if k != "classifier"}


@pytest.mark.parametrize("width", WIDTHS)
def test_static_model_has_reference_state_dict(reference: dict[str, Any], width: float) -> None:
    cfg = from_ofa_config(reference[f"ofa_mbv3_w{width}_subnet_k3_e3_d2_config"])
    state = {k: list(v.shape) for k, v in MobileNetV3(cfg).state_dict().items()}
    assert state == reference[f"ofa_mbv3_w{width}_subnet_k3_e3_d2_keys"]


# -- round trips ----------------------------------------------------------------------------------


def random_configs() -> list[NetConfig]:
    configs = []
    for i, name in enumerate(list_spaces()):
        for j, variant in enumerate(VARIANT_NAMES):
            space = get_space(name, variant=variant)
            configs += [net_config(space, a) for a in sample_archs(space, 5, seed=100 * i + j)]
    return configs


CONFIGS = random_configs()


def test_round_trip_covers_enough_archs() -> None:
    assert len(CONFIGS) >= 50
    assert any(c.dense for c in CONFIGS) and any(b.branches != 1 for c in CONFIGS for b in c.blocks)
    assert len({len(c.stage_ranges) for c in CONFIGS}) > 1  # early exits


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: f"r{c.resolution}-{len(c.blocks)}blocks")
def test_round_trip(cfg: NetConfig) -> None:
    d = json_round_trip(to_ofa_config(cfg))
    assert from_ofa_config(d, resolution=cfg.resolution) == cfg
    needs_extension = cfg.dense or any(b.branches != 1 for b in cfg.blocks)
    assert (EXTENSION_KEY in d) == needs_extension


def test_stage_ranges_that_widths_do_not_reveal_use_the_extension() -> None:
    cfg = k3e3d2(1.0)
    merged = replace(cfg, stage_ranges=((1, 5), *cfg.stage_ranges[2:]))
    d = json_round_trip(to_ofa_config(merged))
    assert d[EXTENSION_KEY]["stage_ranges"][0] == [1, 5]
    assert from_ofa_config(d) == merged


def test_save_and_load(tmp_path: Path) -> None:
    space = get_space("mbv3-small-input", variant="ee-dense-parallel")
    cfg = net_config(space, sample_archs(space, 1, seed=3)[0])
    path = save_ofa_net_config(tmp_path / "sub" / "net.config", cfg)
    assert load_ofa_net_config(path, resolution=cfg.resolution) == cfg
    assert [p.name for p in path.parent.iterdir()] == ["net.config"]  # no temp file left behind


# -- NAT naming -----------------------------------------------------------------------------------


@pytest.mark.parametrize("width", WIDTHS)
def test_nat_naming_with_mish_loads(width: float) -> None:
    space = get_space("ofa-mbv3")
    for arch in sample_archs(space, 3, seed=7, width_mult=width):
        cfg = net_config(space, arch)
        nat = from_ofa_config(to_nat_naming(json_round_trip(to_ofa_config(cfg))), resolution=arch.resolution)
        assert nat.stem_act == nat.head.act == "mish" and {b.act for b in nat.blocks} == {"mish"}
        assert nat == replace(cfg, stem_act="mish", head=replace(cfg.head, act="mish"),
                              blocks=tuple(replace(b, act="mish") for b in cfg.blocks))
        assert n_params(nat) == n_params(cfg)


def test_nat_m1_prefix_reads_without_mid_channels() -> None:
    """NAT-M1's first blocks: 16→16 e1 (shortcut), 16→24 s2 e3 (mid 48), 24→24 e3 (mid 72, shortcut)."""
    d = to_nat_naming(json_round_trip(to_ofa_config(k3e3d2(1.0))))
    for block in d["blocks"]:
        block["mobile_inverted_conv"].pop("mid_channels")
    cfg = from_ofa_config(d)
    assert [(b.cin, b.cout, b.mid, b.expand, b.residual) for b in cfg.blocks[:3]] == [
        (16, 16, 16, False, True), (16, 24, 48, True, False), (24, 24, 72, True, True)]
    assert cfg.blocks[3].se and cfg.blocks[3].se_mid == 24


# -- errors ---------------------------------------------------------------------------------------


def ofa_dict() -> dict[str, Any]:
    return json_round_trip(to_ofa_config(k3e3d2(1.0)))


def _set(d: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    for key in path[:-1]:
        d = d[key]
    d[path[-1]] = value


def _del(d: dict[str, Any], path: tuple[Any, ...]) -> None:
    for key in path[:-1]:
        d = d[key]
    del d[path[-1]]


@pytest.mark.parametrize(("path", "value", "expected"), [
    (("blocks", 2, "name"), "ResidualBlok", ["blocks[2].name", "'ResidualBlok'", "did you mean 'ResidualBlock'",
                                            "MobileInvertedResidualBlock"]),
    (("blocks", 2, "conv", "name"), "Conv", ["blocks[2].conv.name", "MBConvLayer", "MBInvertedConvLayer"]),
    (("blocks", 2, "shortcut", "name"), "ZeroLayer", ["blocks[2].shortcut.name", "IdentityLayer"]),
    (("blocks", 1, "conv", "act_func"), "relu6", ["blocks[1].conv.act_func", "'relu6'", "h_swish", "mish"]),
    (("first_conv", "act_func"), "swish", ["first_conv.act_func", "h_swish"]),
    (("first_conv", "name"), "Linear", ["first_conv.name", "ConvLayer"]),
    (("classifier", "name"), "ConvLayer", ["classifier.name", "LinearLayer"]),
    (("name",), "ResNet", ["name", "MobileNetV3"]),
    (("feature_mix_layer", "use_bn"), True, ["feature_mix_layer.use_bn", "allowed: False"]),
    (("feature_mix_layer", "act_func"), "relu", ["feature_mix_layer.act_func", "one activation"]),
    (("blocks", 1, "shortcut"), {"name": "IdentityLayer"}, ["blocks[1].shortcut", "stride 1"]),
    (("blocks", 3, "conv", "in_channels"), 32, ["blocks[3] in_channels", "blocks[2] out_channels = 24"]),
    (("blocks", 3, "conv", "kernel_size"), "3", ["blocks[3].conv.kernel_size", "integer"]),
    (("blocks",), [], ["blocks", "non-empty"]),
    (("bn", "ws_eps"), 1e-5, ["bn.ws_eps", "allowed: None"]),
    ((EXTENSION_KEY,), {"dense": True, "stage_ranges": [[1, 3]], "branches": [1] * 11},
     [f"{EXTENSION_KEY}.stage_ranges", "consecutive"]),
    ((EXTENSION_KEY,), {"dense": True, "stage_ranges": [], "branch": []}, [f"{EXTENSION_KEY}.branch", "branches"]),
    ((EXTENSION_KEY,), {"dense": False, "stage_ranges": [[1, 11]], "branches": [2] * 11},
     [f"{EXTENSION_KEY}.branches[0]", "allowed: [1, 3, 5, 7]"]),
])
def test_bad_values_name_the_key(path: tuple[Any, ...], value: Any, expected: list[str]) -> None:
    d = ofa_dict()
    _set(d, path, value)
    with pytest.raises(SpaceError) as info:
        from_ofa_config(d)
    for text in expected:
        assert text in str(info.value)


@pytest.mark.parametrize(("path", "expected"), [
    (("classifier",), ["top level", "'classifier'", "first_conv, blocks"]),
    (("blocks", 4, "conv", "kernel_size"), ["blocks[4].conv", "'kernel_size'", "expand_ratio"]),
    (("blocks", 4, "shortcut"), ["blocks[4]", "'shortcut'"]),
    (("final_expand_layer", "out_channels"), ["final_expand_layer", "'out_channels'", "ConvLayer needs"]),
    (("blocks", 0, "name"), ["blocks[0]", "'name'"]),
])
def test_missing_keys_are_named(path: tuple[Any, ...], expected: list[str]) -> None:
    d = ofa_dict()
    _del(d, path)
    with pytest.raises(SpaceError) as info:
        from_ofa_config(d)
    for text in expected:
        assert text in str(info.value)


def test_unwritable_configs_raise() -> None:
    cfg = k3e3d2(1.0)
    with pytest.raises(SpaceError, match="activation 'gelu'"):
        to_ofa_config(replace(cfg, stem_act="gelu"))
    block = replace(cfg.blocks[1], se_mid=8)
    with pytest.raises(SpaceError, match=r"blocks\[1\].*se_mid"):
        to_ofa_config(replace(cfg, blocks=(cfg.blocks[0], block, *cfg.blocks[2:])))


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(SpaceError, match="does not exist"):
        load_ofa_net_config(tmp_path / "missing.config")
    bad = tmp_path / "bad.config"
    bad.write_text("{not json")
    with pytest.raises(SpaceError, match="not valid JSON"):
        load_ofa_net_config(bad)
    broken = tmp_path / "broken.config"
    d = ofa_dict()
    d["blocks"][1]["conv"]["act_func"] = "gelu"
    broken.write_text(json.dumps(d))
    with pytest.raises(SpaceError, match=r"broken\.config.*blocks\[1\]\.conv\.act_func"):
        load_ofa_net_config(broken)
