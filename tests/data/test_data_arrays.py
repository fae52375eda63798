"""Array datasets, the built-in digits, load_dataset's dispatch and ImageDataset's own behaviour."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from hwnat.data import ImageDataset, array_dataset, digits_dataset, load_dataset
from hwnat.errors import ConfigError, DataError


@pytest.mark.parametrize("layout", ["NHWC", "NCHW", "NHW", "NHW1", "N1HW"])
def test_array_layouts_become_nhwc_rgb(layout: str) -> None:
    grey = np.arange(2 * 4 * 5, dtype=np.uint8).reshape(2, 4, 5)
    rgb = np.stack([grey, grey + 1, grey + 2], -1)
    given = {"NHWC": rgb, "NCHW": rgb.transpose(0, 3, 1, 2), "NHW": grey, "NHW1": grey[..., None],
             "N1HW": grey[:, None]}[layout]
    ds = array_dataset(given, [0, 1])
    assert ds.images.shape == (2, 4, 5, 3) and ds.images.dtype == np.uint8
    expected = rgb if layout in ("NHWC", "NCHW") else np.repeat(grey[..., None], 3, -1)
    assert np.array_equal(ds.images, expected)
    assert ds.classes == ["0", "1"] and ds.labels.dtype == np.int64 and ds.source == "array"


def test_float_images_and_tensors_are_accepted() -> None:
    x = torch.rand(3, 3, 6, 6)
    ds = array_dataset(x, torch.tensor([0, 2, 1]), classes=["a", "b", "c"], source="mine")
    assert np.array_equal(ds.images, np.rint(x.permute(0, 2, 3, 1).numpy() * 255).astype(np.uint8))
    assert ds.classes == ["a", "b", "c"] and ds.source == "mine"


@pytest.mark.parametrize("images, labels, message", [
    (np.zeros((2, 4, 4, 2), np.uint8), [0, 0], "1 or 3 channels"),
    (np.zeros((2, 4), np.uint8), [0, 0], "got shape"),
    (np.full((2, 4, 4, 3), 1.5, np.float32), [0, 0], r"must lie in \[0, 1\]"),
    (np.full((2, 4, 4, 3), np.nan, np.float32), [0, 0], "NaN"),
    (np.zeros((2, 4, 4, 3), np.int32), [0, 0], "uint8 or float"),
    (np.zeros((2, 4, 4, 3), np.uint8), [0], r"labels must have shape \(2,\)"),
    (np.zeros((2, 4, 4, 3), np.uint8), [0.5, 1.0], "integers"),
    (np.zeros((2, 4, 4, 3), np.uint8), [0, -1], "non-negative"),
])
def test_bad_arrays_are_refused(images: np.ndarray, labels: list, message: str) -> None:
    with pytest.raises(DataError, match=message):
        array_dataset(images, labels)


def test_labels_beyond_the_classes_are_refused() -> None:
    with pytest.raises(DataError, match=r"labels must lie in \[0, 1\]"):
        array_dataset(np.zeros((2, 4, 4, 3), np.uint8), [0, 2], classes=["a", "b"])


def test_subset_and_resized() -> None:
    ds = array_dataset(np.arange(4 * 2 * 2 * 3, dtype=np.uint8).reshape(4, 2, 2, 3), [0, 1, 0, 1])
    sub = ds.subset([3, 1])
    assert sub.labels.tolist() == [1, 1] and np.array_equal(sub.images[0], ds.images[3])
    assert sub.classes == ds.classes and sub.images.flags.writeable
    big = ds.resized(5)
    assert big.images.shape == (4, 5, 5, 3) and ds.resized(2) is ds
    with pytest.raises(ConfigError, match="subset indices"):
        ds.subset([4])


def test_digits_shape_range_and_classes() -> None:
    ds = digits_dataset(32)
    assert ds.images.shape == (1797, 32, 32, 3) and ds.images.dtype == np.uint8
    assert ds.images.min() == 0 and ds.images.max() == 255
    assert np.array_equal(ds.images[..., 0], ds.images[..., 2])
    assert ds.classes == [str(i) for i in range(10)] and ds.class_counts().min() > 170
    native = digits_dataset(8)
    assert native.images.shape == (1797, 8, 8, 3)
    assert set(np.unique(native.images)) <= {round(v * 255 / 16) for v in range(17)}


def test_load_dataset_digits_and_bad_arguments() -> None:
    assert load_dataset("digits").resolution == 32
    assert load_dataset("digits", resolution=20).images.shape[1:] == (20, 20, 3)
    with pytest.raises(ConfigError, match="resolution must be a positive integer"):
        load_dataset("digits", resolution=0)
    with pytest.raises(ConfigError, match="digits resolution"):
        digits_dataset(2.5)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="dataset source"):
        load_dataset("")


def test_dataset_validates_its_fields() -> None:
    with pytest.raises(DataError, match="uint8"):
        ImageDataset(np.zeros((1, 2, 2, 3), np.float32), np.zeros(1, np.int64), ["a"])
    with pytest.raises(DataError, match="1 images but 2 labels"):
        ImageDataset(np.zeros((1, 2, 2, 3), np.uint8), np.zeros(2, np.int64), ["a"])
    assert "2 classes" in repr(array_dataset(np.zeros((2, 3, 3, 3), np.uint8), [0, 1]))


def test_importing_hwnat_data_stays_light() -> None:
    code = "import sys, hwnat.data; print(sorted({'torch', 'sklearn'} & {m.split('.')[0] for m in sys.modules}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "[]"
