"""The batch loader: shapes and ranges, lengths, and epochs that reproduce from (seed, epoch)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hwnat.data import array_dataset, make_loader, transforms
from hwnat.errors import ConfigError


def dataset(n: int = 10):
    images = np.zeros((n, 4, 4, 3), np.uint8)
    images[:, 0, 0, 0] = np.arange(n)
    images[:, 1, 1, :] = 255
    return array_dataset(images, np.arange(n) % 3)


def order(batches) -> list[int]:
    return [int(v) for x, _ in batches for v in (x[:, 0, 0, 0] * 255).round()]


def test_batches_are_float_nchw_in_unit_range_with_int64_labels() -> None:
    loader = make_loader(dataset(), batch_size=4)
    batches = list(loader)
    assert len(loader) == len(batches) == 3
    x, y = batches[0]
    assert x.shape == (4, 3, 4, 4) and x.dtype == torch.float32 and x.is_contiguous()
    assert x.min() >= 0 and x.max() == 1.0 and y.dtype == torch.int64
    assert y.tolist() == [0, 1, 2, 0] and batches[-1][0].shape[0] == 2
    assert order(batches) == list(range(10))


def test_drop_last_length() -> None:
    loader = make_loader(dataset(), batch_size=4, drop_last=True)
    assert len(loader) == 2 and [len(y) for _, y in loader] == [4, 4]


def test_shuffled_epochs_reproduce_and_differ() -> None:
    a = make_loader(dataset(50), batch_size=8, shuffle=True, seed=3)
    b = make_loader(dataset(50), batch_size=8, shuffle=True, seed=3)
    a_epochs = [order(a) for _ in range(3)]
    b_epochs = [order(b) for _ in range(3)]
    assert a_epochs == b_epochs
    assert a_epochs[0] != a_epochs[1] and sorted(a_epochs[0]) == list(range(50))
    a.set_epoch(1)
    assert order(a) == a_epochs[1]
    other_seed = make_loader(dataset(50), batch_size=8, shuffle=True, seed=4)
    assert order(other_seed) != a_epochs[0]


def test_transform_randomness_follows_seed_and_epoch() -> None:
    flip = transforms.RandomHorizontalFlip()

    def run(seed: int, epoch: int) -> list[torch.Tensor]:
        loader = make_loader(dataset(40), batch_size=8, transform=flip, shuffle=True, seed=seed)
        loader.set_epoch(epoch)
        return [x for x, _ in loader]

    same, again, later = run(0, 2), run(0, 2), run(0, 3)
    assert all(torch.equal(p, q) for p, q in zip(same, again))
    assert not all(torch.equal(p, q) for p, q in zip(same, later))


def test_bad_arguments() -> None:
    with pytest.raises(ConfigError, match="batch_size"):
        make_loader(dataset(), batch_size=0)
    with pytest.raises(ConfigError, match="seed"):
        make_loader(dataset(), batch_size=2, seed=-1)
    with pytest.raises(ConfigError, match="epoch"):
        make_loader(dataset(), batch_size=2).set_epoch(-1)
