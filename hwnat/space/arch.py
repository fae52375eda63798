"""Arch: one subnet of a search space (resolution, width, per-stage kernels and expands, exit, branches)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hwnat.errors import SpaceError
from hwnat.space.spec import BRANCH_MBCONV, SearchSpace


@dataclass(frozen=True)
class Arch:
    """A subnet. `kernels[s]` and `expands[s]` list the active layers of stage s (length = its depth)."""

    resolution: int
    width_mult: float
    kernels: tuple[tuple[int, ...], ...]
    expands: tuple[tuple[int, ...], ...]
    exit: int | None = None
    branches: int = BRANCH_MBCONV

    @property
    def depths(self) -> tuple[int, ...]:
        return tuple(len(k) for k in self.kernels)

    def exit_stage(self, space: SearchSpace) -> int:
        return space.num_stages if self.exit is None else self.exit

    def validate(self, space: SearchSpace) -> Arch:
        """Raise SpaceError naming the first value the space does not allow; return self."""
        def bad(what: str, value: Any, allowed: Any) -> SpaceError:
            return SpaceError(f"arch {what} {value!r} is not allowed in space {space.name!r}; allowed: {allowed}")

        if self.resolution not in space.resolutions:
            raise bad("resolution", self.resolution, list(space.resolutions))
        space.check_width(self.width_mult)
        if len(self.kernels) != space.num_stages or len(self.expands) != space.num_stages:
            raise bad("stage count", len(self.kernels), space.num_stages)
        for s, (ks, es) in enumerate(zip(self.kernels, self.expands), start=1):
            if len(ks) != len(es):
                raise SpaceError(f"arch stage {s}: {len(ks)} kernels but {len(es)} expand ratios")
            if len(ks) not in space.depths:
                raise bad(f"stage {s} depth", len(ks), list(space.depths))
            for k in ks:
                if k not in space.kernel_sizes:
                    raise bad(f"stage {s} kernel size", k, list(space.kernel_sizes))
            for e in es:
                if e not in space.expand_ratios:
                    raise bad(f"stage {s} expand ratio", e, list(space.expand_ratios))
        if self.exit is not None and self.exit not in space.exits:
            raise bad("exit", self.exit, list(space.exits))
        if self.branches not in space.branch_masks:
            raise bad("branch mask", self.branches, list(space.branch_masks))
        return self

    def canonical(self, space: SearchSpace) -> Arch:
        """Stages after the exit take the smallest configuration; the last exit is written as None."""
        stop = self.exit_stage(space)
        kernels, expands = list(self.kernels), list(self.expands)
        smallest_k, smallest_e = space.kernel_sizes[0], space.expand_ratios[0]
        for s in range(stop, space.num_stages):
            kernels[s] = (smallest_k,) * space.min_depth
            expands[s] = (smallest_e,) * space.min_depth
        exit_ = None if stop == space.num_stages else stop
        return Arch(self.resolution, float(self.width_mult), tuple(kernels), tuple(expands), exit_, self.branches)

    def to_dict(self) -> dict[str, Any]:
        return {
            "resolution": self.resolution,
            "width_mult": self.width_mult,
            "kernels": [list(k) for k in self.kernels],
            "expands": [list(e) for e in self.expands],
            "exit": self.exit,
            "branches": self.branches,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Arch:
        try:
            return cls(
                resolution=int(d["resolution"]),
                width_mult=float(d["width_mult"]),
                kernels=tuple(tuple(int(k) for k in ks) for ks in d["kernels"]),
                expands=tuple(tuple(int(e) for e in es) for es in d["expands"]),
                exit=None if d.get("exit") is None else int(d["exit"]),
                branches=int(d.get("branches", BRANCH_MBCONV)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise SpaceError(f"invalid arch description {d!r}: {exc}") from exc


def max_arch(space: SearchSpace, width_mult: float | None = None) -> Arch:
    """The largest subnet: top resolution, deepest stages, largest kernel and expand, all branches."""
    w = space.width_mults[-1] if width_mult is None else width_mult
    d, k, e = space.max_depth, space.kernel_sizes[-1], space.expand_ratios[-1]
    return Arch(
        space.resolutions[-1], float(w),
        tuple((k,) * d for _ in space.stages), tuple((e,) * d for _ in space.stages),
        None, space.branch_masks[-1],
    )


def mid_arch(space: SearchSpace, width_mult: float | None = None) -> Arch:
    """A middling subnet: the middle resolution, width, depth, kernel and expand of the space, the last exit and
    the first branch mask (a fixed reference network for relative timing)."""
    def mid(values: tuple[Any, ...]) -> Any:
        return values[(len(values) - 1) // 2]

    w = mid(space.width_mults) if width_mult is None else width_mult
    d, k, e = mid(space.depths), mid(space.kernel_sizes), mid(space.expand_ratios)
    return Arch(mid(space.resolutions), float(w), tuple((k,) * d for _ in space.stages),
                tuple((e,) * d for _ in space.stages), None, space.branch_masks[0])


def min_arch(space: SearchSpace, width_mult: float | None = None) -> Arch:
    """The smallest subnet (the earliest exit in early-exit spaces)."""
    w = space.width_mults[0] if width_mult is None else width_mult
    d, k, e = space.min_depth, space.kernel_sizes[0], space.expand_ratios[0]
    arch = Arch(
        space.resolutions[0], float(w),
        tuple((k,) * d for _ in space.stages), tuple((e,) * d for _ in space.stages),
        space.exits[0], space.branch_masks[0],
    )
    return arch.canonical(space)
