"""Batched tensor transforms for float32 NCHW images with per-sample randomness from an explicit generator."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from hwnat.errors import ConfigError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

Size = int | tuple[int, int]


class Transform:
    """A callable `t(x, generator=None) -> x` on an (N, C, H, W) floating batch."""

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        raise NotImplementedError

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({fields})"


class Compose(Transform):
    def __init__(self, transforms: Sequence[Transform]) -> None:
        self.transforms = list(transforms)

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        for transform in self.transforms:
            x = transform(x, generator)
        return x


class RandomCrop(Transform):
    """Zero-pad every side by `padding`, then crop `size` at an independent random offset per sample."""

    def __init__(self, size: Size, padding: int = 0) -> None:
        self.size = _pair("RandomCrop size", size)
        if isinstance(padding, bool) or not isinstance(padding, int) or padding < 0:
            raise ConfigError(f"RandomCrop padding must be a non-negative integer, got {padding!r}")
        self.padding = padding

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        _check(x)
        if self.padding:
            x = F.pad(x, (self.padding,) * 4)
        (height, width), (out_h, out_w) = x.shape[-2:], self.size
        if out_h > height or out_w > width:
            raise ValueError(f"RandomCrop size {self.size} exceeds the padded image {height}x{width}")
        n = len(x)
        top = _randint(height - out_h + 1, n, generator).to(x.device)
        left = _randint(width - out_w + 1, n, generator).to(x.device)
        windows = x.unfold(2, out_h, 1).unfold(3, out_w, 1)
        return windows[torch.arange(n, device=x.device), :, top, left]


class RandomHorizontalFlip(Transform):
    """Mirror each sample left-right with probability `p`."""

    def __init__(self, p: float = 0.5) -> None:
        self.p = _probability(p)

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        _check(x)
        flip = (_rand(len(x), generator) < self.p).to(x.device)
        return torch.where(flip[:, None, None, None], x.flip(-1), x)


class RandomResizedCrop(Transform):
    """Crop a random area fraction in `scale` with aspect ratio in `ratio` (log-uniform) per sample, resized to
    `size` (antialiased bilinear); after 10 failed draws a sample falls back to a centre crop, as in torchvision."""

    def __init__(self, size: Size, scale: tuple[float, float] = (0.08, 1.0),
                 ratio: tuple[float, float] = (3 / 4, 4 / 3)) -> None:
        self.size = _pair("RandomResizedCrop size", size)
        if not (len(scale) == 2 and 0 < scale[0] <= scale[1] <= 1):
            raise ConfigError(f"RandomResizedCrop scale must be (lo, hi) with 0 < lo <= hi <= 1, got {scale!r}")
        if not (len(ratio) == 2 and 0 < ratio[0] <= ratio[1]):
            raise ConfigError(f"RandomResizedCrop ratio must be (lo, hi) with 0 < lo <= hi, got {ratio!r}")
        self.scale = (float(scale[0]), float(scale[1]))
        self.ratio = (float(ratio[0]), float(ratio[1]))

    def boxes(self, n: int, height: int, width: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """(n, 4) int64 crop boxes (top, left, height, width)."""
        attempts = 10
        area = height * width
        target = area * (self.scale[0] + (self.scale[1] - self.scale[0]) * _rand((n, attempts), generator))
        log_lo, log_hi = math.log(self.ratio[0]), math.log(self.ratio[1])
        aspect = torch.exp(log_lo + (log_hi - log_lo) * _rand((n, attempts), generator))
        crop_w = torch.sqrt(target * aspect).round().long()
        crop_h = torch.sqrt(target / aspect).round().long()
        ok = (crop_w > 0) & (crop_w <= width) & (crop_h > 0) & (crop_h <= height)
        first = torch.where(ok.any(1), ok.int().argmax(1), torch.zeros(n, dtype=torch.long))
        pick = torch.arange(n)
        box_h, box_w = crop_h[pick, first], crop_w[pick, first]
        fallback_h, fallback_w = _centre_fallback(height, width, self.ratio)
        found = ok.any(1)
        box_h = torch.where(found, box_h, torch.full_like(box_h, fallback_h))
        box_w = torch.where(found, box_w, torch.full_like(box_w, fallback_w))
        top = (_rand(n, generator) * (height - box_h + 1).double()).long()
        left = (_rand(n, generator) * (width - box_w + 1).double()).long()
        top = torch.where(found, top, (height - box_h) // 2)
        left = torch.where(found, left, (width - box_w) // 2)
        return torch.stack([top, left, box_h, box_w], 1)

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        _check(x)
        boxes = self.boxes(len(x), x.shape[-2], x.shape[-1], generator).tolist()
        out = x.new_empty((len(x), x.shape[1], *self.size))
        for i, (top, left, box_h, box_w) in enumerate(boxes):
            crop = x[i:i + 1, :, top:top + box_h, left:left + box_w]
            out[i] = F.interpolate(crop, size=self.size, mode="bilinear", antialias=True, align_corners=False)[0]
        return out


class Resize(Transform):
    """Antialiased bilinear resize: an int matches the shorter side (aspect kept), a pair is (height, width).
    A batch already of that size passes through unchanged."""

    def __init__(self, size: Size) -> None:
        pair = _pair("Resize size", size)
        self.size: int | tuple[int, int] = pair[0] if isinstance(size, int) else pair

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        _check(x)
        height, width = x.shape[-2:]
        if isinstance(self.size, int):
            short = min(height, width)
            size = (max(1, round(height * self.size / short)), max(1, round(width * self.size / short)))
        else:
            size = self.size
        if (height, width) == size:
            return x
        return F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)


class CenterCrop(Transform):
    """Crop `size` from the centre, zero-padding first where the image is smaller."""

    def __init__(self, size: Size) -> None:
        self.size = _pair("CenterCrop size", size)

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        _check(x)
        (height, width), (out_h, out_w) = x.shape[-2:], self.size
        pad_h, pad_w = max(0, out_h - height), max(0, out_w - width)
        if pad_h or pad_w:
            x = F.pad(x, (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2))
            height, width = x.shape[-2:]
        top, left = (height - out_h) // 2, (width - out_w) // 2
        return x[..., top:top + out_h, left:left + out_w]


class Normalize(Transform):
    """(x - mean) / std per channel."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        if len(mean) != len(std) or not len(mean):
            raise ConfigError(f"Normalize mean and std need one value per channel, got {mean!r} and {std!r}")
        if any(s <= 0 for s in std):
            raise ConfigError(f"Normalize std must be positive, got {std!r}")
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        _check(x)
        if x.shape[1] != len(self.mean):
            raise ValueError(f"Normalize has {len(self.mean)} channels, the batch has {x.shape[1]}")
        mean = torch.tensor(self.mean, dtype=x.dtype, device=x.device)[None, :, None, None]
        std = torch.tensor(self.std, dtype=x.dtype, device=x.device)[None, :, None, None]
        return (x - mean) / std


