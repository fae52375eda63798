"""The training cursor and record of bests: where a run stands, as plain data that a checkpoint can hold."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class BestRecord:
    """The best epoch of a phase by the largest subnet's validation accuracy, and the file holding its weights."""

    acc: float
    epoch: int
    file: str


@dataclass
class TrainState:
    """`phase`: index of the phase in progress; `epoch`: epochs of it completed; `loader_epoch`: passes over the
    training data so far (the loader's epoch); `history`: one record per completed epoch (the JSONL log)."""

    phase: int = 0
    epoch: int = 0
    loader_epoch: int = 0
    best: dict[str, BestRecord] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainState:
        return cls(int(d["phase"]), int(d["epoch"]), int(d["loader_epoch"]),
                   {k: BestRecord(float(v["acc"]), int(v["epoch"]), str(v["file"])) for k, v in d["best"].items()},
                   list(d["history"]))
