"""NAT integer genome: encode/decode/canonicalise Archs, vectorised over numpy arrays of genomes.

Layout: [resolution index, width index, layer genes (stages × max depth), (exit index), (branch index)].
Layer gene 0 = skip, 1..n = (kernel, expand) from `SearchSpace.layer_choices`; layers below the minimum
depth are always present. 22 genes for OFA's space, 23 with the exit gene.
"""

from __future__ import annotations

import numpy as np

from hwnat.errors import SpaceError
from hwnat.space.arch import Arch
from hwnat.space.spec import SearchSpace


def gene_bounds(space: SearchSpace) -> tuple[np.ndarray, np.ndarray]:
    """Inclusive lower and upper bound of every gene."""
    n_choice = len(space.layer_choices)
    layer_lo = np.tile([1] * space.min_depth + [0] * (space.max_depth - space.min_depth), space.num_stages)
    lo = [0, 0, *layer_lo]
    hi = [len(space.resolutions) - 1, len(space.width_mults) - 1, *([n_choice] * space.num_layers)]
    if space.variant.early_exit:
        lo.append(0)
        hi.append(len(space.exits) - 1)
    if space.variant.parallel:
        lo.append(0)
        hi.append(len(space.branch_masks) - 1)
    return np.asarray(lo, dtype=np.int64), np.asarray(hi, dtype=np.int64)


def _layer_slice(space: SearchSpace) -> slice:
    return slice(2, 2 + space.num_layers)


def _exit_col(space: SearchSpace) -> int | None:
    return 2 + space.num_layers if space.variant.early_exit else None


def _branch_col(space: SearchSpace) -> int | None:
    return space.genome_length - 1 if space.variant.parallel else None


def encode(space: SearchSpace, arch: Arch) -> np.ndarray:
    """Genome of an arch (canonical)."""
    arch = arch.validate(space).canonical(space)
    choice_index = {c: i + 1 for i, c in enumerate(space.layer_choices)}
    g = np.zeros(space.genome_length, dtype=np.int64)
    g[0] = space.resolutions.index(arch.resolution)
    g[1] = [float(w) for w in space.width_mults].index(float(arch.width_mult))
    for s, (ks, es) in enumerate(zip(arch.kernels, arch.expands)):
        for j, (k, e) in enumerate(zip(ks, es)):
            g[2 + s * space.max_depth + j] = choice_index[(k, e)]
    if (col := _exit_col(space)) is not None:
        g[col] = space.exits.index(arch.exit_stage(space))
    if (col := _branch_col(space)) is not None:
        g[col] = space.branch_masks.index(arch.branches)
    return g


def check_bounds(space: SearchSpace, genomes: np.ndarray, allow_skipped_required: bool = False) -> np.ndarray:
    g = np.atleast_2d(np.asarray(genomes, dtype=np.int64))
    if g.ndim != 2 or g.shape[1] != space.genome_length:
        raise SpaceError(f"genome length {g.shape[-1]} does not match space {space.name!r} "
                         f"({space.genome_length} genes)")
    lo, hi = gene_bounds(space)
    floor = np.minimum(lo, 0) if allow_skipped_required else lo
    bad = np.argwhere((g < floor) | (g > hi))
    if bad.size:
        row, col = bad[0]
        raise SpaceError(f"gene {col} = {g[row, col]} is outside [{lo[col]}, {hi[col]}] (genome row {row})")
    return g


