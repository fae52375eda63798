"""One entry point from a source name or path ("digits", a directory, a tar archive) to an ImageDataset."""

from __future__ import annotations

from pathlib import Path

from hwnat.data.dataset import ImageDataset
from hwnat.data.digits import digits_dataset
from hwnat.data.folder import TAR_SUFFIXES, image_folder
from hwnat.errors import ConfigError

BUILTIN = ("digits",)


def load_dataset(source: str | Path, *, resolution: int | None = None, cache_dir: Path | None = None,
                 skip_bad: bool = False) -> ImageDataset:
    """Load the built-in "digits" (the string; use "./digits" for a folder of that name), an ImageFolder
    directory or a .tar/.tar.gz/.tgz of one. With `resolution`, images are resized (antialiased bilinear) to a
    `resolution` square; digits default to 32 px, folders keep their own size."""
    if resolution is not None and (isinstance(resolution, bool) or not isinstance(resolution, int)
                                   or resolution < 1):
        raise ConfigError(f"resolution must be a positive integer or None, got {resolution!r}")
    if isinstance(source, str) and source in BUILTIN:
        return digits_dataset(32 if resolution is None else resolution)
    if not isinstance(source, (str, Path)) or not str(source):
        raise ConfigError(f"dataset source must be {' or '.join(map(repr, BUILTIN))}, a directory or a "
                          f"{'/'.join(TAR_SUFFIXES[:3])} file, got {source!r}")
    dataset = image_folder(source, cache_dir=cache_dir, skip_bad=skip_bad)
    return dataset if resolution is None else dataset.resized(resolution)
