"""The decoded-image cache: hits memory-map, changes invalidate, damage is rebuilt, writes leave no temp files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from hwnat.data import default_cache_dir, image_folder
from hwnat.data.cache import DatasetCache


def cache_files(cache: Path) -> list[Path]:
    return sorted(p for p in (cache / "datasets").iterdir())


def test_default_cache_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HWNAT_CACHE_DIR", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("HWNAT_CACHE_DIR")
    assert default_cache_dir() == Path.home() / ".cache" / "hwnat"


def test_second_load_is_memory_mapped_and_equal(make_tree, tmp_path: Path) -> None:
    top = make_tree({"cat": 3, "dog": 2})
    first = image_folder(top, cache_dir=tmp_path / "cache")
    names = [p.name for p in cache_files(tmp_path / "cache")]
    assert len(names) == 3 and not any(n.endswith(".tmp") for n in names)
    second = image_folder(top, cache_dir=tmp_path / "cache")
    assert not second.images.flags.writeable
    assert isinstance(second.images.base, np.memmap)
    assert np.array_equal(first.images, second.images) and np.array_equal(first.labels, second.labels)
    assert second.classes == first.classes and second.source == first.source


def test_default_cache_location_is_used(make_tree, private_cache: Path) -> None:
    image_folder(make_tree({"cat": 1}))
    assert len(cache_files(private_cache)) == 3


def test_a_changed_file_invalidates_the_cache(make_tree, write_image, tmp_path: Path) -> None:
    top = make_tree({"cat": 2})
    image_folder(top, cache_dir=tmp_path)
    new = write_image(top / "cat" / "001.png", seed=999)
    ds = image_folder(top, cache_dir=tmp_path)
    assert np.array_equal(ds.images[1], new)


def test_skip_bad_has_its_own_entry(make_tree, tmp_path: Path) -> None:
    top = make_tree({"cat": 2})
    (top / "cat" / "bad.png").write_bytes(b"x")
    assert image_folder(top, cache_dir=tmp_path, skip_bad=True).skipped == 1
    with pytest.raises(Exception, match="bad.png"):
        image_folder(top, cache_dir=tmp_path)
    assert image_folder(top, cache_dir=tmp_path, skip_bad=True).skipped == 1


@pytest.mark.parametrize("damage", ["truncate-images", "garbage-json", "wrong-labels"])
def test_damaged_cache_is_rebuilt(make_tree, tmp_path: Path, damage: str) -> None:
    top = make_tree({"cat": 3})
    first = image_folder(top, cache_dir=tmp_path)
    images, labels, meta = (next((tmp_path / "datasets").glob(f"*{s}")) for s in
                            (".images.npy", ".labels.npy", ".json"))
    if damage == "truncate-images":
        images.write_bytes(images.read_bytes()[:-10])
    elif damage == "garbage-json":
        meta.write_text("{not json")
    else:
        np.save(labels, np.array([0, 1, 7], dtype=np.int64))
    rebuilt = image_folder(top, cache_dir=tmp_path)
    assert np.array_equal(rebuilt.images, first.images) and np.array_equal(rebuilt.labels, first.labels)
    assert isinstance(image_folder(top, cache_dir=tmp_path).images.base, np.memmap)


def test_unwritable_cache_still_loads(make_tree, tmp_path: Path) -> None:
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("")
    assert len(image_folder(make_tree({"cat": 2}), cache_dir=blocker)) == 2


def test_interrupted_write_leaves_no_entry(make_tree, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    top = make_tree({"cat": 2})
    calls = {"n": 0}
    real_replace = os.replace

    def failing_replace(src: str, dst: str) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk full")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    image_folder(top, cache_dir=tmp_path)
    monkeypatch.setattr(os, "replace", real_replace)
    assert not list((tmp_path / "datasets").glob("*.tmp")) and not list((tmp_path / "datasets").glob("*.json"))
    cache = DatasetCache(tmp_path)
    assert len(list(cache.dir.iterdir())) == 1
    assert len(image_folder(top, cache_dir=tmp_path)) == 2
