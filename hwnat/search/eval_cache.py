"""A persistent accuracy cache: an Evaluator wrapper that scores each genome once per super-network and data."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from hwnat.errors import HwnatError
from hwnat.search.evaluator import Evaluator

FORMAT = "hwnat-eval-cache/1"


def read_cache(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[tuple[int, ...], float], bool]:
    """An accuracy cache's header, its scores by genome, and whether its last line is complete (a record cut short
    by a kill is skipped: it is scored again when asked for)."""
    data = Path(path).read_bytes()
    lines = data.split(b"\n")
    try:
        header = json.loads(lines[0])
    except ValueError as exc:
        raise HwnatError(f"evaluation cache {str(path)!r}: unreadable header ({exc}); delete the file "
                         "to score the subnets afresh") from exc
    scores: dict[tuple[int, ...], float] = {}
    for line in lines[1:]:
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        scores[tuple(int(v) for v in rec["genome"])] = float(rec["error"])
    return header, scores, data.endswith(b"\n")


class CachedEvaluator:
    """Looks each genome up in a JSONL file of earlier scores; evaluates only the misses (in one call, in order)
    and appends them, fsynced, as soon as they are measured.

    The first line names what the scores depend on (`identity`: the super-network, the data, the validation
    images...); a file with another identity is refused, so one file never mixes two super-networks. It also names
    the search space the genomes belong to (`space`), for readers of the file (older files lack it). A scored
    subnet's error must not depend on what was scored before it (the super-network evaluator recalibrates BN on
    fixed batches per subnet): then a search gets the same errors from the cache as from its evaluator. Not for
    searches that adapt the super-network's weights (NAT), whose later scores are of other weights.
    """

    def __init__(self, evaluator: Evaluator, path: str | os.PathLike[str], identity: Mapping[str, Any],
                 space: str | None = None) -> None:
        self.evaluator, self.path, self.identity = evaluator, Path(path), json.loads(json.dumps(dict(identity)))
        self.space = space
        self.hits = self.misses = 0
        self.scores = self._load()

    def _load(self) -> dict[tuple[int, ...], float]:
        if not self.path.exists() or self.path.stat().st_size == 0:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            header = {"format": FORMAT, "identity": self.identity}
            self._append([header if self.space is None else {**header, "space": self.space}], truncate=True)
            return {}
        header, scores, complete = read_cache(self.path)
        if header.get("format") != FORMAT or header.get("identity") != self.identity:
            raise HwnatError(f"evaluation cache {str(self.path)!r} holds scores of {header.get('identity')}, "
                             f"not of {self.identity}; give another file or delete it")
        if not complete:  # end the cut-short record's line, so the next append starts its own
            self._write("\n")
        return scores

    def _append(self, records: list[dict[str, Any]], truncate: bool = False) -> None:
        self._write("".join(json.dumps(rec) + "\n" for rec in records), "w" if truncate else "a")

    def _write(self, text: str, mode: str = "a") -> None:
        with open(self.path, mode, encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())

    def evaluate(self, genomes: np.ndarray) -> np.ndarray:
        g = np.atleast_2d(np.asarray(genomes, dtype=np.int64))
        keys = [tuple(int(v) for v in row) for row in g]
        missing = list(dict.fromkeys(k for k in keys if k not in self.scores))
        self.hits += sum(1 for k in keys if k in self.scores)
        if missing:
            errors = np.asarray(self.evaluator.evaluate(np.array(missing, dtype=np.int64)), dtype=np.float64)
            fresh = dict(zip(missing, errors.reshape(len(missing)).tolist(), strict=True))
            self._append([{"genome": list(k), "error": e} for k, e in fresh.items()])
            self.scores.update(fresh)
            self.misses += len(missing)
        return np.array([self.scores[k] for k in keys], dtype=np.float64)
