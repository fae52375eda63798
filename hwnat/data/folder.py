"""ImageFolder datasets from a directory tree or a .tar/.tar.gz of one, decoded once and cached."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import logging
import lzma
import tarfile
import zlib
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np

from hwnat.data.cache import DatasetCache, cache_key
from hwnat.data.dataset import ImageDataset
from hwnat.data.decode import Decoded, DecodePool, decode_all
from hwnat.data.tree import IMAGE_EXTENSIONS, Layout, clean_member_name, find_layout, is_image_name, walk_directory
from hwnat.errors import DataError

TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")

log = logging.getLogger(__name__)


def is_tar_name(path: Path) -> bool:
    return path.name.lower().endswith(TAR_SUFFIXES)


def image_folder(path: str | Path, *, cache_dir: Path | None = None, skip_bad: bool = False) -> ImageDataset:
    """Load `<root>/<class>/<image>` from a directory or a tar archive of one (wrapping folders allowed).

    Classes are the class folders sorted by name; labels are their indices. Every image must decode and share one
    size; with `skip_bad` unreadable or differently sized files are left out and counted in `.skipped`.
    The decoded arrays are cached under `cache_dir` (default: `default_cache_dir()`), keyed by the resolved path,
    the files' sizes and modification times and `skip_bad`, so a second load memory-maps them.
    """
    top = Path(path).expanduser()
    if not top.exists():
        raise DataError(f"dataset path does not exist: {top}")
    top = top.resolve()
    cache = DatasetCache(cache_dir)
    if top.is_dir():
        dirs, files = walk_directory(top)
        listing = hashlib.sha256("\n".join(f"{name}\0{size}\0{mtime}" for name, (size, mtime)
                                           in sorted(files.items())).encode()).hexdigest()
        key = cache_key("dir", str(top), listing, bool(skip_bad))
    elif top.is_file() and is_tar_name(top):
        stat = top.stat()
        key = cache_key("tar", str(top), stat.st_size, stat.st_mtime_ns, bool(skip_bad))
    else:
        raise DataError(f"unsupported dataset path {top}: expected a directory or a "
                        f"{'/'.join(TAR_SUFFIXES[:3])} archive of one")
    cached = cache.load(top.name, key)
    if cached is not None:
        return cached
    if top.is_dir():
        dataset = _read_directory(top, dirs, list(files), skip_bad)
    else:
        dataset = _read_tar(top, skip_bad)
    cache.save(top.name, key, dataset)
    return dataset


def _read_directory(top: Path, dirs: set[str], files: list[str], skip_bad: bool) -> ImageDataset:
    layout = find_layout(dirs, files, str(top))
    names = [name for cls in layout.classes for name in layout.files[cls]]
    images = [name for name in names if is_image_name(name)]
    decoded = dict(zip(images, decode_all([str(top / name) for name in images])))
    return _assemble(layout, decoded, lambda name: str(top / name), str(top), skip_bad)


def _read_tar(archive: Path, skip_bad: bool) -> ImageDataset:
    dirs: set[str] = set()
    files: dict[str, None] = {}
    images: list[str] = []
    try:
        with _open_stream(archive) as stream, tarfile.open(fileobj=stream, mode="r|") as tar, \
                DecodePool() as pool:
            pending: list[bytes | str] = []
            for member in tar:
                name = clean_member_name(member.name)
                if name is None:
                    continue
                if member.isdir():
                    dirs.add(name)
                elif member.isfile():
                    files[name] = None
                    if is_image_name(name):
                        handle = tar.extractfile(member)
                        pending.append(handle.read() if handle is not None else b"")
                        images.append(name)
                        if len(pending) == pool.chunk:
                            pool.submit(pending)
                            pending = []
            if pending:
                pool.submit(pending)
            decoded = dict(zip(images, pool.results()))
    except (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, OSError) as exc:
        raise DataError(f"cannot read tar archive {archive}: {exc}") from exc
    layout = find_layout(dirs, list(files), str(archive))
    return _assemble(layout, decoded, lambda name: f"{name} (in {archive})", str(archive), skip_bad)


def _open_stream(archive: Path) -> BinaryIO:
    """The archive's decompressed bytes; the gzip/bz2/xz readers raise EOFError on a truncated stream."""
    with open(archive, "rb") as probe:
        magic = probe.read(6)
    if magic.startswith(b"\x1f\x8b"):
        return gzip.open(archive, "rb")
    if magic.startswith(b"BZh"):
        return bz2.open(archive, "rb")
    if magic.startswith(b"\xfd7zXZ\x00"):
        return lzma.open(archive, "rb")
    return open(archive, "rb")


def _assemble(layout: Layout, decoded: dict[str, Decoded], shown: Callable[[str], str], source: str,
              skip_bad: bool) -> ImageDataset:
    entries: list[tuple[str, int, Decoded]] = []
    for label, cls in enumerate(layout.classes):
        for name in layout.files[cls]:
            result = decoded.get(name)
            if result is None:
                result = f"not an image file (allowed extensions: {', '.join(sorted(IMAGE_EXTENSIONS))})"
            entries.append((name, label, result))
    bad = [(name, error) for name, _, error in entries if isinstance(error, str)]
    if bad and not skip_bad:
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        raise DataError(f"cannot read {shown(bad[0][0])} as an image: {bad[0][1]}{more}; "
                        f"pass skip_bad=True to skip unreadable files")
    good = [(name, label, image) for name, label, image in entries if not isinstance(image, str)]
    size = _reference_size(good, shown, skip_bad)
    kept = [(name, label, image) for name, label, image in good if image.shape[:2] == size]
    skipped = [name for name, _ in bad] + [name for name, _, image in good if image.shape[:2] != size]
    if skipped:
        log.warning("skipped %d unreadable or differently sized files in %s, e.g. %s", len(skipped), source,
                    ", ".join(skipped[:5]))
    counts = Counter(label for _, label, _ in kept)
    for label, cls in enumerate(layout.classes):
        if not counts[label]:
            folder = f"{layout.root}/{cls}" if layout.root else cls
            raise DataError(f"class folder {shown(folder)} has no readable images "
                            f"({len(layout.files[cls])} files, all skipped)")
    images = np.empty((len(kept), *size, 3), dtype=np.uint8)
    if kept:
        np.stack([image for _, _, image in kept], out=images)
    labels = np.fromiter((label for _, label, _ in kept), dtype=np.int64, count=len(kept))
    return ImageDataset(images, labels, list(layout.classes), source, len(skipped))


def _reference_size(good: list[tuple[str, int, np.ndarray]], shown: Callable[[str], str],
                    skip_bad: bool) -> tuple[int, int]:
    if not good:
        return (0, 0)
    first_name, _, first = good[0]
    size = first.shape[:2]
    if skip_bad:
        return Counter(image.shape[:2] for _, _, image in good).most_common(1)[0][0]
    for name, _, image in good:
        if image.shape[:2] != size:
            raise DataError(f"mixed image sizes: {shown(name)} is {_wh(image.shape)} but {shown(first_name)} is "
                            f"{_wh(size)} (width x height); resize the images to one size, or pass skip_bad=True "
                            f"to skip the differing ones")
    return size


def _wh(shape: tuple[int, ...]) -> str:
    return f"{shape[1]}x{shape[0]}"
