"""Decoding in worker processes, and the real CIFAR-10 tarball from ../shared loading cold then from the cache."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from hwnat.data import decode, image_folder, load_dataset, make_loader, split_dataset, transforms

REPO_ROOT = Path(__file__).resolve().parents[2]
CIFAR_TAR = REPO_ROOT.parent / "shared" / "datasets" / "cifar10" / "train.tar.gz"


@pytest.fixture
def pooled(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Force the process pool with tiny chunks, whatever the machine's core count; counts pools started."""
    started: list[int] = []

    class CountingPool(decode.ProcessPoolExecutor):
        def __init__(self, *args: object, **kwargs: object) -> None:
            started.append(1)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(decode, "CHUNK", 4)
    monkeypatch.setattr(decode, "worker_count", lambda: 2)
    monkeypatch.setattr(decode, "ProcessPoolExecutor", CountingPool)
    return started


@pytest.mark.parametrize("as_tar", [False, True], ids=["dir", "tar"])
def test_pool_decoding_matches_in_process(make_tree, make_tar, tmp_path: Path, pooled: list[int], as_tar: bool,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    top = make_tree({"a": 9, "b": 7, "c": 5})
    (top / "b" / "zz-bad.png").write_bytes(b"broken")
    source = make_tar(top, tmp_path / "t.tar.gz") if as_tar else top
    pooled_ds = image_folder(source, cache_dir=tmp_path / "c1", skip_bad=True)
    assert pooled == [1]
    monkeypatch.setattr(decode, "worker_count", lambda: 1)
    inline_ds = image_folder(source, cache_dir=tmp_path / "c2", skip_bad=True)
    assert pooled_ds.skipped == inline_ds.skipped == 1
    assert np.array_equal(pooled_ds.images, inline_ds.images)
    assert np.array_equal(pooled_ds.labels, inline_ds.labels)


@pytest.mark.slow
@pytest.mark.skipif(not CIFAR_TAR.is_file(), reason=f"CIFAR-10 tarball not found at {CIFAR_TAR} "
                                                    "(the shared datasets folder is absent)")
def test_cifar10_tarball_loads_then_comes_from_the_cache(tmp_path: Path) -> None:
    start = time.perf_counter()
    cold = load_dataset(CIFAR_TAR, cache_dir=tmp_path)
    cold_s = time.perf_counter() - start
    start = time.perf_counter()
    warm = load_dataset(CIFAR_TAR, cache_dir=tmp_path)
    warm_s = time.perf_counter() - start
    assert cold.images.shape == (50_000, 32, 32, 3) and cold.images.dtype == np.uint8
    assert cold.num_classes == 10 and cold.classes[0] == "airplane" and cold.classes[-1] == "truck"
    assert cold.class_counts().tolist() == [5000] * 10 and cold.skipped == 0
    assert isinstance(warm.images.base, np.memmap) and warm.classes == cold.classes
    assert np.array_equal(warm.images[::997], cold.images[::997]) and np.array_equal(warm.labels, cold.labels)
    assert warm_s < 2.0 and warm_s * 10 < cold_s, (cold_s, warm_s)
    assert 60 < float(cold.images.mean()) < 200
    splits = split_dataset(warm, val=0.1, test=0.1, seed=0)
    assert [len(s) for s in splits] == [40_000, 5_000, 5_000]
    assert splits.val.class_counts().tolist() == [500] * 10
    x, y = next(iter(make_loader(splits.train, batch_size=256, shuffle=True,
                                 transform=transforms.train_transform(32))))
    assert x.shape == (256, 3, 32, 32) and y.shape == (256,)
