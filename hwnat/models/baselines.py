"""MobileNetV3-Small / -Large baselines (Howard et al. 2019, Tables 1-2) as static NetConfigs for small inputs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hwnat.errors import ConfigError, unknown_name
from hwnat.models.config import BlockConfig, HeadConfig, NetConfig, se_mid_channels
from hwnat.models.mobilenetv3 import MobileNetV3
from hwnat.space.spec import make_divisible

BASELINE_WIDTHS = (0.5, 0.75, 1.0)
SMALL_INPUT_STRIDE_1 = 2  # the first two stride-2 layers (stem included) run at stride 1: total stride 32 → 8


@dataclass(frozen=True)
class Bneck:
    """One row of the paper's table: kernel, expansion (absolute mid channels), output, SE, activation, stride."""

    kernel: int
    exp: int
    out: int
    se: bool
    act: str
    stride: int


@dataclass(frozen=True)
class BaselineSpec:
    """A MobileNetV3 as the paper tables it (ImageNet strides), before width scaling and small-input strides."""

    name: str
    stem: int
    bnecks: tuple[Bneck, ...]
    last_conv: int      # final 1×1 conv (BN, h-swish): 6 × the last bneck's output, scaled with it
    feature_mix: int    # 1×1 conv without BN after pooling (h-swish)
    description: str
    stem_stride: int = 2
    stem_act: str = "hswish"
    head_act: str = "hswish"

    @property
    def stride_two_layers(self) -> list[int]:
        """Indices of the stride-2 layers: -1 is the stem, i ≥ 0 the i-th bneck."""
        return ([-1] if self.stem_stride == 2 else []) + [i for i, b in enumerate(self.bnecks) if b.stride == 2]


R, H = "relu", "hswish"

# Table 1 of "Searching for MobileNetV3": 15 bneck blocks.
MOBILENETV3_LARGE = BaselineSpec(
    "mbv3-large",
    stem=16,
    bnecks=(
        Bneck(3, 16, 16, False, R, 1),
        Bneck(3, 64, 24, False, R, 2),
        Bneck(3, 72, 24, False, R, 1),
        Bneck(5, 72, 40, True, R, 2),
        Bneck(5, 120, 40, True, R, 1),
        Bneck(5, 120, 40, True, R, 1),
        Bneck(3, 240, 80, False, H, 2),
        Bneck(3, 200, 80, False, H, 1),
        Bneck(3, 184, 80, False, H, 1),
        Bneck(3, 184, 80, False, H, 1),
        Bneck(3, 480, 112, True, H, 1),
        Bneck(3, 672, 112, True, H, 1),
        Bneck(5, 672, 160, True, H, 2),
        Bneck(5, 960, 160, True, H, 1),
        Bneck(5, 960, 160, True, H, 1),
    ),
    last_conv=960,
    feature_mix=1280,
    description="MobileNetV3-Large (paper Table 1): 15 bnecks, final 960, feature mix 1280",
)

# Table 2: 11 bneck blocks. The paper's table marks SE on the final 1×1 conv (576); the authors' released
# TF-slim model and torchvision have none there, and neither has this one (hwnat's Head has no SE).
MOBILENETV3_SMALL = BaselineSpec(
    "mbv3-small",
    stem=16,
    bnecks=(
        Bneck(3, 16, 16, True, R, 2),
        Bneck(3, 72, 24, False, R, 2),
        Bneck(3, 88, 24, False, R, 1),
        Bneck(5, 96, 40, True, H, 2),
        Bneck(5, 240, 40, True, H, 1),
        Bneck(5, 240, 40, True, H, 1),
        Bneck(5, 120, 48, True, H, 1),
        Bneck(5, 144, 48, True, H, 1),
        Bneck(5, 288, 96, True, H, 2),
        Bneck(5, 576, 96, True, H, 1),
        Bneck(5, 576, 96, True, H, 1),
    ),
    last_conv=576,
    feature_mix=1024,
    description="MobileNetV3-Small (paper Table 2): 11 bnecks, final 576, feature mix 1024",
)

_BASELINES: dict[str, Callable[[], BaselineSpec]] = {}


def register_baseline(fn: Callable[[], BaselineSpec]) -> Callable[[], BaselineSpec]:
    name = fn().name
    if name in _BASELINES:
        raise ValueError(f"baseline {name!r} registered twice")
    _BASELINES[name] = fn
    return fn


@register_baseline
def mbv3_small() -> BaselineSpec:
    return MOBILENETV3_SMALL


@register_baseline
def mbv3_large() -> BaselineSpec:
    return MOBILENETV3_LARGE


def list_baselines() -> list[str]:
    return sorted(_BASELINES)


