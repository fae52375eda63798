"""The archive of evaluated subnets (arrays), its update policies (NAT grows, NATv2 fixed size) and its files."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hwnat.errors import ConfigError, unknown_name
from hwnat.search.operators import keys_of
from hwnat.search.survival import survive
from hwnat.space.genome import arch_id, decode
from hwnat.space.spec import SearchSpace


@dataclass
class Archive:
    """Evaluated subnets: canonical genomes, measured error, exact objective values, the iteration each came in."""

    genomes: np.ndarray
    error: np.ndarray
    values: dict[str, np.ndarray] = field(default_factory=dict)
    iteration: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __post_init__(self) -> None:
        self.error = np.asarray(self.error, dtype=np.float64).reshape(-1)
        self.genomes = np.asarray(self.genomes, dtype=np.int64)
        if self.genomes.ndim != 2 or len(self.genomes) != len(self.error):
            raise ValueError(f"archive: {self.genomes.shape} genomes for {len(self.error)} errors")
        self.values = {k: np.asarray(v, dtype=np.float64) for k, v in self.values.items()}
        if len(self.iteration) != len(self.error):
            self.iteration = np.zeros(len(self.error), dtype=np.int64)

    @classmethod
    def empty(cls, n_genes: int, names: Iterable[str] = ()) -> Archive:
        return cls(np.zeros((0, n_genes), dtype=np.int64), np.zeros(0), {n: np.zeros(0) for n in names})

    def __len__(self) -> int:
        return len(self.error)

    def keys(self) -> list[bytes]:
        return keys_of(self.genomes)

    def column(self, name: str) -> np.ndarray:
        return self.error if name == "error" else self.values[name]

    def F(self, objectives: Sequence[str]) -> np.ndarray:
        return np.column_stack([self.column(n) for n in objectives]) if len(self) else np.zeros((0, len(objectives)))

    def violation(self, budgets: Mapping[str, float]) -> np.ndarray:
        """Sum of relative budget overshoots (0 = feasible)."""
        cv = np.zeros(len(self))
        for name, limit in budgets.items():
            cv += np.maximum(0.0, self.values[name] / limit - 1.0)
        return cv

    def take(self, idx: np.ndarray) -> Archive:
        idx = np.asarray(idx, dtype=np.int64)
        return Archive(self.genomes[idx], self.error[idx], {k: v[idx] for k, v in self.values.items()},
                       self.iteration[idx])

    def merge(self, other: Archive) -> Archive:
        return Archive(np.vstack([self.genomes, other.genomes]), np.concatenate([self.error, other.error]),
                       {k: np.concatenate([v, other.values[k]]) for k, v in self.values.items()},
                       np.concatenate([self.iteration, other.iteration]))

    def records(self, space: SearchSpace) -> list[dict[str, Any]]:
        out = []
        for i in range(len(self)):
            rec: dict[str, Any] = {"iteration": int(self.iteration[i]),
                                   "arch_id": arch_id(space, decode(space, self.genomes[i])),
                                   "genome": [int(v) for v in self.genomes[i]], "error": float(self.error[i])}
            rec.update({k: float(v[i]) for k, v in self.values.items()})
            out.append(rec)
        return out

    def to_state(self) -> dict[str, Any]:
        return {"genomes": self.genomes.tolist(), "error": self.error.tolist(),
                "values": {k: v.tolist() for k, v in self.values.items()}, "iteration": self.iteration.tolist()}

    @classmethod
    def from_state(cls, d: Mapping[str, Any], n_genes: int) -> Archive:
        genomes = np.asarray(d["genomes"], dtype=np.int64).reshape(-1, n_genes)
        return cls(genomes, np.asarray(d["error"]), {k: np.asarray(v) for k, v in d["values"].items()},
                   np.asarray(d["iteration"], dtype=np.int64))


# -- update policies ------------------------------------------------------------------------------------
UpdatePolicy = Callable[[Archive, Archive, int, Sequence[str], Mapping[str, float], np.random.Generator], Archive]
_POLICIES: dict[str, UpdatePolicy] = {}


def register_policy(name: str) -> Callable[[UpdatePolicy], UpdatePolicy]:
    def add(fn: UpdatePolicy) -> UpdatePolicy:
        _POLICIES[name] = fn
        return fn
    return add


def create_policy(name: str) -> UpdatePolicy:
    if name not in _POLICIES:
        raise ConfigError(unknown_name("archive policy", name, _POLICIES))
    return _POLICIES[name]


def list_policies() -> list[str]:
    return sorted(_POLICIES)


@register_policy("grow")
def grow(archive: Archive, new: Archive, size: int, objectives: Sequence[str], budgets: Mapping[str, float],
         rng: np.random.Generator) -> Archive:
    """NAT: every evaluated candidate joins the archive."""
    return archive.merge(new)


@register_policy("fixed")
def fixed_size(archive: Archive, new: Archive, size: int, objectives: Sequence[str], budgets: Mapping[str, float],
               rng: np.random.Generator) -> Archive:
    """NATv2: the archive keeps `size` members; candidates replace worse ones by survival (order kept)."""
    merged = archive.merge(new)
    return merged.take(survive(merged.F(objectives), size, rng, merged.violation(budgets)))


# -- files ------------------------------------------------------------------------------------------------
class EvalLog:
    """archive.jsonl: one JSON line per evaluated subnet, appended and fsynced; truncated back on resume."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def offset(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0

    def append(self, records: Iterable[Mapping[str, Any]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.writelines(json.dumps(rec, sort_keys=False) + "\n" for rec in records)
            fh.flush()
            os.fsync(fh.fileno())

    def truncate(self, offset: int) -> None:
        """Drop lines written after the last checkpoint (an iteration that was interrupted)."""
        if self.path.exists() and self.path.stat().st_size > offset:
            with open(self.path, "r+b") as fh:
                fh.truncate(offset)

    def read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]
