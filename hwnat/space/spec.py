"""SearchSpace: the elastic MobileNetV3 layout and its choices, as data with a fingerprint."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from hwnat.errors import SpaceError, unknown_name

ACTIVATIONS = ("relu", "hswish")
BRANCH_MBCONV, BRANCH_POINTWISE, BRANCH_POOL = 1, 2, 4
BRANCH_MASKS = (1, 3, 5, 7)  # the MBConv branch is always active
CHANNEL_DIVISOR = 8


def make_divisible(value: float, divisor: int = CHANNEL_DIVISOR, min_value: int | None = None) -> int:
    """Round a channel count to a multiple of `divisor`, never more than 10% below `value` (OFA/TF rule)."""
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


@dataclass(frozen=True)
class StageSpec:
    """One searchable stage: base width (before the width multiplier), stride, activation, SE."""

    width: int
    stride: int
    act: str
    se: bool


@dataclass(frozen=True)
class Variant:
    """OFAv2 variant flags: early exits, dense skip connections, parallel blocks."""

    early_exit: bool = False
    dense: bool = False
    parallel: bool = False

    @property
    def name(self) -> str:
        parts = [p for p, on in (("dense", self.dense), ("parallel", self.parallel)) if on]
        body = "-".join(parts) or "base"
        return f"ee-{body}" if self.early_exit else body

    @classmethod
    def parse(cls, name: str) -> Variant:
        if name not in VARIANT_NAMES:
            raise SpaceError(unknown_name("variant", name, VARIANT_NAMES))
        return VARIANT_NAMES[name]


VARIANT_NAMES: dict[str, Variant] = {
    v.name: v
    for v in (Variant(ee, d, p) for ee in (False, True) for d in (False, True) for p in (False, True))
}


@dataclass(frozen=True)
class SearchSpace:
    """Choices and layout of an elastic MobileNetV3 search space (OFA's, plus OFAv2 variants)."""

    name: str
    resolutions: tuple[int, ...]
    width_mults: tuple[float, ...]
    stages: tuple[StageSpec, ...]
    kernel_sizes: tuple[int, ...] = (3, 5, 7)
    expand_ratios: tuple[int, ...] = (3, 4, 6)
    depths: tuple[int, ...] = (2, 3, 4)
    stem_width: int = 16
    stem_stride: int = 2
    stem_act: str = "hswish"
    first_block_width: int = 16
    first_block_act: str = "relu"
    final_expand_width: int = 960
    feature_mix_width: int = 1280
    head_act: str = "hswish"
    num_classes: int = 1000
    dropout: float = 0.1
    variant: Variant = field(default_factory=Variant)
    description: str = ""

    def __post_init__(self) -> None:
        self._check()

    # -- validation -------------------------------------------------------------------------------
    def _check(self) -> None:
        def need(ok: bool, what: str) -> None:
            if not ok:
                raise SpaceError(f"search space {self.name!r}: {what}")

        need(len(self.resolutions) > 0 and all(r >= 8 for r in self.resolutions), "resolutions must be ≥ 8")
        need(list(self.resolutions) == sorted(set(self.resolutions)), "resolutions must be sorted and unique")
        need(len(self.width_mults) > 0 and all(w > 0 for w in self.width_mults), "width multipliers must be > 0")
        need(list(self.kernel_sizes) == sorted(set(self.kernel_sizes)), "kernel sizes must be sorted and unique")
        need(all(k % 2 == 1 for k in self.kernel_sizes), "kernel sizes must be odd")
        need(list(self.expand_ratios) == sorted(set(self.expand_ratios)), "expand ratios must be sorted, unique")
        need(list(self.depths) == sorted(set(self.depths)) and self.depths[0] >= 1, "depths must be sorted, ≥ 1")
        need(len(self.stages) >= 1, "at least one stage")
        for i, st in enumerate(self.stages):
            need(st.act in ACTIVATIONS, f"stage {i + 1} activation {st.act!r} not in {ACTIVATIONS}")
            need(st.stride in (1, 2), f"stage {i + 1} stride must be 1 or 2")
        for act in (self.stem_act, self.first_block_act, self.head_act):
            need(act in ACTIVATIONS, f"activation {act!r} not in {ACTIVATIONS}")
        need(self.num_classes >= 1, "num_classes must be ≥ 1")

    # -- derived sizes ----------------------------------------------------------------------------
    @property
    def num_stages(self) -> int:
        return len(self.stages)

    @property
    def max_depth(self) -> int:
        return self.depths[-1]

    @property
    def min_depth(self) -> int:
        return self.depths[0]

    @property
    def num_layers(self) -> int:
        return self.num_stages * self.max_depth

    @property
    def layer_choices(self) -> tuple[tuple[int, int], ...]:
        """(kernel, expand) per layer gene value 1..n; gene 0 means skip. Kernel varies fastest (NAT)."""
        return tuple((k, e) for e in self.expand_ratios for k in self.kernel_sizes)

    @property
    def exits(self) -> tuple[int, ...]:
        """Stage indices (1-based) after which a subnet may exit."""
        return tuple(range(1, self.num_stages + 1)) if self.variant.early_exit else (self.num_stages,)

    @property
    def branch_masks(self) -> tuple[int, ...]:
        return BRANCH_MASKS if self.variant.parallel else (BRANCH_MBCONV,)

    def check_width(self, width_mult: float) -> float:
        if float(width_mult) not in [float(w) for w in self.width_mults]:
            raise SpaceError(
                f"width multiplier {width_mult} is not in space {self.name!r}; allowed: "
                + ", ".join(str(w) for w in self.width_mults)
            )
        return float(width_mult)

    def widths(self, width_mult: float) -> dict[str, Any]:
        """Channel counts at a width multiplier: stem, first block, stages, final expand, feature mix."""
        w = self.check_width(width_mult)
        return {
            "stem": make_divisible(self.stem_width * w),
            "first_block": make_divisible(self.first_block_width * w),
            "stages": tuple(make_divisible(s.width * w) for s in self.stages),
            "final_expand": make_divisible(self.final_expand_width * w),
            "feature_mix": make_divisible(self.feature_mix_width * w),
        }

    def exit_widths(self, width_mult: float) -> tuple[tuple[int, int], ...]:
        """(expand, feature mix) widths of the exit head after each stage; the last is the main head."""
        wd = self.widths(width_mult)
        heads = [(make_divisible(6 * c), wd["feature_mix"]) for c in wd["stages"][:-1]]
        return tuple(heads) + ((wd["final_expand"], wd["feature_mix"]),)

    def mid_channels(self, in_channels: int, expand_ratio: int) -> int:
        return make_divisible(round(in_channels * expand_ratio))

    def size(self) -> int:
        """Number of distinct canonical architectures."""
        per_choice = len(self.layer_choices)
        stage = sum(per_choice**d for d in self.depths)
        base = len(self.resolutions) * len(self.width_mults) * len(self.branch_masks)
        if not self.variant.early_exit:
            return base * stage**self.num_stages
        return base * sum(stage**n for n in self.exits)

    # -- identity ---------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["variant"] = self.variant.name
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SearchSpace:
        d = dict(d)
        try:
            d["stages"] = tuple(StageSpec(**s) for s in d["stages"])
            d["variant"] = Variant.parse(d.get("variant", "base"))
            for key in ("resolutions", "width_mults", "kernel_sizes", "expand_ratios", "depths"):
                if key in d:
                    d[key] = tuple(d[key])
            return cls(**d)
        except (KeyError, TypeError) as exc:
            raise SpaceError(f"invalid search space description: {exc}") from exc

    @property
    def fingerprint(self) -> str:
        """Hash of everything that shapes the networks (not the name or description)."""
        d = self.to_dict()
        d.pop("name")
        d.pop("description")
        blob = json.dumps(d, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def with_variant(self, variant: Variant | str) -> SearchSpace:
        v = Variant.parse(variant) if isinstance(variant, str) else variant
        return replace(self, variant=v)

    def with_classes(self, num_classes: int) -> SearchSpace:
        if int(num_classes) < 1:
            raise SpaceError(f"num_classes must be ≥ 1, got {num_classes}")
        return replace(self, num_classes=int(num_classes))

    @property
    def genome_length(self) -> int:
        return 2 + self.num_layers + int(self.variant.early_exit) + int(self.variant.parallel)
