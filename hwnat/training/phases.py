"""Extended progressive shrinking: PhaseSpec, the phase-kind registry and phase-restricted subnet sampling."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from hwnat.errors import ConfigError, unknown_name
from hwnat.space.arch import Arch
from hwnat.space.spec import SearchSpace
from hwnat.training.config import PhaseSettings, TrainConfig
from hwnat.training.presets import PHASE_KINDS


@dataclass(frozen=True)
class Choices:
    """The elastic choices a phase samples from (each a sorted subset of the space's)."""

    kernel_sizes: tuple[int, ...]
    expand_ratios: tuple[int, ...]
    depths: tuple[int, ...]
    exits: tuple[int, ...]
    branch_masks: tuple[int, ...]

    @classmethod
    def largest(cls, space: SearchSpace) -> Choices:
        return cls((space.kernel_sizes[-1],), (space.expand_ratios[-1],), (space.max_depth,),
                   (space.num_stages,), (space.branch_masks[-1],))


@dataclass(frozen=True)
class PhaseSpec:
    """One phase: its name and kind, the choices it samples, its training settings, and `sort_expand_stage`:
    when not None, `sort_channels(sort_expand_stage)` runs on the super-network before the phase starts."""

    index: int
    name: str
    kind: str
    choices: Choices
    settings: PhaseSettings
    sort_expand_stage: int | None = None

    @property
    def epochs(self) -> int:
        return self.settings.epochs

    def to_dict(self) -> dict[str, object]:
        c = self.choices
        return {"index": self.index, "name": self.name, "kind": self.kind, "kernel_sizes": list(c.kernel_sizes),
                "expand_ratios": list(c.expand_ratios), "depths": list(c.depths), "exits": list(c.exits),
                "branch_masks": list(c.branch_masks), "sort_expand_stage": self.sort_expand_stage,
                **vars(self.settings)}


# A builder takes the space and the choices so far and returns [(name, choices after, sort stage), ...].
PhaseBuilder = Callable[[SearchSpace, Choices], list[tuple[str, Choices, int | None]]]
_BUILDERS: dict[str, PhaseBuilder] = {}


def register_phase_kind(kind: str) -> Callable[[PhaseBuilder], PhaseBuilder]:
    def wrap(fn: PhaseBuilder) -> PhaseBuilder:
        if kind in _BUILDERS:
            raise ValueError(f"phase kind {kind!r} registered twice")
        if kind not in PHASE_KINDS:
            raise ValueError(f"phase kind {kind!r} is not in PHASE_KINDS")
        _BUILDERS[kind] = fn
        return fn
    return wrap


def _grow(prefix: str, values: tuple[int, ...]) -> list[tuple[str, tuple[int, ...]]]:
    """OFA's growing sets: {largest two}, {largest three}, ... → [("depth-1", (3, 4)), ("depth-2", (2, 3, 4))]."""
    return [(f"{prefix}-{i}", values[-(i + 1):]) for i in range(1, len(values))]


@register_phase_kind("teacher")
def _teacher(space: SearchSpace, c: Choices) -> list[tuple[str, Choices, int | None]]:
    return [("teacher", c, None)]


@register_phase_kind("kernel")
def _kernel(space: SearchSpace, c: Choices) -> list[tuple[str, Choices, int | None]]:
    return [("kernel", replace(c, kernel_sizes=space.kernel_sizes), None)] if len(space.kernel_sizes) > 1 else []


@register_phase_kind("level")
def _level(space: SearchSpace, c: Choices) -> list[tuple[str, Choices, int | None]]:
    if not space.variant.parallel:
        return []
    return [("level", replace(c, branch_masks=space.branch_masks), None)]


@register_phase_kind("height")
def _height(space: SearchSpace, c: Choices) -> list[tuple[str, Choices, int | None]]:
    if not space.variant.early_exit:
        return []
    return [(name, replace(c, exits=exits), None) for name, exits in _grow("height", space.exits)]


@register_phase_kind("depth")
def _depth(space: SearchSpace, c: Choices) -> list[tuple[str, Choices, int | None]]:
    return [(name, replace(c, depths=depths), None) for name, depths in _grow("depth", space.depths)]


@register_phase_kind("expand")
def _expand(space: SearchSpace, c: Choices) -> list[tuple[str, Choices, int | None]]:
    return [(name, replace(c, expand_ratios=ratios), len(ratios) - 1)
            for name, ratios in _grow("expand", space.expand_ratios)]


def phase_kinds() -> list[str]:
    return [kind for kind in PHASE_KINDS if kind in _BUILDERS]


def build_phases(space: SearchSpace, config: TrainConfig) -> list[PhaseSpec]:
    """Every phase of the space's variant in OFAv2's order, with its settings from the config."""
    choices = Choices.largest(space)
    phases: list[PhaseSpec] = []
    for kind in phase_kinds():
        for name, after, sort_stage in _BUILDERS[kind](space, choices):
            phases.append(PhaseSpec(len(phases), name, kind, after, config.phase_settings(name, kind), sort_stage))
            choices = after
    return phases


def phase_by_name(phases: list[PhaseSpec], name: str) -> PhaseSpec:
    for phase in phases:
        if phase.name == name:
            return phase
    raise ConfigError(unknown_name("phase", name, [p.name for p in phases]))


def sample_phase_arch(space: SearchSpace, choices: Choices, rng: np.random.Generator, width_mult: float,
                      resolution: int) -> Arch:
    """A uniform random subnet among the phase's choices at the given resolution (canonical form)."""
    kernels, expands = [], []
    for _ in space.stages:
        d = int(rng.choice(choices.depths))
        kernels.append(tuple(int(k) for k in rng.choice(choices.kernel_sizes, size=d)))
        expands.append(tuple(int(e) for e in rng.choice(choices.expand_ratios, size=d)))
    exit_ = int(rng.choice(choices.exits))
    branches = int(rng.choice(choices.branch_masks))
    return _arch(space, resolution, width_mult, kernels, expands, exit_, branches)


def ranked_arch(space: SearchSpace, choices: Choices, width_mult: float, resolutions: tuple[int, ...],
                which: str) -> Arch:
    """The phase's "largest", "median" (middle value of every choice) or "smallest" subnet."""
    pick = {"largest": lambda v: v[-1], "median": lambda v: v[len(v) // 2], "smallest": lambda v: v[0]}
    if which not in pick:
        raise ConfigError(unknown_name("subnet rank", which, pick))
    p = pick[which]
    d, k, e = p(choices.depths), p(choices.kernel_sizes), p(choices.expand_ratios)
    return _arch(space, p(resolutions), width_mult, [(k,) * d] * space.num_stages, [(e,) * d] * space.num_stages,
                 p(choices.exits), p(choices.branch_masks))


def _arch(space: SearchSpace, resolution: int, width_mult: float, kernels: list[tuple[int, ...]],
          expands: list[tuple[int, ...]], exit_: int, branches: int) -> Arch:
    arch = Arch(int(resolution), float(width_mult), tuple(kernels), tuple(expands),
                exit_ if space.variant.early_exit else None, branches)
    return arch.canonical(space).validate(space)