def canonicalise(space: SearchSpace, genomes: np.ndarray, fill_required: int | None = None) -> np.ndarray:
    """Zero every layer after a stage's first skip; stages after the exit take the minimal genes.

    Required layers (below the minimum depth) that are 0 raise SpaceError, or get `fill_required`.
    Works on one genome or an (N, G) array; returns the same shape.
    """
    single = np.asarray(genomes).ndim == 1
    g = check_bounds(space, np.array(genomes, dtype=np.int64, copy=True), allow_skipped_required=True)
    layers = g[:, _layer_slice(space)].reshape(len(g), space.num_stages, space.max_depth)
    required = layers[:, :, : space.min_depth]
    if (required == 0).any():
        if fill_required is None:
            row, stage, layer = np.argwhere(required == 0)[0]
            raise SpaceError(f"genome row {row}: stage {stage + 1} layer {layer + 1} is required but skipped")
        required[required == 0] = fill_required
    alive = np.cumprod(layers != 0, axis=2).astype(bool)
    layers[~alive] = 0
    if (col := _exit_col(space)) is not None:
        exit_stage = np.asarray(space.exits)[g[:, col]]
        after = np.arange(1, space.num_stages + 1)[None, :] > exit_stage[:, None]
        minimal = np.array([1] * space.min_depth + [0] * (space.max_depth - space.min_depth))
        layers[after] = minimal
    g[:, _layer_slice(space)] = layers.reshape(len(g), -1)
    check_bounds(space, g)
    return g[0] if single else g


def decode(space: SearchSpace, genome: np.ndarray) -> Arch:
    g = canonicalise(space, np.asarray(genome, dtype=np.int64).reshape(-1))
    choices = space.layer_choices
    layers = g[_layer_slice(space)].reshape(space.num_stages, space.max_depth)
    kernels, expands = [], []
    for stage in layers:
        active = [choices[v - 1] for v in stage if v > 0]
        kernels.append(tuple(k for k, _ in active))
        expands.append(tuple(e for _, e in active))
    exit_ = None
    if (col := _exit_col(space)) is not None:
        exit_ = space.exits[g[col]]
    branches = space.branch_masks[g[_branch_col(space)]] if space.variant.parallel else space.branch_masks[0]
    arch = Arch(space.resolutions[g[0]], float(space.width_mults[g[1]]), tuple(kernels), tuple(expands),
                exit_, branches)
    return arch.canonical(space)


def arch_id(space: SearchSpace, arch: Arch) -> str:
    """Readable, parseable id, e.g. 'r224-w1.0-11-144-551-522-8877' (+ '-x3' exit, '-b7' branches)."""
    g = encode(space, arch)
    layers = g[_layer_slice(space)].reshape(space.num_stages, space.max_depth)
    a = arch.canonical(space)
    parts = [f"r{a.resolution}", f"w{a.width_mult}"]
    parts += ["".join(str(v) for v in stage if v > 0) for stage in layers]
    if space.variant.early_exit:
        parts.append(f"x{a.exit_stage(space)}")
    if space.variant.parallel:
        parts.append(f"b{a.branches}")
    return "-".join(parts)


def parse_arch_id(space: SearchSpace, text: str) -> Arch:
    parts = text.strip().split("-")
    try:
        res, width = int(parts[0].removeprefix("r")), float(parts[1].removeprefix("w"))
        stage_parts = parts[2 : 2 + space.num_stages]
        extras = {p[0]: int(p[1:]) for p in parts[2 + space.num_stages :]}
    except (IndexError, ValueError) as exc:
        raise SpaceError(f"cannot parse arch id {text!r}: expected like 'r224-w1.0-11-144-551-522-8877'") from exc
    if len(stage_parts) != space.num_stages or any(not p.isdigit() for p in stage_parts):
        raise SpaceError(f"arch id {text!r} needs {space.num_stages} stage groups of layer genes")
    choices = space.layer_choices
    try:
        stages = [[choices[int(c) - 1] for c in p] for p in stage_parts]
    except IndexError as exc:
        raise SpaceError(f"arch id {text!r}: layer genes must be 1..{len(choices)}") from exc
    arch = Arch(
        res, width,
        tuple(tuple(k for k, _ in st) for st in stages), tuple(tuple(e for _, e in st) for st in stages),
        extras.get("x"), extras.get("b", space.branch_masks[0]),
    )
    return arch.validate(space).canonical(space)