def train_transform(resolution: int, kind: str = "cifar") -> Compose:
    """Training augmentation ending in ImageNet normalisation. "cifar": resize to `resolution`, pad 1/8 and random
    crop, flip. "imagenet": random resized crop to `resolution`, flip."""
    _pair("resolution", resolution)
    normalize = Normalize(IMAGENET_MEAN, IMAGENET_STD)
    if kind == "cifar":
        return Compose([Resize((resolution, resolution)), RandomCrop(resolution, padding=max(1, resolution // 8)),
                        RandomHorizontalFlip(), normalize])
    if kind == "imagenet":
        return Compose([RandomResizedCrop(resolution), RandomHorizontalFlip(), normalize])
    raise ConfigError(f"unknown train transform kind {kind!r}; allowed: cifar, imagenet")


def eval_transform(resolution: int, *, crop_fraction: float = 1.0) -> Compose:
    """Resize the shorter side to resolution / crop_fraction, centre-crop `resolution`, ImageNet normalisation."""
    _pair("resolution", resolution)
    if not 0 < crop_fraction <= 1:
        raise ConfigError(f"crop_fraction must lie in (0, 1], got {crop_fraction!r}")
    return Compose([Resize(max(resolution, round(resolution / crop_fraction))), CenterCrop(resolution),
                    Normalize(IMAGENET_MEAN, IMAGENET_STD)])


def _pair(name: str, size: Size) -> tuple[int, int]:
    pair = (size, size) if isinstance(size, int) else tuple(size)
    if len(pair) != 2 or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in pair):
        raise ConfigError(f"{name} must be a positive integer or (height, width), got {size!r}")
    return pair  # type: ignore[return-value]


def _probability(p: float) -> float:
    if not 0.0 <= p <= 1.0:
        raise ConfigError(f"probability must lie in [0, 1], got {p!r}")
    return float(p)


def _check(x: torch.Tensor) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or not x.is_floating_point():
        raise ValueError(f"transforms take a floating (N, C, H, W) tensor, got "
                         f"{getattr(x, 'dtype', type(x).__name__)} {tuple(getattr(x, 'shape', ()))}")


def _generator_device(generator: torch.Generator | None) -> torch.device:
    return generator.device if generator is not None else torch.device("cpu")


def _rand(shape: int | tuple[int, ...], generator: torch.Generator | None) -> torch.Tensor:
    size = (shape,) if isinstance(shape, int) else shape
    return torch.rand(size, generator=generator, dtype=torch.float64, device=_generator_device(generator)).cpu()


def _randint(high: int, n: int, generator: torch.Generator | None) -> torch.Tensor:
    return torch.randint(high, (n,), generator=generator, device=_generator_device(generator)).cpu()


def _centre_fallback(height: int, width: int, ratio: tuple[float, float]) -> tuple[int, int]:
    in_ratio = width / height
    if in_ratio < ratio[0]:
        return round(width / ratio[0]), width
    if in_ratio > ratio[1]:
        return height, round(height * ratio[1])
    return height, width
