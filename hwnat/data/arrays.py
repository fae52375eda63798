"""Datasets from in-memory arrays: NCHW or NHWC, 1 or 3 channels, uint8 or float in [0, 1]."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from hwnat.data.dataset import ImageDataset
from hwnat.errors import DataError


def array_dataset(images: Any, labels: Any, classes: Sequence[str] | None = None,
                  source: str = "array") -> ImageDataset:
    """Validate and convert `images` and `labels` (numpy arrays or CPU tensors) into an ImageDataset.

    Images: (N, H, W) grey, (N, H, W, C) or (N, C, H, W) with C in {1, 3}; uint8, or float in [0, 1].
    Labels: (N,) non-negative integers. Classes default to "0", "1", ... up to the largest label.
    """
    array = to_nhwc_uint8(images, source)
    label_array = _labels(labels, len(array), source)
    if classes is None:
        classes = [str(i) for i in range(int(label_array.max()) + 1 if len(label_array) else 0)]
    elif isinstance(classes, str):
        raise DataError(f"{source}: classes must be a sequence of names, got the string {classes!r}")
    else:
        classes = [str(c) for c in classes]
        if len(set(classes)) != len(classes):
            raise DataError(f"{source}: class names must be unique, got {classes}")
    return ImageDataset(array, label_array, list(classes), source)


def to_nhwc_uint8(images: Any, source: str = "array") -> np.ndarray:
    """(N, H, W, 3) uint8 from grey/NHWC/NCHW uint8 or [0, 1] float images."""
    array = np.asarray(images)
    if array.ndim == 3:
        array = array[..., None]
    if array.ndim != 4:
        raise DataError(f"{source}: images must be (N, H, W), (N, H, W, C) or (N, C, H, W), "
                        f"got shape {array.shape}")
    if array.shape[-1] not in (1, 3):
        if array.shape[1] not in (1, 3):
            raise DataError(f"{source}: images need 1 or 3 channels (NHWC or NCHW), got shape {array.shape}")
        array = array.transpose(0, 2, 3, 1)
    if array.dtype == np.uint8:
        pass
    elif np.issubdtype(array.dtype, np.floating):
        if array.size and not np.isfinite(array).all():
            raise DataError(f"{source}: float images contain NaN or infinity")
        if array.size and (array.min() < 0.0 or array.max() > 1.0):
            raise DataError(f"{source}: float images must lie in [0, 1], "
                            f"got [{array.min():.4g}, {array.max():.4g}]")
        array = np.rint(array * 255.0).astype(np.uint8)
    else:
        raise DataError(f"{source}: images must be uint8 or float in [0, 1], got dtype {array.dtype}")
    if array.shape[-1] == 1:
        array = np.repeat(array, 3, axis=-1)
    return np.ascontiguousarray(array)


def _labels(labels: Any, count: int, source: str) -> np.ndarray:
    array = np.asarray(labels)
    if array.ndim != 1 or len(array) != count:
        raise DataError(f"{source}: labels must have shape ({count},) to match the images, got {array.shape}")
    if array.dtype == np.bool_ or not (np.issubdtype(array.dtype, np.integer) or count == 0):
        raise DataError(f"{source}: labels must be integers, got dtype {array.dtype}")
    if count and array.min() < 0:
        raise DataError(f"{source}: labels must be non-negative, got {array.min()}")
    return array.astype(np.int64)
