"""Genome bounds, initialisations (NAT, NATv2, uniform depth), the canonicalising Repair and duplicate elimination."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
from pymoo.core.duplicate import DuplicateElimination
from pymoo.core.repair import Repair

from hwnat.errors import ConfigError, unknown_name
from hwnat.space.arch import max_arch, min_arch
from hwnat.space.genome import canonicalise, encode, gene_bounds
from hwnat.space.spec import SearchSpace

Initialiser = Callable[[SearchSpace, int, np.random.Generator, np.ndarray, np.ndarray], np.ndarray]
_INITS: dict[str, Initialiser] = {}


def search_bounds(space: SearchSpace, width_mult: float | None = None,
                  resolutions: Iterable[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Gene bounds, with the width gene fixed to the super-network's width and optionally a resolution range."""
    lo, hi = gene_bounds(space)
    if width_mult is not None:
        idx = [float(w) for w in space.width_mults].index(space.check_width(width_mult))
        lo[1] = hi[1] = idx
    if resolutions is not None:
        res = sorted(int(r) for r in resolutions)
        bad = [r for r in res if r not in space.resolutions]
        if bad or not res:
            raise ConfigError(f"resolutions {bad or res} are not in space {space.name!r}: {list(space.resolutions)}")
        lo[0], hi[0] = space.resolutions.index(res[0]), space.resolutions.index(res[-1])
    return lo, hi


def register_init(name: str) -> Callable[[Initialiser], Initialiser]:
    def add(fn: Initialiser) -> Initialiser:
        if name in _INITS:
            raise ValueError(f"initialisation {name!r} registered twice")
        _INITS[name] = fn
        return fn
    return add


def list_inits() -> list[str]:
    return sorted(_INITS)


def create_init(name: str) -> Initialiser:
    if name not in _INITS:
        raise ConfigError(unknown_name("initialisation", name, _INITS))
    return _INITS[name]


def _uniform(rng: np.random.Generator, n: int, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    return rng.integers(lo, hi + 1, size=(n, len(lo)), dtype=np.int64)


def _layers(space: SearchSpace, g: np.ndarray) -> np.ndarray:
    """View of the layer genes as (N, stages, max depth)."""
    return g[:, 2 : 2 + space.num_layers].reshape(len(g), space.num_stages, space.max_depth)


@register_init("nat")
def nat_init(space: SearchSpace, n: int, rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """NAT: every gene uniform in its bounds, then each stage's zeros pushed to its end (biased to deep stages)."""
    return canonicalise(space, push_zeros(space, _uniform(rng, n, lo, hi)), fill_required=1)


def push_zeros(space: SearchSpace, genomes: np.ndarray) -> np.ndarray:
    """Within each stage, move skip genes (0) after the active ones, keeping the active ones' order."""
    g = np.array(np.atleast_2d(genomes), dtype=np.int64, copy=True)
    layers = _layers(space, g)
    order = np.argsort(layers == 0, axis=2, kind="stable")
    g[:, 2 : 2 + space.num_layers] = np.take_along_axis(layers, order, axis=2).reshape(len(g), -1)
    return g


@register_init("natv2")
def natv2_init(space: SearchSpace, n: int, rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray,
               p_skip: float = 1 / 3) -> np.ndarray:
    """NATv2: optional layers skipped with P = 1/3, else uniform (k, e); fill-repair gives depths 2/3/4 ≈ 1/3, 2/9, 4/9."""
    lo_nz = np.maximum(lo, 1)
    lo_nz[:2] = lo[:2]
    lo_nz[2 + space.num_layers :] = lo[2 + space.num_layers :]
    g = _uniform(rng, n, lo_nz, hi)
    layers = _layers(space, g)
    skip = rng.random(layers.shape) < p_skip
    skip[:, :, : space.min_depth] = False
    layers[skip] = 0
    g[:, 2 : 2 + space.num_layers] = layers.reshape(n, -1)
    return canonicalise(space, g, fill_required=1)


@register_init("uniform")
def uniform_depth_init(space: SearchSpace, n: int, rng: np.random.Generator, lo: np.ndarray,
                       hi: np.ndarray) -> np.ndarray:
    """Uniform depth per stage (OFA's sampler): depths 2/3/4 each ≈ 1/3."""
    lo_nz = np.maximum(lo, 1)
    lo_nz[:2] = lo[:2]
    lo_nz[2 + space.num_layers :] = lo[2 + space.num_layers :]
    g = _uniform(rng, n, lo_nz, hi)
    layers = _layers(space, g)
    depth = rng.choice(np.asarray(space.depths), size=layers.shape[:2])
    layers[np.arange(space.max_depth)[None, None, :] >= depth[:, :, None]] = 0
    g[:, 2 : 2 + space.num_layers] = layers.reshape(n, -1)
    return canonicalise(space, g, fill_required=1)


def extreme_genomes(space: SearchSpace, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The min and max archs within the bounds (resolution and width genes taken from the bounds)."""
    width = space.width_mults[int(lo[1])]
    small, big = encode(space, min_arch(space, width)), encode(space, max_arch(space, width))
    small[0], big[0] = lo[0], hi[0]
    return canonicalise(space, np.stack([small, big]))


def keys_of(genomes: np.ndarray) -> list[bytes]:
    """Hashable identity of canonical genomes."""
    g = np.ascontiguousarray(np.atleast_2d(genomes), dtype=np.int64)
    return [row.tobytes() for row in g]


def unique_sample(space: SearchSpace, init: str, n: int, rng: np.random.Generator, lo: np.ndarray,
                  hi: np.ndarray, exclude: Iterable[bytes] = (), max_rounds: int = 50) -> np.ndarray:
    """`n` distinct canonical genomes from an initialisation, none in `exclude` (fewer if the space is tiny)."""
    fn, seen = create_init(init), set(exclude)
    rows: list[np.ndarray] = []
    for _ in range(max_rounds):
        if len(rows) >= n:
            break
        for row, key in zip(batch := fn(space, 2 * (n - len(rows)) + 8, rng, lo, hi), keys_of(batch)):
            if key not in seen and len(rows) < n:
                seen.add(key)
                rows.append(row)
    return np.asarray(rows, dtype=np.int64).reshape(len(rows), len(lo))


class CanonicalRepair(Repair):
    """Round, clip to the bounds and canonicalise (zeros after a stage's first skip, minimal stages after the exit)."""

    def __init__(self, space: SearchSpace) -> None:
        super().__init__()
        self.space = space

    def _do(self, problem, X, **kwargs):  # type: ignore[no-untyped-def, override]
        g = np.clip(np.rint(np.asarray(X, dtype=np.float64)), problem.xl, problem.xu).astype(np.int64)
        return canonicalise(self.space, g, fill_required=1)


class ArchiveDuplicateElimination(DuplicateElimination):
    """Hash duplicates among offspring, against the population, and against every archived genome."""

    def __init__(self, archived: Iterable[bytes] = ()) -> None:
        super().__init__()
        self.archived = set(archived)

    def _do(self, pop, other, is_duplicate):  # type: ignore[no-untyped-def, override]
        seen = set(self.archived)
        if other is not None:
            seen.update(keys_of(np.asarray(other.get("X"))))
        for i, key in enumerate(keys_of(np.asarray(pop.get("X")))):
            if key in seen:
                is_duplicate[i] = True
            else:
                seen.add(key)
        return is_duplicate
