"""Train/val/test splits: deterministic per seed, disjoint, covering, stratified, validated."""

from __future__ import annotations

import numpy as np
import pytest

from hwnat.data import ImageDataset, Splits, array_dataset, holdout_splits, split_dataset
from hwnat.errors import ConfigError


def tagged(counts: list[int]) -> ImageDataset:
    """A dataset whose pixel (0, 0, 0) and (0, 0, 1) encode each image's index, so subsets can be traced back."""
    labels = np.repeat(np.arange(len(counts)), counts)
    rng = np.random.default_rng(0)
    labels = labels[rng.permutation(len(labels))]
    images = np.zeros((len(labels), 2, 2, 3), np.uint8)
    images[:, 0, 0, 0] = np.arange(len(labels)) % 256
    images[:, 0, 0, 1] = np.arange(len(labels)) // 256
    return array_dataset(images, labels)


def ids(ds: ImageDataset) -> np.ndarray:
    return ds.images[:, 0, 0, 0].astype(int) + 256 * ds.images[:, 0, 0, 1].astype(int)


def test_same_seed_same_split_other_seed_other_split() -> None:
    ds = tagged([50, 30, 20])
    a, b, c = (split_dataset(ds, seed=s) for s in (1, 1, 2))
    assert isinstance(a, Splits)
    for part in ("train", "val", "test"):
        assert np.array_equal(ids(getattr(a, part)), ids(getattr(b, part)))
    assert not np.array_equal(ids(a.val), ids(c.val))


@pytest.mark.parametrize("val, test, sizes", [(0.1, 0.2, (700, 100, 200)), (150, 50, (800, 150, 50)),
                                              (0.0, 0.25, (750, 0, 250)), (0, 0, (1000, 0, 0))])
def test_disjoint_covering_with_exact_sizes(val: float | int, test: float | int, sizes: tuple) -> None:
    ds = tagged([500, 300, 200])
    splits = split_dataset(ds, val=val, test=test, seed=0)
    assert tuple(len(s) for s in splits) == sizes
    together = np.concatenate([ids(s) for s in splits])
    assert sorted(together.tolist()) == list(range(len(ds)))
    for part in splits:
        assert np.array_equal(part.labels, ds.labels[ids(part)])
        assert part.classes == ds.classes


def test_every_split_is_stratified() -> None:
    counts = [400, 250, 97, 53]
    splits = split_dataset(tagged(counts), val=0.2, test=0.1, seed=3)
    for part, fraction in ((splits.val, 0.2), (splits.test, 0.1), (splits.train, 0.7)):
        expected = np.array(counts) * fraction
        assert np.all(np.abs(part.class_counts() - expected) <= 2), (part.class_counts(), expected)


def test_a_singleton_class_stays_in_train() -> None:
    splits = split_dataset(tagged([40, 1]), val=0.2, test=0.2, seed=0)
    assert splits.train.class_counts()[1] == 1


@pytest.mark.parametrize("kwargs, message", [
    ({"val": 1.0}, r"val fraction must lie in \[0, 1\)"),
    ({"test": -0.1}, r"test fraction"),
    ({"val": 100}, r"val count must lie in \[0, 99\]"),
    ({"val": 0.5, "test": 0.5}, "at least one"),
    ({"val": "10%"}, "fraction in"),
    ({"val": True}, "fraction in"),
])
def test_bad_fractions_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        split_dataset(tagged([60, 40]), seed=0, **kwargs)


def test_seed_is_required_and_integer() -> None:
    with pytest.raises(TypeError):
        split_dataset(tagged([10]))  # type: ignore[call-arg]
    with pytest.raises(ConfigError, match="seed"):
        split_dataset(tagged([10]), seed=1.5)  # type: ignore[arg-type]


def id_set(ds: ImageDataset) -> set[int]:
    return set(ids(ds).tolist())


def test_holdout_splits_keep_the_supernet_training_images_and_halve_its_validation() -> None:
    ds = tagged([120, 90, 91])
    trained = split_dataset(ds, val=31, test=0, seed=5)
    held = holdout_splits(ds, val=31, seed=5)
    assert id_set(held.train) == id_set(trained.train)
    assert (len(held.val), len(held.test)) == (16, 15)
    assert id_set(held.val) | id_set(held.test) == id_set(trained.val) and not id_set(held.val) & id_set(held.test)
    assert len(holdout_splits(ds, val=0.1, seed=5).train) == len(split_dataset(ds, val=0.1, test=0, seed=5).train)


def test_holdout_splits_need_two_validation_images() -> None:
    with pytest.raises(ConfigError, match="at least 2"):
        holdout_splits(tagged([3, 3]), val=1, seed=0)
