"""ImageFolder loading from directories and tars: layouts, ignored junk, every bad-input error and skip_bad."""

from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np
import pytest

from hwnat.data import ImageDataset, image_folder, load_dataset
from hwnat.errors import DataError


def test_directory_tree_loads_sorted_classes_and_exact_pixels(make_tree, write_image) -> None:
    top = make_tree({"dog": 2, "cat": 3})
    pixels = write_image(top / "cat" / "000.png", seed=7)
    ds = image_folder(top)
    assert isinstance(ds, ImageDataset)
    assert ds.classes == ["cat", "dog"]
    assert ds.images.shape == (5, 6, 8, 3) and ds.images.dtype == np.uint8
    assert ds.labels.tolist() == [0, 0, 0, 1, 1] and ds.labels.dtype == np.int64
    assert np.array_equal(ds.images[0], pixels)
    assert len(ds) == 5 and ds.num_classes == 2 and ds.resolution == 6 and ds.skipped == 0
    assert ds.source == str(top.resolve())


def test_wrapped_directory_finds_the_class_root(make_tree) -> None:
    top = make_tree({"a": 1, "b": 1}, wrap="outer/inner")
    (top / "README.txt").write_text("not data")
    (top / "outer" / "notes.md").write_text("not data either")
    assert image_folder(top).classes == ["a", "b"]


@pytest.mark.parametrize("suffix", [".tar", ".tar.gz", ".tgz"])
@pytest.mark.parametrize("wrapped", [True, False], ids=["wrapped", "unwrapped"])
def test_tar_matches_the_directory(make_tree, make_tar, tmp_path: Path, suffix: str, wrapped: bool) -> None:
    top = make_tree({"cat": 3, "dog": 2, "eel": 1})
    from_dir = image_folder(top)
    from_tar = load_dataset(make_tar(top, tmp_path / f"set{suffix}", wrapped=wrapped))
    assert from_tar.classes == from_dir.classes
    assert np.array_equal(from_tar.images, from_dir.images)
    assert np.array_equal(from_tar.labels, from_dir.labels)


def test_doubly_wrapped_tar_like_cifar(make_tree, make_tar, tmp_path: Path) -> None:
    top = make_tree({"x": 2, "y": 2}, wrap="train")
    ds = image_folder(make_tar(top, tmp_path / "cifar-like.tar.gz"))
    assert ds.classes == ["x", "y"] and len(ds) == 4


def test_hidden_files_and_macos_junk_are_ignored(make_tree, write_image) -> None:
    top = make_tree({"cat": 2})
    (top / "cat" / ".DS_Store").write_bytes(b"\0junk")
    (top / "cat" / "._000.png").write_bytes(b"resource fork")
    write_image(top / "__MACOSX" / "cat" / "x.png")
    write_image(top / ".hidden" / "y.png")
    (top / ".git").mkdir()
    ds = image_folder(top)
    assert ds.classes == ["cat"] and len(ds) == 2


def test_grey_and_palette_images_become_rgb(make_tree, write_image) -> None:
    top = make_tree({"a": 1})
    write_image(top / "a" / "grey.png", mode="L")
    write_image(top / "a" / "palette.gif", mode="P")
    ds = image_folder(top)
    assert ds.images.shape == (3, 6, 8, 3)
    assert np.array_equal(ds.images[1][..., 0], ds.images[1][..., 2])


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist: .*nowhere"):
        image_folder(tmp_path / "nowhere")


def test_unsupported_file(tmp_path: Path) -> None:
    path = tmp_path / "data.zip"
    path.write_bytes(b"PK")
    with pytest.raises(DataError, match=r"unsupported dataset path .*data\.zip.*\.tar"):
        load_dataset(path)


def test_no_class_folders_in_an_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"no class folders in .*empty"):
        image_folder(tmp_path / "empty")


def test_images_directly_in_the_root_get_a_hint(tmp_path: Path, write_image) -> None:
    write_image(tmp_path / "flat" / "a.png")
    with pytest.raises(DataError, match="one folder per class"):
        image_folder(tmp_path / "flat")


