"""Batched tensor transforms: shapes, determinism under a seeded generator, per-sample randomness, presets."""

from __future__ import annotations

import pytest
import torch

from hwnat.data import transforms as T
from hwnat.errors import ConfigError


def batch(n: int = 16, size: int = 12) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(0))


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


RANDOM = [T.RandomCrop(12, padding=2), T.RandomHorizontalFlip(), T.RandomResizedCrop(10),
          T.train_transform(12, "cifar"), T.train_transform(12, "imagenet")]


@pytest.mark.parametrize("transform", RANDOM, ids=repr)
def test_random_transforms_are_reproducible_and_seed_dependent(transform: T.Transform) -> None:
    x = batch()
    a, b, c = transform(x, gen(1)), transform(x, gen(1)), transform(x, gen(2))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.dtype == torch.float32 and a.shape[:2] == x.shape[:2]


def test_random_crop_shape_padding_and_per_sample_offsets() -> None:
    x = batch()
    y = T.RandomCrop(12, padding=3)(x, gen())
    assert y.shape == x.shape and not torch.equal(y, x)
    assert (y == 0).any()
    same_batch = x[:1].expand(16, -1, -1, -1)
    crops = T.RandomCrop(8)(same_batch, gen())
    assert crops.shape == (16, 3, 8, 8)
    assert len({tuple(c.flatten()[:5].tolist()) for c in crops}) > 1
    for crop in crops:
        windows = same_batch[0].unfold(1, 8, 1).unfold(2, 8, 1).permute(1, 2, 0, 3, 4)
        assert any(torch.equal(crop, w) for w in windows.reshape(-1, 3, 8, 8))


def test_flip_mirrors_about_half_the_samples() -> None:
    x = batch(200)
    y = T.RandomHorizontalFlip(0.5)(x, gen())
    flipped = torch.tensor([torch.equal(a.flip(-1), b) for a, b in zip(x, y)])
    unchanged = torch.tensor([torch.equal(a, b) for a, b in zip(x, y)])
    assert bool((flipped | unchanged).all()) and 60 < int(flipped.sum()) < 140
    assert torch.equal(T.RandomHorizontalFlip(1.0)(x), x.flip(-1))
    assert torch.equal(T.RandomHorizontalFlip(0.0)(x), x)


def test_random_resized_crop_boxes_and_output() -> None:
    t = T.RandomResizedCrop(7, scale=(0.25, 1.0))
    boxes = t.boxes(500, 40, 30, gen())
    top, left, h, w = boxes.unbind(1)
    assert bool(((top >= 0) & (left >= 0) & (top + h <= 40) & (left + w <= 30) & (h > 0) & (w > 0)).all())
    area = (h * w).double() / (40 * 30)
    assert area.min() >= 0.2
    assert len({tuple(b) for b in boxes.tolist()}) > 100
    y = t(batch(4, 40), gen())
    assert y.shape == (4, 3, 7, 7)
    whole = T.RandomResizedCrop(12, scale=(1.0, 1.0), ratio=(1.0, 1.0))(batch(2), gen())
    assert torch.allclose(whole, batch(2))


def test_resize_center_crop_normalize() -> None:
    x = batch(2, 16)
    assert T.Resize(8)(x).shape == (2, 3, 8, 8)
    assert T.Resize(8)(torch.rand(1, 3, 16, 32)).shape == (1, 3, 8, 16)
    assert T.Resize((5, 7))(x).shape == (2, 3, 5, 7)
    assert T.Resize(16)(x) is x
    assert torch.equal(T.CenterCrop(8)(x), x[..., 4:12, 4:12])
    padded = T.CenterCrop(20)(x)
    assert padded.shape == (2, 3, 20, 20) and torch.equal(padded[..., 2:18, 2:18], x)
    mean, std = (0.5, 0.25, 0.0), (0.5, 0.5, 2.0)
    normed = T.Normalize(mean, std)(x)
    assert torch.allclose(normed * torch.tensor(std)[:, None, None] + torch.tensor(mean)[:, None, None], x)


def test_presets_and_compose() -> None:
    x = batch(4, 32)
    assert T.train_transform(32)(x, gen()).shape == (4, 3, 32, 32)
    assert T.train_transform(24, kind="imagenet")(x, gen()).shape == (4, 3, 24, 24)
    assert T.train_transform(24, kind="cifar")(x, gen()).shape == (4, 3, 24, 24)
    evaluated = T.eval_transform(32)(x)
    assert torch.allclose(evaluated, T.Normalize(T.IMAGENET_MEAN, T.IMAGENET_STD)(x))
    assert torch.equal(T.eval_transform(32)(x), T.eval_transform(32)(x, gen(5)))
    assert T.eval_transform(28, crop_fraction=0.875)(x).shape == (4, 3, 28, 28)
    assert "RandomCrop" in repr(T.train_transform(32))


@pytest.mark.parametrize("make, message", [
    (lambda: T.RandomCrop(0), "RandomCrop size"),
    (lambda: T.RandomCrop(8, padding=-1), "padding"),
    (lambda: T.RandomHorizontalFlip(1.5), "probability"),
    (lambda: T.RandomResizedCrop(8, scale=(0.5, 0.1)), "scale"),
    (lambda: T.Normalize((0.5,), (0.0,)), "std must be positive"),
    (lambda: T.train_transform(32, kind="svhn"), "allowed: cifar, imagenet"),
    (lambda: T.eval_transform(32, crop_fraction=0), "crop_fraction"),
])
def test_bad_arguments_are_refused(make, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make()


def test_bad_input_tensors_are_refused() -> None:
    with pytest.raises(ValueError, match=r"floating \(N, C, H, W\)"):
        T.RandomHorizontalFlip()(torch.zeros(3, 8, 8))
    with pytest.raises(ValueError, match="floating"):
        T.RandomHorizontalFlip()(torch.zeros(1, 3, 8, 8, dtype=torch.uint8))
    with pytest.raises(ValueError, match="exceeds"):
        T.RandomCrop(10)(batch(1, 8))
