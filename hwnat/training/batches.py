"""Training and evaluation batches: a rank-sharded, seeded loader and the per-batch resize to a resolution."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F

from hwnat.data.dataset import ImageDataset

Transform = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


class ShardedLoader:
    """Like hwnat.data's Loader, sharded by rank: every rank draws the same permutation from (seed, epoch), pads it
    to a multiple of the world size (DistributedSampler's rule) and takes every `world`-th index from `rank`.

    Augmentation randomness comes from (seed, epoch, rank). `max_steps` (0 = all) caps batches per epoch.
    """

    def __init__(self, dataset: ImageDataset, *, batch_size: int, transform: Transform | None, seed: int,
                 shuffle: bool = True, rank: int = 0, world_size: int = 1, drop_last: bool = True,
                 max_steps: int = 0) -> None:
        self.dataset = dataset
        self.batch_size = batch_size
        self.transform = transform
        self.seed = int(seed)
        self.shuffle = shuffle
        self.rank = rank
        self.world_size = world_size
        self.drop_last = drop_last
        self.max_steps = max_steps
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    @property
    def shard_size(self) -> int:
        return -(-len(self.dataset) // self.world_size)

    def __len__(self) -> int:
        n = self.shard_size // self.batch_size if self.drop_last else -(-self.shard_size // self.batch_size)
        n = max(n, 1)
        return min(n, self.max_steps) if self.max_steps else n

    def indices(self, epoch: int) -> np.ndarray:
        n = len(self.dataset)
        if self.shuffle:
            order_seed = np.random.SeedSequence([self.seed, epoch, 0]).generate_state(1, np.uint64)[0]
            order = torch.randperm(n, generator=torch.Generator().manual_seed(int(order_seed) >> 1)).numpy()
        else:
            order = np.arange(n)
        total = self.shard_size * self.world_size
        if total > n:
            order = np.concatenate([order, order[: total - n]])
        return order[self.rank:total:self.world_size]

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        epoch, self.epoch = self.epoch, self.epoch + 1
        index = self.indices(epoch)
        transform_seed = np.random.SeedSequence([self.seed, epoch, 1, self.rank]).generate_state(1, np.uint64)[0]
        generator = torch.Generator().manual_seed(int(transform_seed) >> 1)
        for b in range(len(self)):
            rows = index[b * self.batch_size:(b + 1) * self.batch_size]
            if len(rows) == 0:
                rows = index[: self.batch_size]
            x = torch.from_numpy(self.dataset.images[rows].transpose(0, 3, 1, 2).astype(np.float32))
            x /= 255.0
            if self.transform is not None:
                x = self.transform(x, generator)
            yield x, torch.from_numpy(self.dataset.labels[rows])


def to_resolution(x: torch.Tensor, resolution: int) -> torch.Tensor:
    """Resize a batch to `resolution` (bilinear; antialiased when shrinking); unchanged when already that size."""
    if x.shape[-1] == resolution and x.shape[-2] == resolution:
        return x
    shrink = resolution < min(x.shape[-2:])
    return F.interpolate(x, size=(resolution, resolution), mode="bilinear", align_corners=False, antialias=shrink)


def calibration_batches(dataset: ImageDataset, transform: Transform, batch_size: int, n_batches: int, seed: int,
                        resolutions: int | tuple[int, ...], device: torch.device,
                        channels_last: bool) -> list[torch.Tensor]:
    """`n_batches` fixed training batches (same seed → same images and augmentation); batch i is resized to
    `resolutions[i % len(resolutions)]` (a single int: every batch at that resolution)."""
    sizes = (resolutions,) if isinstance(resolutions, int) else tuple(resolutions)
    loader = ShardedLoader(dataset, batch_size=batch_size, transform=transform, seed=seed, drop_last=False,
                           max_steps=n_batches)
    if len(loader) < n_batches:  # a small dataset: cycle through further epochs
        loader.max_steps = 0
    batches: list[torch.Tensor] = []
    while len(batches) < n_batches:
        for x, _ in loader:
            batches.append(prepare(x, sizes[len(batches) % len(sizes)], device, channels_last))
            if len(batches) == n_batches:
                break
    return batches


def prepare(x: torch.Tensor, resolution: int, device: torch.device, channels_last: bool) -> torch.Tensor:
    x = to_resolution(x.to(device, non_blocking=True), resolution)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x
