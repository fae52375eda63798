"""Read and write the `net.config` JSON of OFA (and NAT's older OFA naming) as hwnat NetConfigs."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from hwnat.errors import SpaceError, unknown_name
from hwnat.io import atomic_write_json, read_json
from hwnat.models.config import BlockConfig, HeadConfig, NetConfig, se_mid_channels
from hwnat.space.spec import BRANCH_MASKS, BRANCH_MBCONV

NET_NAME = "MobileNetV3"
BN_PARAM: dict[str, Any] = {"momentum": 0.1, "eps": 1e-5, "ws_eps": None}
OFA_ACTS: dict[str, str] = {"relu": "relu", "hswish": "h_swish", "mish": "mish"}  # hwnat name → OFA name
HWNAT_ACTS: dict[str, str] = {ofa: ours for ours, ofa in OFA_ACTS.items()}
# Top-level key holding what OFA cannot express (dense skips, parallel branches, stage boundaries that the
# output widths do not reveal). Written only when needed, so plain OFA subnets stay byte-compatible.
EXTENSION_KEY = "hwnat"
EXTENSION_FIELDS = ("dense", "stage_ranges", "branches")
NET_KEYS = ("name", "first_conv", "blocks", "final_expand_layer", "feature_mix_layer", "classifier")
SOURCE = "OFA net config"

T = TypeVar("T")


class ConvSpec(NamedTuple):
    """What hwnat keeps of an OFA ConvLayer."""

    cin: int
    cout: int
    kernel: int
    stride: int
    act: str
    bn: bool


class LinearSpec(NamedTuple):
    cin: int
    cout: int
    dropout: float


def _error(where: str, message: str) -> SpaceError:
    return SpaceError(f"{SOURCE}: {where}: {message}")


# -- writing ---------------------------------------------------------------------------------------


def _ofa_act(name: str, where: str) -> str:
    if name not in OFA_ACTS:
        raise _error(where, unknown_name("activation", name, OFA_ACTS))
    return OFA_ACTS[name]


def _conv_layer(cin: int, cout: int, kernel: int, stride: int, act: str, use_bn: bool) -> dict[str, Any]:
    return {
        "name": "ConvLayer", "kernel_size": kernel, "stride": stride, "dilation": 1, "groups": 1, "bias": False,
        "has_shuffle": False, "use_se": False, "in_channels": cin, "out_channels": cout, "use_bn": use_bn,
        "act_func": act, "dropout_rate": 0, "ops_order": "weight_bn_act",
    }


def _identity_layer(channels: int) -> dict[str, Any]:
    return {
        "name": "IdentityLayer", "in_channels": channels, "out_channels": channels, "use_bn": False,
        "act_func": None, "dropout_rate": 0, "ops_order": "weight_bn_act",
    }


def _linear_layer(cin: int, cout: int, dropout: float) -> dict[str, Any]:
    return {
        "name": "LinearLayer", "in_features": cin, "out_features": cout, "bias": True, "use_bn": False,
        "act_func": None, "dropout_rate": dropout, "ops_order": "weight_bn_act",
    }


def _expand_ratio(b: BlockConfig, where: str) -> int | float:
    """OFA's expand_ratio for a layer; 1 means 'no expansion layer', so an expanding layer needs mid ≠ cin."""
    if not b.expand:
        if b.mid != b.cin:
            raise _error(where, f"a layer without expansion needs mid == in channels, got {b.mid} and {b.cin}")
        return 1
    if b.mid == b.cin:
        raise _error(where, f"an expanding layer with mid == in channels ({b.mid}) has no OFA form "
                            "(OFA drops the expansion layer when expand_ratio is 1)")
    return b.mid // b.cin if b.mid % b.cin == 0 else b.mid / b.cin


def _check_se_mid(b: BlockConfig, where: str) -> None:
    expected = se_mid_channels(b.mid) if b.se else 0
    if b.se_mid != expected:
        raise _error(where, f"se_mid {b.se_mid} has no OFA form; OFA's SE uses {expected} for mid {b.mid}")


