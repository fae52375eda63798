"""The decoded-image cache: images and labels as .npy (memory-mapped on load) plus JSON metadata, written atomically."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

from hwnat.data.dataset import ImageDataset

CACHE_VERSION = 1
SUBDIR = "datasets"

log = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    """$HWNAT_CACHE_DIR, or ~/.cache/hwnat."""
    env = os.environ.get("HWNAT_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "hwnat"


def cache_key(*parts: Any) -> str:
    """sha256 over the cache format version and the JSON-encoded identifying parts."""
    payload = json.dumps([CACHE_VERSION, *parts], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


class DatasetCache:
    """Decoded datasets under `<root>/datasets/<name>-<key>.{images.npy,labels.npy,json}`."""

    def __init__(self, root: Path | None = None) -> None:
        self.dir = Path(root if root is not None else default_cache_dir()).expanduser() / SUBDIR

    def paths(self, name: str, key: str) -> tuple[Path, Path, Path]:
        stem = f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)[:48]}-{key[:24]}"
        return (self.dir / f"{stem}.images.npy", self.dir / f"{stem}.labels.npy", self.dir / f"{stem}.json")

    def load(self, name: str, key: str) -> ImageDataset | None:
        """The cached dataset (images memory-mapped, read-only), or None when absent, stale or damaged."""
        images_path, labels_path, meta_path = self.paths(name, key)
        if not meta_path.exists():
            return None
        try:
            meta = json.loads(meta_path.read_text())
            if meta.get("version") != CACHE_VERSION or meta.get("key") != key:
                raise ValueError("version or key mismatch")
            for path, size in ((images_path, meta["images_bytes"]), (labels_path, meta["labels_bytes"])):
                if path.stat().st_size != size:
                    raise ValueError(f"{path.name} is {path.stat().st_size} bytes, expected {size}")
            images = np.load(images_path, mmap_mode="r", allow_pickle=False)
            labels = np.load(labels_path, allow_pickle=False)
            if list(images.shape) != meta["shape"] or images.dtype != np.uint8:
                raise ValueError(f"images {images.shape} {images.dtype}, expected {meta['shape']} uint8")
            return ImageDataset(np.asarray(images), labels, list(meta["classes"]), meta["source"],
                                int(meta["skipped"]))
        except Exception as exc:  # anything wrong with a cache entry means: rebuild it
            log.warning("ignoring damaged dataset cache %s (%s); rebuilding it", meta_path, exc)
            return None

    def save(self, name: str, key: str, dataset: ImageDataset) -> bool:
        """Write the dataset atomically; on a filesystem error log it and return False (the load still succeeds)."""
        images_path, labels_path, meta_path = self.paths(name, key)
        temps: list[Path] = []
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            temps.append(_write_temp(self.dir, lambda f: np.save(f, np.ascontiguousarray(dataset.images))))
            temps.append(_write_temp(self.dir, lambda f: np.save(f, dataset.labels)))
            meta = {"version": CACHE_VERSION, "key": key, "source": dataset.source, "classes": dataset.classes,
                    "skipped": dataset.skipped, "shape": list(dataset.images.shape),
                    "images_bytes": temps[0].stat().st_size, "labels_bytes": temps[1].stat().st_size}
            temps.append(_write_temp(self.dir, lambda f: f.write(json.dumps(meta, indent=1).encode())))
            for temp, final in zip(temps, (images_path, labels_path, meta_path)):
                os.replace(temp, final)
            return True
        except OSError as exc:
            log.warning("could not write the dataset cache in %s (%s); continuing without it", self.dir, exc)
            return False
        finally:
            for temp in temps:
                temp.unlink(missing_ok=True)


def _write_temp(directory: Path, write: Callable[[IO[bytes]], object]) -> Path:
    path = directory / f".{os.getpid()}-{secrets.token_hex(6)}.tmp"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path
