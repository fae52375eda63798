"""The in-memory image dataset every source produces: uint8 NHWC RGB images, int64 labels, class names."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hwnat.errors import ConfigError, DataError

_RESIZE_CHUNK = 4096


@dataclass(eq=False, repr=False)
class ImageDataset:
    """Images (N, H, W, 3) uint8 RGB with labels (N,) int64 indexing `classes`.

    `images` may be a read-only memory map of a cache file; `skipped` counts files left out by `skip_bad`.
    """

    images: np.ndarray
    labels: np.ndarray
    classes: list[str]
    source: str = "array"
    skipped: int = 0

    def __post_init__(self) -> None:
        images, labels = self.images, self.labels
        if not isinstance(images, np.ndarray) or images.ndim != 4 or images.shape[-1] != 3:
            raise DataError(f"{self.source}: images must be an (N, H, W, 3) array, got shape {_shape(images)}")
        if images.dtype != np.uint8:
            raise DataError(f"{self.source}: images must be uint8, got {images.dtype}")
        if not isinstance(labels, np.ndarray) or labels.ndim != 1 or labels.dtype != np.int64:
            raise DataError(f"{self.source}: labels must be a 1-D int64 array, got {_shape(labels)} "
                            f"{getattr(labels, 'dtype', type(labels).__name__)}")
        if len(labels) != len(images):
            raise DataError(f"{self.source}: {len(images)} images but {len(labels)} labels")
        self.classes = [str(c) for c in self.classes]
        if len(labels) and (labels.min() < 0 or labels.max() >= len(self.classes)):
            raise DataError(f"{self.source}: labels must lie in [0, {len(self.classes) - 1}] "
                            f"for {len(self.classes)} classes, got [{labels.min()}, {labels.max()}]")

    def __len__(self) -> int:
        return len(self.labels)

    def __repr__(self) -> str:
        n, h, w, _ = self.images.shape
        skipped = f", skipped={self.skipped}" if self.skipped else ""
        return f"ImageDataset({self.source!r}, {n} images {h}x{w}, {self.num_classes} classes{skipped})"

    @property
    def resolution(self) -> int:
        """Image height in pixels."""
        return int(self.images.shape[1])

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def class_counts(self) -> np.ndarray:
        """Number of images per class, (num_classes,) int64."""
        return np.bincount(self.labels, minlength=self.num_classes).astype(np.int64)

    def subset(self, indices: Sequence[int] | np.ndarray) -> ImageDataset:
        """A new dataset holding the given rows, in the given order (same classes, source and skipped count)."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if len(idx) and (idx.min() < -len(self) or idx.max() >= len(self)):
            raise ConfigError(f"subset indices must lie in [0, {len(self) - 1}], "
                              f"got [{idx.min()}, {idx.max()}]")
        return ImageDataset(np.ascontiguousarray(self.images[idx]), self.labels[idx].copy(),
                            list(self.classes), self.source, self.skipped)

    def resized(self, size: int | tuple[int, int]) -> ImageDataset:
        """The dataset with every image resized to `size` (int: square) by antialiased bilinear interpolation."""
        height, width = (size, size) if isinstance(size, int) else size
        if min(height, width) < 1:
            raise ConfigError(f"resize size must be positive, got {size!r}")
        if self.images.shape[1:3] == (height, width):
            return self
        return ImageDataset(resize_uint8(self.images, (height, width)), self.labels, list(self.classes),
                            self.source, self.skipped)


def resize_uint8(images: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize uint8 NHWC images to `size` (H, W) with antialiased bilinear interpolation, in chunks."""
    import torch
    import torch.nn.functional as F

    out = np.empty((len(images), *size, images.shape[-1]), dtype=np.uint8)
    for start in range(0, len(images), _RESIZE_CHUNK):
        x = torch.from_numpy(np.ascontiguousarray(images[start:start + _RESIZE_CHUNK])).permute(0, 3, 1, 2).float()
        y = F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)
        out[start:start + len(x)] = y.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    return out


def _shape(value: object) -> object:
    return getattr(value, "shape", type(value).__name__)
