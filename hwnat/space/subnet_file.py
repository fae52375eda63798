"""Read and write NAT/OFA `net.subnet` files ({"ks", "e", "d", "r", "w"}) as Archs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hwnat.errors import SpaceError
from hwnat.io import atomic_write_json, read_json
from hwnat.space.arch import Arch
from hwnat.space.spec import BRANCH_MBCONV, SearchSpace


def arch_from_subnet(space: SearchSpace, cfg: dict[str, Any], source: str = "subnet") -> Arch:
    """`ks`/`e` list the active layers (NAT) or every layer slot (OFA's set_active_subnet); `d` the depths."""
    missing = [k for k in ("ks", "e", "d") if k not in cfg]
    if missing:
        raise SpaceError(f"{source}: missing key(s) {', '.join(missing)}; a subnet needs ks, e, d (and r, w)")
    ks, es, ds = _int_list(cfg["ks"], "ks", source), _int_list(cfg["e"], "e", source), _int_list(cfg["d"], "d", source)
    if len(ds) != space.num_stages:
        raise SpaceError(f"{source}: 'd' has {len(ds)} stages, space {space.name!r} has {space.num_stages}")
    if len(ks) != len(es):
        raise SpaceError(f"{source}: 'ks' has {len(ks)} entries but 'e' has {len(es)}")
    if len(ks) == sum(ds):
        starts = [sum(ds[:s]) for s in range(len(ds))]
    elif len(ks) == space.num_layers:
        starts = [s * space.max_depth for s in range(len(ds))]
    else:
        raise SpaceError(f"{source}: 'ks' has {len(ks)} entries; expected sum(d) = {sum(ds)} "
                         f"(active layers) or {space.num_layers} (every layer slot)")
    kernels = tuple(tuple(ks[a : a + d]) for a, d in zip(starts, ds))
    expands = tuple(tuple(es[a : a + d]) for a, d in zip(starts, ds))
    if "r" not in cfg:
        raise SpaceError(f"{source}: missing key 'r' (input resolution); allowed: {list(space.resolutions)}")
    width = cfg.get("w", space.width_mults[0])
    exit_ = cfg.get("exit")
    arch = Arch(int(cfg["r"]), float(width), kernels, expands, None if exit_ is None else int(exit_),
                int(cfg.get("branches", BRANCH_MBCONV)))
    try:
        return arch.validate(space)
    except SpaceError as exc:
        raise SpaceError(f"{source}: {exc}") from exc


def subnet_from_arch(space: SearchSpace, arch: Arch) -> dict[str, Any]:
    arch = arch.validate(space)
    cfg: dict[str, Any] = {
        "ks": [k for ks in arch.kernels for k in ks],
        "e": [e for es in arch.expands for e in es],
        "d": list(arch.depths),
        "r": arch.resolution,
        "w": arch.width_mult,
    }
    if space.variant.early_exit:
        cfg["exit"] = arch.exit_stage(space)
    if space.variant.parallel:
        cfg["branches"] = arch.branches
    return cfg


def read_subnet(path: str | os.PathLike[str], space: SearchSpace) -> Arch:
    p = Path(path)
    cfg = read_json(p, "subnet file", SpaceError)
    if not isinstance(cfg, dict):
        raise SpaceError(f"subnet file {str(p)!r} must hold a JSON object with ks, e, d, r, w")
    return arch_from_subnet(space, cfg, source=f"subnet file {str(p)!r}")


def write_subnet(path: str | os.PathLike[str], space: SearchSpace, arch: Arch) -> Path:
    """Write atomically (temp file + rename)."""
    return atomic_write_json(path, subnet_from_arch(space, arch))


def _int_list(value: Any, key: str, source: str) -> list[int]:
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise SpaceError(f"{source}: {key!r} must be a list of integers, got {value!r}")
    return list(value)
