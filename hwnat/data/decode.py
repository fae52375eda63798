"""Decoding image files (paths or in-memory bytes) to RGB arrays, in a process pool when there are many."""

from __future__ import annotations

import io
import multiprocessing
import os
import sys
import warnings
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from types import TracebackType

import numpy as np
from PIL import Image

from hwnat.errors import DataError

CHUNK = 2048
MAX_WORKERS = 8

Decoded = np.ndarray | str
_Chunk = tuple[list[tuple[int, int] | str], bytes]


def decode_chunk(items: list[bytes | str]) -> _Chunk:
    """Decode each item (file path or encoded bytes): per item its (height, width) or its error as text, and all
    RGB pixels concatenated in one buffer (one object to pass back from a worker instead of thousands)."""
    shapes: list[tuple[int, int] | str] = []
    pixels: list[bytes] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for item in items:
            try:
                source = item if isinstance(item, str) else io.BytesIO(item)
                with Image.open(source) as image:
                    rgb = image if image.mode == "RGB" else image.convert("RGB")
                    data, shape = rgb.tobytes(), (rgb.height, rgb.width)
                pixels.append(data)
                shapes.append(shape)
            except Exception as exc:  # any decoder failure is reported per file, never raised from a worker
                shapes.append(f"{type(exc).__name__}: {exc}")
    return shapes, b"".join(pixels)


def worker_count() -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_WORKERS))


class DecodePool:
    """Decode chunks in submission order; full chunks go to worker processes, small jobs stay in-process."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = worker_count() if workers is None else workers
        self.chunk = CHUNK
        self._executor: ProcessPoolExecutor | None = None
        self._parts: list[Future[_Chunk] | _Chunk] = []

    def __enter__(self) -> DecodePool:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def submit(self, items: list[bytes | str]) -> None:
        if self._executor is None and self.workers > 1 and len(items) >= self.chunk:
            context = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
            self._executor = ProcessPoolExecutor(self.workers, mp_context=context)
        if self._executor is not None:
            self._parts.append(self._executor.submit(decode_chunk, items))
        else:
            self._parts.append(decode_chunk(items))

    def results(self) -> list[Decoded]:
        """Every submitted item's image (H, W, 3) uint8, or its error text, in submission order."""
        out: list[Decoded] = []
        for part in self._parts:
            try:
                shapes, blob = part.result() if isinstance(part, Future) else part
            except BrokenProcessPool as exc:
                raise DataError(f"an image decoding worker died ({exc}); a file may crash the image decoder") from exc
            pixels = np.frombuffer(blob, dtype=np.uint8)
            offset = 0
            for shape in shapes:
                if isinstance(shape, str):
                    out.append(shape)
                else:
                    size = shape[0] * shape[1] * 3
                    out.append(pixels[offset:offset + size].reshape(*shape, 3))
                    offset += size
        return out


def decode_all(items: list[bytes | str], workers: int | None = None) -> list[Decoded]:
    """Decode a known list of items (paths or bytes)."""
    with DecodePool(workers) as pool:
        for start in range(0, len(items), pool.chunk):
            pool.submit(items[start:start + pool.chunk])
        return pool.results()