def get_baseline(name: str) -> BaselineSpec:
    if name not in _BASELINES:
        raise ConfigError(unknown_name("baseline", name, _BASELINES))
    return _BASELINES[name]()


def baseline_id(name: str, width_mult: float, resolution: int) -> str:
    """A readable id such as `mbv3-small-w0.75-r32`."""
    return f"{name}-w{float(width_mult)}-r{int(resolution)}"


def small_input_strides(spec: BaselineSpec, ones: int = SMALL_INPUT_STRIDE_1) -> tuple[int, list[int]]:
    """(stem stride, bneck strides) with the first `ones` stride-2 layers set to stride 1 — what
    `mbv3-small-input` does to OFA's layout (stem stride 1, first stage stride 1) — so 32 px inputs end at 4×4."""
    stem = spec.stem_stride
    strides = [b.stride for b in spec.bnecks]
    for index in spec.stride_two_layers[:ones]:
        if index < 0:
            stem = 1
        else:
            strides[index] = 1
    return stem, strides


def baseline_config(name: str, num_classes: int = 10, *, width_mult: float = 1.0, resolution: int = 32,
                    dropout: float = 0.2, small_input: bool = True) -> NetConfig:
    """The baseline as concrete layers. Channels scale like torchvision's (every count × width, rounded to a
    multiple of 8, never 10% below; the final conv is 6× the last bneck's output), including the feature mix."""
    spec = get_baseline(name)
    _check(num_classes, width_mult, resolution, dropout)
    w = float(width_mult)

    def ch(c: int) -> int:
        return make_divisible(c * w)

    stem_stride, strides = small_input_strides(spec) if small_input else (spec.stem_stride,
                                                                          [b.stride for b in spec.bnecks])
    blocks = []
    cin = ch(spec.stem)
    for b, stride in zip(spec.bnecks, strides):
        mid, cout = ch(b.exp), ch(b.out)
        blocks.append(BlockConfig(cin, cout, b.kernel, stride, mid, b.act, b.se, expand=mid != cin,
                                  residual=stride == 1 and cin == cout,
                                  se_mid=se_mid_channels(mid) if b.se else 0))
        cin = cout
    stages = _stage_ranges(blocks)
    last = cin * spec.last_conv // spec.bnecks[-1].out
    head = HeadConfig(cin, last, ch(spec.feature_mix), num_classes, spec.head_act, dropout)
    return NetConfig(resolution, ch(spec.stem), stem_stride, spec.stem_act, tuple(blocks), stages, False, head)


def create_baseline(name: str, num_classes: int = 10, *, width_mult: float = 1.0, resolution: int = 32,
                    dropout: float = 0.2, small_input: bool = True) -> MobileNetV3:
    """A freshly initialised (OFA's scheme) static MobileNetV3 baseline; exports and runs like any hwnat subnet."""
    from hwnat.models.init import init_weights

    model = MobileNetV3(baseline_config(name, num_classes, width_mult=width_mult, resolution=resolution,
                                        dropout=dropout, small_input=small_input))
    init_weights(model)
    return model


def describe(config: NetConfig) -> dict[str, Any]:
    """Layer summary: stem, bnecks (kernel, mid, out, SE, act, stride) and head widths."""
    return {"resolution": config.resolution, "stem": [config.stem_out, config.stem_stride],
            "bnecks": [[b.kernel, b.mid, b.cout, b.se, b.act, b.stride] for b in config.blocks],
            "head": [config.head.expand, config.head.mix, config.head.num_classes]}


def _stage_ranges(blocks: list[BlockConfig]) -> tuple[tuple[int, int], ...]:
    """Blocks after the first grouped into stages by output width (MobileNetV3's forward needs blocks[0] apart)."""
    ranges: list[tuple[int, int]] = []
    start = 1
    for i in range(2, len(blocks) + 1):
        if i == len(blocks) or blocks[i].cout != blocks[i - 1].cout:
            ranges.append((start, i))
            start = i
    return tuple(ranges)


def _check(num_classes: int, width_mult: float, resolution: int, dropout: float) -> None:
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ConfigError(f"num_classes must be a positive integer, got {num_classes!r}")
    if isinstance(width_mult, bool) or not isinstance(width_mult, (int, float)) or not 0 < width_mult <= 4:
        raise ConfigError(f"width_mult must lie in (0, 4], got {width_mult!r} (the benchmark uses "
                          f"{', '.join(map(str, BASELINE_WIDTHS))})")
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 8:
        raise ConfigError(f"resolution must be an integer ≥ 8, got {resolution!r}")
    if not 0 <= dropout < 1:
        raise ConfigError(f"dropout must lie in [0, 1), got {dropout!r}")