def _check_residual(cin: int, cout: int, stride: int, where: str) -> None:
    if stride != 1 or cin != cout:
        raise _error(where, f"an identity shortcut needs stride 1 and in == out channels, "
                            f"got stride {stride}, {cin} → {cout}")


def _mbconv_layer(b: BlockConfig, where: str) -> dict[str, Any]:
    _check_se_mid(b, where)
    return {
        "name": "MBConvLayer", "in_channels": b.cin, "out_channels": b.cout, "kernel_size": b.kernel,
        "stride": b.stride, "expand_ratio": _expand_ratio(b, where), "mid_channels": b.mid if b.expand else None,
        "act_func": _ofa_act(b.act, f"{where}.act"), "use_se": b.se, "groups": None,
    }


def _residual_block(b: BlockConfig, where: str) -> dict[str, Any]:
    if b.residual:
        _check_residual(b.cin, b.cout, b.stride, where)
    return {
        "name": "ResidualBlock",
        "conv": _mbconv_layer(b, where),
        "shortcut": _identity_layer(b.cin) if b.residual else None,
    }


def derived_stage_ranges(blocks: tuple[BlockConfig, ...]) -> tuple[tuple[int, int], ...]:
    """Stages as [start, end) block ranges: a new stage starts where the output width changes (after block 0)."""
    starts = [i for i in range(1, len(blocks)) if i == 1 or blocks[i].cout != blocks[i - 1].cout]
    return tuple(zip(starts, [*starts[1:], len(blocks)]))


def _needs_extension(cfg: NetConfig) -> bool:
    return (cfg.dense or any(b.branches != BRANCH_MBCONV for b in cfg.blocks)
            or tuple(map(tuple, cfg.stage_ranges)) != derived_stage_ranges(cfg.blocks))


def to_ofa_config(cfg: NetConfig) -> dict[str, Any]:
    """The `net.config` dict OFA writes for this static subnet (plus an "hwnat" key only where OFA falls short).

    OFA's format has no input resolution: pass it back to `from_ofa_config`.
    """
    head = cfg.head
    act = _ofa_act(head.act, "head.act")
    d: dict[str, Any] = {
        "name": NET_NAME,
        "bn": dict(BN_PARAM),
        "first_conv": _conv_layer(cfg.in_channels, cfg.stem_out, 3, cfg.stem_stride,
                                  _ofa_act(cfg.stem_act, "stem_act"), True),
        "blocks": [_residual_block(b, f"blocks[{i}]") for i, b in enumerate(cfg.blocks)],
        "final_expand_layer": _conv_layer(head.cin, head.expand, 1, 1, act, True),
        "feature_mix_layer": _conv_layer(head.expand, head.mix, 1, 1, act, False),
        "classifier": _linear_layer(head.mix, head.num_classes, head.dropout),
    }
    if _needs_extension(cfg):
        d[EXTENSION_KEY] = {
            "dense": cfg.dense,
            "stage_ranges": [list(r) for r in cfg.stage_ranges],
            "branches": [b.branches for b in cfg.blocks],
        }
    return d


# -- reading: value helpers ------------------------------------------------------------------------


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _error(where, f"expected a JSON object, got {type(value).__name__} {value!r:.60}")
    return value


def _fields(d: dict[str, Any], where: str, kind: str, keys: tuple[str, ...]) -> tuple[Any, ...]:
    missing = [k for k in keys if k not in d]
    if missing:
        raise _error(where, f"missing key(s) {', '.join(map(repr, missing))}; {kind} needs {', '.join(keys)}")
    return tuple(d[k] for k in keys)


