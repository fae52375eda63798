"""Datasets (ImageFolder trees and tars, arrays, built-in digits), splits, a batch loader and tensor transforms."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hwnat.data.arrays import array_dataset
from hwnat.data.cache import default_cache_dir
from hwnat.data.dataset import ImageDataset
from hwnat.data.digits import digits_dataset
from hwnat.data.folder import image_folder
from hwnat.data.load import load_dataset
from hwnat.data.splits import Splits, holdout_splits, split_dataset

if TYPE_CHECKING:
    from hwnat.data import transforms
    from hwnat.data.loader import Loader, make_loader

__all__ = ["ImageDataset", "Loader", "Splits", "array_dataset", "default_cache_dir", "digits_dataset",
           "holdout_splits", "image_folder", "load_dataset", "make_loader", "split_dataset", "transforms"]

_TORCH_BACKED = {"make_loader": "hwnat.data.loader", "Loader": "hwnat.data.loader",
                 "transforms": "hwnat.data.transforms"}


def __getattr__(name: str) -> Any:
    if name in _TORCH_BACKED:
        import importlib

        module = importlib.import_module(_TORCH_BACKED[name])
        return module if name == "transforms" else getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
