"""Fixtures for the data tests: a private cache directory and builders of tiny ImageFolder trees."""

from __future__ import annotations

import tarfile
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path_factory.mktemp("hwnat-cache")
    monkeypatch.setenv("HWNAT_CACHE_DIR", str(cache))
    return cache


@pytest.fixture(name="write_image")
def write_image_fixture() -> Callable[..., np.ndarray]:
    return write_image


def write_image(path: Path, size: tuple[int, int] = (8, 6), seed: int = 0, mode: str = "RGB") -> np.ndarray:
    """Write a random image of `size` (width, height); returns its RGB pixels as (H, W, 3) uint8."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(pixels)
    if mode != "RGB":
        image = image.convert(mode)
        pixels = np.asarray(image.convert("RGB"))
    image.save(path)
    return pixels


@pytest.fixture
def make_tree(tmp_path: Path) -> Callable[..., Path]:
    """make_tree(counts={"cat": 3}, wrap="", size=(8, 6), ext=".png") -> the top folder of a fresh tree."""
    made = iter(range(1_000_000))

    def make(counts: Mapping[str, int] | None = None, *, wrap: str = "", size: tuple[int, int] = (8, 6),
             ext: str = ".png") -> Path:
        top = tmp_path / f"tree{next(made)}"
        root = top / wrap if wrap else top
        root.mkdir(parents=True)
        for c, (cls, count) in enumerate(sorted((counts or {"cat": 3, "dog": 2}).items())):
            (root / cls).mkdir()
            for i in range(count):
                write_image(root / cls / f"{i:03d}{ext}", size, seed=100 * c + i)
        return top

    return make


@pytest.fixture
def make_tar() -> Callable[..., Path]:
    """make_tar(folder, out, wrapped=True): archive a tree; wrapped keeps `folder`'s name as the top member."""

    def make(folder: Path, out: Path, wrapped: bool = True) -> Path:
        mode = "w:gz" if out.name.endswith((".gz", ".tgz")) else "w"
        with tarfile.open(out, mode) as tar:
            if wrapped:
                tar.add(folder, arcname=folder.name)
            else:
                for child in sorted(folder.iterdir()):
                    tar.add(child, arcname=child.name)
        return out

    return make
