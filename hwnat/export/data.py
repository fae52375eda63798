"""The images an export uses: calibration (training split), parity (validation) and accuracy (test), preprocessed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from hwnat.errors import ConfigError

if TYPE_CHECKING:
    from hwnat.data.dataset import ImageDataset

RANDOM_SOURCE = "random"
_CHUNK = 512


@dataclass
class ExportData:
    """Preprocessed float32 NCHW images at the network's input size; labels are None for random images."""

    calib: np.ndarray
    val: np.ndarray
    val_labels: np.ndarray | None
    test: np.ndarray | None = None
    test_labels: np.ndarray | None = None
    source: str = RANDOM_SOURCE
    preprocessing: dict[str, Any] = field(default_factory=dict)

    @property
    def labelled(self) -> bool:
        return self.val_labels is not None

    def check(self, input_shape: tuple[int, ...]) -> ExportData:
        """Self, after checking every image array against the model's (1, C, H, W) input (ConfigError if not)."""
        check_images(self.calib, input_shape, "calibration images")
        check_images(self.val, input_shape, "validation images")
        if self.test is not None:
            check_images(self.test, input_shape, "test images")
        return self


def preprocessing(resolution: int) -> dict[str, Any]:
    """How a deployed model's input is made (written into every artifact's metadata)."""
    from hwnat.data.transforms import IMAGENET_MEAN, IMAGENET_STD

    return {"resolution": resolution, "layout": "NCHW", "channels": "RGB", "dtype": "float32",
            "scale": 1 / 255, "resize": f"bilinear (antialiased when shrinking) to {resolution}x{resolution}",
            "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD)}


def check_images(x: np.ndarray, input_shape: tuple[int, ...], what: str) -> np.ndarray:
    """`x` as an (N, C, H, W) float32 array matching the model's channels and size, else a ConfigError."""
    _, c, h, w = input_shape
    if not isinstance(x, np.ndarray) or x.ndim != 4:
        raise ConfigError(f"{what} must be an (N, {c}, {h}, {w}) array, got shape {getattr(x, 'shape', None)}")
    if x.shape[1] != c:
        raise ConfigError(f"{what} have {x.shape[1]} channels; the network takes {c} (shape (N, {c}, {h}, {w}))")
    if tuple(x.shape[2:]) != (h, w):
        raise ConfigError(f"{what} are {x.shape[2]}x{x.shape[3]}; the network takes {h}x{w} "
                          f"(shape (N, {c}, {h}, {w}))")
    if len(x) == 0:
        raise ConfigError(f"{what}: no images")
    return np.ascontiguousarray(x, dtype=np.float32)


def preprocess(ds: ImageDataset, resolution: int, indices: np.ndarray | None = None) -> np.ndarray:
    """Images of `ds` (rows `indices`, default all) as the network sees them at validation: /255, the eval
    transform at the dataset's size (ImageNet normalisation), then resized to `resolution` like training does."""
    import torch

    from hwnat.data.transforms import eval_transform
    from hwnat.training.batches import to_resolution

    rows = np.arange(len(ds)) if indices is None else np.asarray(indices, dtype=np.int64)
    transform = eval_transform(ds.resolution)
    out = np.empty((len(rows), 3, resolution, resolution), np.float32)
    with torch.no_grad():
        for start in range(0, len(rows), _CHUNK):
            chunk = rows[start:start + _CHUNK]
            x = torch.from_numpy(ds.images[chunk].transpose(0, 3, 1, 2).astype(np.float32)) / 255.0
            out[start:start + len(chunk)] = to_resolution(transform(x), resolution).numpy()
    return out


def _first_stratified(ds: ImageDataset, n: int, seed: int) -> np.ndarray:
    from hwnat.data.splits import stratified_order

    order = stratified_order(ds.labels, seed)
    return np.sort(order[:n]) if 0 < n < len(ds) else np.arange(len(ds))


def dataset_data(ds: ImageDataset, resolution: int, *, val: float | int, seed: int, calib_images: int,
                 parity_images: int = 0, test_images: int = 0) -> ExportData:
    """Calibration images from the training split, parity on the validation split, accuracy on the test split —
    the holdout convention of every stage after super-network training (hwnat.data.holdout_splits)."""
    from hwnat.data import holdout_splits

    train, val_split, test = holdout_splits(ds, val=val, seed=seed)
    calib = preprocess(train, resolution, _first_stratified(train, calib_images, seed))
    v_rows = _first_stratified(val_split, parity_images, seed)
    t_rows = _first_stratified(test, test_images, seed)
    return ExportData(calib, preprocess(val_split, resolution, v_rows), val_split.labels[v_rows].copy(),
                      preprocess(test, resolution, t_rows), test.labels[t_rows].copy(), ds.source,
                      preprocessing(resolution))


def random_data(input_shape: tuple[int, ...], *, calib_images: int, parity_images: int, seed: int) -> ExportData:
    """Standard-normal images (already "normalised") for architectures with fresh weights and no dataset:
    parity compares with PyTorch's own predictions and INT8 calibration sees no real image statistics."""
    rng = np.random.default_rng(seed)
    shape = tuple(input_shape[1:])
    calib = rng.standard_normal((min(calib_images, 64), *shape)).astype(np.float32)
    val = rng.standard_normal((parity_images or 64, *shape)).astype(np.float32)
    test = rng.standard_normal((parity_images or 64, *shape)).astype(np.float32)
    return ExportData(calib, val, None, test, None, RANDOM_SOURCE, preprocessing(int(input_shape[-1])))