def test_empty_class_is_named(make_tree) -> None:
    top = make_tree({"cat": 2})
    (top / "zebra").mkdir()
    (top / "zebra" / ".DS_Store").write_bytes(b"")
    with pytest.raises(DataError, match="class folder zebra/ .* has no image files"):
        image_folder(top)


def test_corrupt_image_is_named_and_skippable(make_tree) -> None:
    top = make_tree({"cat": 3, "dog": 2})
    (top / "dog" / "bad.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated jpeg")
    with pytest.raises(DataError, match=r"cannot read .*dog/bad\.jpg as an image.*skip_bad=True"):
        image_folder(top)
    ds = image_folder(top, skip_bad=True)
    assert len(ds) == 5 and ds.skipped == 1


def test_non_image_file_in_a_class_is_named_and_skippable(make_tree) -> None:
    top = make_tree({"cat": 2})
    (top / "cat" / "labels.csv").write_text("a,b\n")
    with pytest.raises(DataError, match=r"cat/labels\.csv as an image: not an image file"):
        image_folder(top)
    assert image_folder(top, skip_bad=True).skipped == 1


def test_mixed_sizes_name_the_file_and_both_sizes(make_tree, write_image) -> None:
    top = make_tree({"cat": 3, "dog": 3}, size=(8, 6))
    write_image(top / "dog" / "001.png", size=(10, 12))
    with pytest.raises(DataError, match=r"mixed image sizes: .*dog/001\.png is 10x12 but .*cat/000\.png is 8x6"):
        image_folder(top)
    ds = image_folder(top, skip_bad=True)
    assert ds.skipped == 1 and len(ds) == 5 and ds.images.shape[1:3] == (6, 8)


def test_skip_bad_keeps_the_majority_size(make_tree, write_image) -> None:
    top = make_tree({"cat": 3}, size=(8, 6))
    write_image(top / "cat" / "000.png", size=(5, 5))
    ds = image_folder(top, skip_bad=True)
    assert ds.images.shape == (2, 6, 8, 3) and ds.skipped == 1


def test_class_with_only_bad_files_is_an_error_even_when_skipping(make_tree) -> None:
    top = make_tree({"cat": 2})
    (top / "dog").mkdir()
    (top / "dog" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match=r"class folder .*dog has no readable images \(1 files, all skipped\)"):
        image_folder(top, skip_bad=True)


def test_corrupt_image_inside_a_tar_names_the_member(make_tree, make_tar, tmp_path: Path) -> None:
    top = make_tree({"cat": 2})
    (top / "cat" / "bad.png").write_bytes(b"garbage")
    archive = make_tar(top, tmp_path / "set.tar")
    with pytest.raises(DataError, match=r"cat/bad\.png \(in .*set\.tar\) as an image"):
        image_folder(archive)
    assert image_folder(archive, skip_bad=True).skipped == 1


def test_truncated_tar_is_a_data_error(make_tree, make_tar, tmp_path: Path) -> None:
    archive = make_tar(make_tree({"cat": 40}), tmp_path / "set.tar.gz")
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"cannot read tar archive .*set\.tar\.gz"):
        image_folder(archive)


def test_tar_with_members_outside_classes_and_junk(make_tree, make_tar, tmp_path: Path) -> None:
    top = make_tree({"cat": 2, "dog": 1}, wrap="data")
    (top / "LICENSE").write_text("text")
    archive = make_tar(top, tmp_path / "set.tar")
    with tarfile.open(archive, "a") as tar:
        info = tarfile.TarInfo("__MACOSX/data/cat/._000.png")
        tar.addfile(info)
    assert image_folder(archive).classes == ["cat", "dog"]


def test_two_equal_class_roots_prefer_train_or_are_ambiguous(make_tree, write_image) -> None:
    top = make_tree({"a": 1}, wrap="train")
    write_image(top / "test" / "a" / "x.png")
    assert len(image_folder(top)) == 1
    write_image(top / "val" / "a" / "x.png")
    (top / "train").rename(top / "other")
    with pytest.raises(DataError, match="several folders of class folders"):
        image_folder(top)


def test_load_dataset_resizes_folders_on_request(make_tree) -> None:
    ds = load_dataset(make_tree({"cat": 2}, size=(8, 6)), resolution=16)
    assert ds.images.shape == (2, 16, 16, 3)
