"""Fine-tuning checkpoints: the cursor (stage, epoch, early-stopping state) with weights, optimiser and RNG states."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hwnat import __version__
from hwnat.errors import CheckpointError
from hwnat.training.checkpoint import LAST, atomic_save, load_versioned

FORMAT = "hwnat.finetune"
SCHEMA_VERSION = 1
CHECKPOINT_DIR = "checkpoints"
SELECT, RETRAIN, DONE = "select", "retrain", "done"
STAGES = (SELECT, RETRAIN, DONE)
# identity keys that must match on --resume (the rest of the identity is informative)
MUST_MATCH = ("supernet_sha256", "arch_id", "kd", "joint_exits", "num_images", "split_seed")


@dataclass
class Cursor:
    """Where a run stands. `stage`: select (step 1, early stopping), retrain (step 2, train + val) or done;
    `epoch`: epochs of the stage completed; `best_*` / `since_best`: step 1's early-stopping state;
    `chosen_epochs`: step 1's answer; `extracted`: the extracted subnet's accuracies; `history`: one record
    per completed epoch (the JSONL log)."""

    stage: str = SELECT
    epoch: int = 0
    best_epoch: int = 0
    best_val: float | None = None
    best_val_loss: float | None = None
    since_best: int = 0
    chosen_epochs: int | None = None
    extracted: dict[str, float] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Cursor:
        cursor = cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})
        if cursor.stage not in STAGES:
            raise CheckpointError(f"fine-tuning checkpoint has an unknown stage {cursor.stage!r}")
        return cursor


def last_path(out: Path) -> Path:
    return out / CHECKPOINT_DIR / LAST


def save(out: Path, identity: Mapping[str, Any], config: Mapping[str, Any], seed: int, cursor: Cursor,
         **state: Any) -> None:
    """Write last.pt atomically (the one before kept as previous.pt); `state`: model, optimizer, rng."""
    payload = {"format": FORMAT, "schema_version": SCHEMA_VERSION, "hwnat_version": __version__,
               "identity": dict(identity), "config": dict(config), "seed": int(seed), "cursor": cursor.to_dict(),
               **{k: v for k, v in state.items() if v is not None}}
    atomic_save(payload, last_path(out), keep_previous=True)


def load(path: Path) -> dict[str, Any]:
    """A fine-tuning checkpoint, loaded with weights_only; anything else is a CheckpointError naming the file."""
    return load_versioned(path, FORMAT, SCHEMA_VERSION, "fine-tuning checkpoint")


def check_identity(stored: Mapping[str, Any], current: Mapping[str, Any], path: Path) -> None:
    """Refuse to resume a run of another super-network, arch, dataset or KD / joint-exits choice (both named)."""
    for key in MUST_MATCH:
        if stored.get(key) != current.get(key):
            raise CheckpointError(f"--resume: checkpoint {str(path)!r} was written with {key} = {stored.get(key)!r}, "
                                  f"this run has {key} = {current.get(key)!r}; resume with the same super-network, "
                                  f"arch, data and flags, or choose another --out")
