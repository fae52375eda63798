"""scikit-learn's 8x8 digits (1,797 images, bundled with sklearn), the embedded default dataset."""

from __future__ import annotations

import numpy as np

from hwnat.data.dataset import ImageDataset
from hwnat.errors import ConfigError


def digits_dataset(resolution: int = 32) -> ImageDataset:
    """sklearn's `load_digits`: values 0..16 scaled to 0..255, resized to `resolution` (bilinear, antialiased),
    grey repeated to 3 channels. Classes "0".."9"."""
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 1:
        raise ConfigError(f"digits resolution must be a positive integer, got {resolution!r}")
    import torch
    import torch.nn.functional as F
    from sklearn.datasets import load_digits

    bunch = load_digits()
    grey = torch.from_numpy(bunch.images.astype(np.float32) * (255.0 / 16.0))[:, None]
    if resolution != grey.shape[-1]:
        grey = F.interpolate(grey, size=(resolution, resolution), mode="bilinear", antialias=True,
                             align_corners=False)
    images = grey.round_().clamp_(0, 255).to(torch.uint8).expand(-1, 3, -1, -1).permute(0, 2, 3, 1)
    return ImageDataset(np.ascontiguousarray(images.numpy()), bunch.target.astype(np.int64),
                        [str(c) for c in bunch.target_names], "digits")
