"""Registry of named search-space presets (`ofa-mbv3`, `mbv3-small-input`) with a `get_space` factory."""

from __future__ import annotations

from collections.abc import Callable

from hwnat.errors import SpaceError, unknown_name
from hwnat.space.spec import SearchSpace, StageSpec, Variant

_SPACES: dict[str, Callable[[], SearchSpace]] = {}

# OFA's MobileNetV3 layout (ImageNet): widths 24/40/80/112/160, strides 2/2/2/1/2, SE in stages 2, 4, 5.
OFA_MBV3_STAGES = (
    StageSpec(24, 2, "relu", False),
    StageSpec(40, 2, "relu", True),
    StageSpec(80, 2, "hswish", False),
    StageSpec(112, 1, "hswish", True),
    StageSpec(160, 2, "hswish", True),
)


def register_space(fn: Callable[[], SearchSpace]) -> Callable[[], SearchSpace]:
    name = fn().name
    if name in _SPACES:
        raise ValueError(f"search space {name!r} registered twice")
    _SPACES[name] = fn
    return fn


def list_spaces() -> list[str]:
    return sorted(_SPACES)


def get_space(name: str, *, variant: str | Variant | None = None, num_classes: int | None = None) -> SearchSpace:
    """A preset by name, optionally as another OFAv2 variant or with another number of classes."""
    if name not in _SPACES:
        raise SpaceError(unknown_name("search space", name, _SPACES))
    space = _SPACES[name]()
    if variant is not None:
        space = space.with_variant(variant)
    if num_classes is not None:
        space = space.with_classes(num_classes)
    return space


@register_space
def ofa_mbv3() -> SearchSpace:
    return SearchSpace(
        name="ofa-mbv3",
        resolutions=tuple(range(128, 257, 4)),
        width_mults=(1.0, 1.2),
        stages=OFA_MBV3_STAGES,
        description="OFA's MobileNetV3 space (ofa_mbv3_d234_e346_k357_w1.0/w1.2), ImageNet layout, 1000 classes",
    )


@register_space
def mbv3_small_input() -> SearchSpace:
    return SearchSpace(
        name="mbv3-small-input",
        resolutions=(32, 40, 48, 56, 64),
        width_mults=(0.5, 0.75, 1.0),
        stages=(
            StageSpec(24, 1, "relu", False),
            StageSpec(40, 2, "relu", True),
            StageSpec(80, 2, "hswish", False),
            StageSpec(112, 1, "hswish", True),
            StageSpec(160, 2, "hswish", True),
        ),
        stem_stride=1,
        num_classes=10,
        description="OFA's MobileNetV3 space for 32-64 px inputs (stem stride 1, first stage stride 1), "
        "10 classes; CPU-trainable at width 0.5",
    )