def _int(value: Any, where: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _error(where, f"must be an integer ≥ {minimum}, got {value!r}")
    return value


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise _error(where, f"must be true or false, got {value!r}")
    return value


def _act(value: Any, where: str) -> str:
    if not isinstance(value, str) or value not in HWNAT_ACTS:
        raise _error(where, unknown_name("activation", value, HWNAT_ACTS))
    return HWNAT_ACTS[value]


def _expect(value: Any, where: str, allowed: tuple[Any, ...]) -> None:
    if value not in allowed or isinstance(value, bool) != isinstance(allowed[0], bool):
        raise _error(where, f"{value!r} is not supported; allowed: {', '.join(map(repr, allowed))}")


def _expect_present(d: dict[str, Any], where: str, fixed: dict[str, tuple[Any, ...]]) -> None:
    """Check the keys of `fixed` that `d` has (older writers omit some) against their only allowed values."""
    for key, allowed in fixed.items():
        if key in d:
            _expect(d[key], f"{where}.{key}", allowed)


def _layer(registry: dict[str, Callable[[dict[str, Any], str], T]], value: Any, where: str, kind: str) -> T:
    d = _object(value, where)
    (name,) = _fields(d, where, f"every {kind}", ("name",))
    if not isinstance(name, str) or name not in registry:
        raise _error(f"{where}.name", unknown_name(kind, name, registry))
    return registry[name](d, where)


# -- reading: layer parsers (registries below) -----------------------------------------------------

_CONV_FIXED: dict[str, tuple[Any, ...]] = {
    "dilation": (1,), "groups": (1,), "bias": (False,), "has_shuffle": (False,), "use_se": (False,),
    "ops_order": ("weight_bn_act",),
}


def _conv(d: dict[str, Any], where: str) -> ConvSpec:
    keys = ("in_channels", "out_channels", "kernel_size", "stride", "use_bn", "act_func")
    cin, cout, k, s, bn, act = _fields(d, where, "ConvLayer", keys)
    _expect_present(d, where, _CONV_FIXED)
    return ConvSpec(_int(cin, f"{where}.in_channels"), _int(cout, f"{where}.out_channels"),
                    _int(k, f"{where}.kernel_size"), _int(s, f"{where}.stride"),
                    _act(act, f"{where}.act_func"), _bool(bn, f"{where}.use_bn"))


def _linear(d: dict[str, Any], where: str) -> LinearSpec:
    cin, cout = _fields(d, where, "LinearLayer", ("in_features", "out_features"))
    _expect_present(d, where, {"bias": (True,), "use_bn": (False,), "act_func": (None,)})
    dropout = d.get("dropout_rate", 0)
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise _error(f"{where}.dropout_rate", f"must be a number in [0, 1), got {dropout!r}")
    return LinearSpec(_int(cin, f"{where}.in_features"), _int(cout, f"{where}.out_features"), float(dropout))


def _mid_channels(d: dict[str, Any], cin: int, ratio: int | float, where: str) -> int:
    """`mid_channels` if written, else OFA's round(cin × expand_ratio); cin when there is no expansion."""
    mid = d.get("mid_channels")
    if mid is None:
        return cin if ratio == 1 else int(round(cin * ratio))
    mid = _int(mid, f"{where}.mid_channels")
    if ratio == 1 and mid != cin:
        raise _error(f"{where}.mid_channels", f"{mid} needs an expansion layer but expand_ratio is 1 "
                                              f"(in_channels {cin})")
    return mid


def _mbconv(d: dict[str, Any], where: str) -> BlockConfig:
    keys = ("in_channels", "out_channels", "kernel_size", "stride", "expand_ratio", "act_func")
    cin, cout, k, s, ratio, act = _fields(d, where, d["name"], keys)
    cin = _int(cin, f"{where}.in_channels")
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or ratio < 1:
        raise _error(f"{where}.expand_ratio", f"must be a number ≥ 1, got {ratio!r}")
    _expect_present(d, where, {"groups": (None, 1)})
    mid = _mid_channels(d, cin, ratio, where)
    se = _bool(d.get("use_se", False), f"{where}.use_se")
    return BlockConfig(
        cin, _int(cout, f"{where}.out_channels"), _int(k, f"{where}.kernel_size"), _int(s, f"{where}.stride"),
        mid, _act(act, f"{where}.act_func"), se, expand=ratio != 1, residual=False,
        se_mid=se_mid_channels(mid) if se else 0,
    )


def _identity(d: dict[str, Any], where: str) -> bool:
    return True


MBCONV_LAYERS: dict[str, Callable[[dict[str, Any], str], BlockConfig]] = {
    "MBConvLayer": _mbconv,  # OFA
    "MBInvertedConvLayer": _mbconv,  # NAT / older OFA
}
SHORTCUT_LAYERS: dict[str, Callable[[dict[str, Any], str], bool]] = {"IdentityLayer": _identity}
CONV_LAYERS: dict[str, Callable[[dict[str, Any], str], ConvSpec]] = {"ConvLayer": _conv}
LINEAR_LAYERS: dict[str, Callable[[dict[str, Any], str], LinearSpec]] = {"LinearLayer": _linear}


def _residual(d: dict[str, Any], where: str, conv_key: str) -> BlockConfig:
    conv_d, shortcut_d = _fields(d, where, d["name"], (conv_key, "shortcut"))
    block = _layer(MBCONV_LAYERS, conv_d, f"{where}.{conv_key}", "MBConv layer")
    if shortcut_d is None:
        return block
    _layer(SHORTCUT_LAYERS, shortcut_d, f"{where}.shortcut", "shortcut layer")
    _check_residual(block.cin, block.cout, block.stride, f"{where}.shortcut")
    return replace(block, residual=True)


BLOCKS: dict[str, Callable[[dict[str, Any], str], BlockConfig]] = {
    "ResidualBlock": partial(_residual, conv_key="conv"),  # OFA
    "MobileInvertedResidualBlock": partial(_residual, conv_key="mobile_inverted_conv"),  # NAT / older OFA
}


# -- reading: the network --------------------------------------------------------------------------


def _read_stem(d: dict[str, Any]) -> ConvSpec:
    stem = _layer(CONV_LAYERS, d["first_conv"], "first_conv", "layer")
    _expect(stem.kernel, "first_conv.kernel_size", (3,))
    _expect(stem.bn, "first_conv.use_bn", (True,))
    return stem


def _read_blocks(value: Any) -> list[BlockConfig]:
    if not isinstance(value, list) or not value:
        raise _error("blocks", f"must be a non-empty list of blocks, got {value!r:.60}")
    return [_layer(BLOCKS, b, f"blocks[{i}]", "block") for i, b in enumerate(value)]


def _read_head(d: dict[str, Any]) -> HeadConfig:
    expand = _layer(CONV_LAYERS, d["final_expand_layer"], "final_expand_layer", "layer")
    mix = _layer(CONV_LAYERS, d["feature_mix_layer"], "feature_mix_layer", "layer")
    linear = _layer(LINEAR_LAYERS, d["classifier"], "classifier", "layer")
    for where, conv, bn in (("final_expand_layer", expand, True), ("feature_mix_layer", mix, False)):
        _expect(conv.kernel, f"{where}.kernel_size", (1,))
        _expect(conv.stride, f"{where}.stride", (1,))
        _expect(conv.bn, f"{where}.use_bn", (bn,))
    if mix.act != expand.act:
        raise _error("feature_mix_layer.act_func", f"{OFA_ACTS[mix.act]!r} differs from final_expand_layer's "
                                                   f"{OFA_ACTS[expand.act]!r}; hwnat's head uses one activation")
    _check_link("feature_mix_layer.in_channels", mix.cin, "final_expand_layer.out_channels", expand.cout)
    _check_link("classifier.in_features", linear.cin, "feature_mix_layer.out_channels", mix.cout)
    return HeadConfig(expand.cin, expand.cout, mix.cout, linear.cout, expand.act, linear.dropout)


def _check_link(where: str, value: int, previous: str, expected: int) -> None:
    if value != expected:
        raise _error(where, f"{value} does not match {previous} = {expected}")


def _check_chain(stem: ConvSpec, blocks: list[BlockConfig], head: HeadConfig) -> None:
    outs = [("first_conv.out_channels", stem.cout)] + [(f"blocks[{i}] out_channels", b.cout)
                                                      for i, b in enumerate(blocks)]
    ins = [(f"blocks[{i}] in_channels", b.cin) for i, b in enumerate(blocks)]
    ins.append(("final_expand_layer.in_channels", head.cin))
    for (where, value), (previous, expected) in zip(ins, outs):
        _check_link(where, value, previous, expected)


def _check_stage_ranges(ranges: Any, n_blocks: int) -> tuple[tuple[int, int], ...]:
    where = f"{EXTENSION_KEY}.stage_ranges"
    bad = _error(where, f"{ranges!r:.80} must split blocks 1..{n_blocks - 1} into consecutive, non-empty "
                        "[start, end) pairs (block 0 is the first block)")
    if not isinstance(ranges, list) or not all(isinstance(r, list) and len(r) == 2 for r in ranges):
        raise bad
    pairs = tuple((_int(a, where, 0), _int(b, where, 0)) for a, b in ranges)
    edges = [1] + [b for _, b in pairs]
    if [a for a, _ in pairs] != edges[:-1] or edges[-1] != n_blocks or any(b <= a for a, b in pairs):
        raise bad
    return pairs


def _check_branches(branches: Any, n_blocks: int) -> tuple[int, ...]:
    where = f"{EXTENSION_KEY}.branches"
    if not isinstance(branches, list) or len(branches) != n_blocks:
        raise _error(where, f"must list one branch mask per block ({n_blocks}), got {branches!r:.80}")
    for i, b in enumerate(branches):
        if b not in BRANCH_MASKS or isinstance(b, bool):
            raise _error(f"{where}[{i}]", f"{b!r} is not a branch mask; allowed: {list(BRANCH_MASKS)}")
    return tuple(branches)


def _read_extension(value: Any, blocks: list[BlockConfig]) -> tuple[bool, tuple[tuple[int, int], ...],
                                                                      tuple[int, ...]]:
    if value is None:
        return False, derived_stage_ranges(tuple(blocks)), (BRANCH_MBCONV,) * len(blocks)
    d = _object(value, EXTENSION_KEY)
    unknown = sorted(set(d) - set(EXTENSION_FIELDS))
    if unknown:
        raise _error(f"{EXTENSION_KEY}.{unknown[0]}",
                     unknown_name(f"{EXTENSION_KEY} key", unknown[0], EXTENSION_FIELDS))
    dense, ranges, branches = _fields(d, EXTENSION_KEY, "the hwnat extension", EXTENSION_FIELDS)
    return (_bool(dense, f"{EXTENSION_KEY}.dense"), _check_stage_ranges(ranges, len(blocks)),
            _check_branches(branches, len(blocks)))


def _check_bn(value: Any) -> None:
    """BN momentum only matters in training; eps changes outputs and ws_eps (weight standardisation) is absent."""
    if value is None:
        return
    d = _object(value, "bn")
    if "eps" in d and d["eps"] != BN_PARAM["eps"]:
        raise _error("bn.eps", f"{d['eps']!r} is not supported; allowed: {BN_PARAM['eps']}")
    _expect_present(d, "bn", {"ws_eps": (None,)})


def from_ofa_config(d: dict[str, Any], resolution: int = 224) -> NetConfig:
    """A NetConfig from OFA's `net.config` (or NAT's older naming); OFA configs carry no input resolution."""
    d = _object(d, "top level")
    _fields(d, "top level", "the network config", NET_KEYS)
    if d["name"] != NET_NAME:
        raise _error("name", unknown_name("network", d["name"], [NET_NAME]))
    _int(resolution, "resolution")
    _check_bn(d.get("bn"))
    stem = _read_stem(d)
    blocks = _read_blocks(d["blocks"])
    head = _read_head(d)
    _check_chain(stem, blocks, head)
    dense, ranges, branches = _read_extension(d.get(EXTENSION_KEY), blocks)
    blocks = [replace(b, branches=m) for b, m in zip(blocks, branches)]
    return NetConfig(resolution, stem.cout, stem.stride, stem.act, tuple(blocks), ranges, dense, head, stem.cin)


# -- files -----------------------------------------------------------------------------------------


def load_ofa_net_config(path: str | os.PathLike[str], resolution: int = 224) -> NetConfig:
    d = read_json(path, "OFA net config file", SpaceError)
    try:
        return from_ofa_config(d, resolution)
    except SpaceError as exc:
        raise SpaceError(f"{str(path)!r}: {exc}") from exc


def save_ofa_net_config(path: str | os.PathLike[str], cfg: NetConfig) -> Path:
    """Write `to_ofa_config(cfg)` atomically, indented like OFA."""
    return atomic_write_json(path, to_ofa_config(cfg), indent=4)
