"""The ImageFolder layout: listing a directory, ignoring junk, finding the class root and each class's files."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from hwnat.errors import DataError

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff",
                              ".ppm", ".pgm", ".pbm", ".pnm"})
IGNORED_NAMES = frozenset({"__MACOSX", "Thumbs.db", "desktop.ini"})


@dataclass(frozen=True)
class Layout:
    """Where the classes are: `root` ('' = the top) and each class's files, relative to the top, sorted."""

    root: str
    classes: list[str]
    files: dict[str, list[str]]


def is_ignored(name: str) -> bool:
    """Hidden files and folders, macOS resource forks and OS thumbnails are never data."""
    return name.startswith(".") or name in IGNORED_NAMES


def is_image_name(path: str) -> bool:
    return os.path.splitext(path)[1].lower() in IMAGE_EXTENSIONS


def clean_member_name(name: str) -> str | None:
    """A tar member name as a relative POSIX path, or None when it is ignored or unsafe."""
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if not parts or any(p == ".." or is_ignored(p) for p in parts):
        return None
    return "/".join(parts)


def walk_directory(top: Path) -> tuple[set[str], dict[str, tuple[int, int]]]:
    """Every non-ignored folder and file under `top` (following links once): folders, and file -> (size, mtime_ns)."""
    dirs: set[str] = set()
    files: dict[str, tuple[int, int]] = {}
    seen: set[str] = set()
    stack = [("", str(top))]
    while stack:
        rel, path = stack.pop()
        real = os.path.realpath(path)
        if real in seen:
            continue
        seen.add(real)
        try:
            entries = list(os.scandir(path))
        except OSError as exc:
            raise DataError(f"cannot list folder {path}: {exc.strerror or exc}") from exc
        for entry in entries:
            if is_ignored(entry.name):
                continue
            child = f"{rel}/{entry.name}" if rel else entry.name
            try:
                if entry.is_dir():
                    dirs.add(child)
                    stack.append((child, entry.path))
                elif entry.is_file():
                    stat = entry.stat()
                    files[child] = (stat.st_size, stat.st_mtime_ns)
            except OSError as exc:
                raise DataError(f"cannot read {entry.path}: {exc.strerror or exc}") from exc
    return dirs, files


def find_layout(dirs: set[str], files: list[str], where: str) -> Layout:
    """The class root is the shallowest folder with a subfolder that holds image files; its subfolders are the
    classes (sorted), each owning every file below it. `where` names the dataset in errors."""
    all_dirs = set(dirs)
    for name in files:
        parent = _parent(name)
        while parent and parent not in all_dirs:
            all_dirs.add(parent)
            parent = _parent(parent)
    with_images = {_parent(name) for name in files if is_image_name(name)}
    candidates = {_parent(d) for d in with_images if d}
    if not candidates:
        hint = " (images directly in it must be moved into one folder per class)" if "" in with_images else ""
        raise DataError(f"no class folders in {where}: expected <root>/<class>/<image files>{hint}")
    depth = min(_depth(c) for c in candidates)
    shallowest = sorted(c for c in candidates if _depth(c) == depth)
    if len(shallowest) > 1:
        named_train = [c for c in shallowest if _basename(c) == "train"]
        if len(named_train) != 1:
            raise DataError(f"several folders of class folders in {where}: "
                            f"{', '.join(_shown(c) for c in shallowest)}; point at one of them")
        shallowest = named_train
    root = shallowest[0]
    prefix = f"{root}/" if root else ""
    by_class: dict[str, list[str]] = {_basename(d): [] for d in sorted(all_dirs) if d and _parent(d) == root}
    for name in files:
        if name.startswith(prefix):
            head, sep, _ = name[len(prefix):].partition("/")
            if sep:
                by_class[head].append(name)
    for cls, members in by_class.items():
        if not members:
            raise DataError(f"class folder {_shown(prefix + cls)} in {where} has no image files")
        members.sort()
    return Layout(root, sorted(by_class), by_class)


def _parent(name: str) -> str:
    return name.rpartition("/")[0]


def _basename(name: str) -> str:
    return name.rpartition("/")[2]


def _depth(name: str) -> int:
    return 0 if not name else name.count("/") + 1


def _shown(name: str) -> str:
    return f"{name}/" if name else "<top>"
