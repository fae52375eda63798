"""A single-process batch loader over an ImageDataset with a reproducible order and augmentation per epoch."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import torch

from hwnat.data.dataset import ImageDataset
from hwnat.errors import ConfigError

BatchTransform = Callable[..., torch.Tensor]


class Loader:
    """Yields (x, y): x float32 (B, 3, H, W) in [0, 1] passed through `transform(x, generator)`, y int64 (B,).

    The order (when shuffling) and the transform's randomness come from generators seeded from (seed, epoch).
    Iterating uses the current epoch and then advances it; `set_epoch(e)` chooses the epoch the next pass uses.
    """

    def __init__(self, dataset: ImageDataset, *, batch_size: int, transform: BatchTransform | None = None,
                 shuffle: bool = False, seed: int = 0, drop_last: bool = False) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"batch_size must be a positive integer, got {batch_size!r}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
        self.dataset = dataset
        self.batch_size = batch_size
        self.transform = transform
        self.shuffle = shuffle
        self.seed = int(seed)
        self.drop_last = drop_last
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 0:
            raise ConfigError(f"epoch must be a non-negative integer, got {epoch!r}")
        self.epoch = int(epoch)

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def generators(self, epoch: int) -> tuple[torch.Generator, torch.Generator]:
        """The (order, transform) generators of an epoch."""
        order_seed, transform_seed = np.random.SeedSequence([self.seed, epoch]).generate_state(2, np.uint64)
        return (torch.Generator().manual_seed(int(order_seed) >> 1),
                torch.Generator().manual_seed(int(transform_seed) >> 1))

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        epoch, self.epoch = self.epoch, self.epoch + 1
        return self._batches(epoch)

    def _batches(self, epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order_gen, transform_gen = self.generators(epoch)
        n = len(self.dataset)
        order = torch.randperm(n, generator=order_gen).numpy() if self.shuffle else np.arange(n)
        images, labels = self.dataset.images, self.dataset.labels
        for b in range(len(self)):
            index = order[b * self.batch_size:(b + 1) * self.batch_size]
            pixels = images[index].transpose(0, 3, 1, 2).astype(np.float32, order="C")
            pixels /= np.float32(255.0)
            x = torch.from_numpy(pixels)
            y = torch.from_numpy(labels[index])
            if self.transform is not None:
                x = self.transform(x, transform_gen)
            yield x, y


def make_loader(ds: ImageDataset, *, batch_size: int, transform: BatchTransform | None = None,
                shuffle: bool = False, seed: int = 0, drop_last: bool = False) -> Loader:
    """A Loader over `ds`; see Loader."""
    return Loader(ds, batch_size=batch_size, transform=transform, shuffle=shuffle, seed=seed, drop_last=drop_last)
