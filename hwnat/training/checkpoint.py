"""Training checkpoints: atomic writes, weights_only loading, identity checks and RNG states as plain data."""

from __future__ import annotations

import json
import os
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hwnat import __version__
from hwnat.errors import CheckpointError
from hwnat.space.spec import SearchSpace

FORMAT = "hwnat.supernet-training"
SUPERNET_FORMAT = "hwnat.supernet"
SCHEMA_VERSION = 1
LAST, PREVIOUS = "last.pt", "previous.pt"


def atomic_save(payload: Mapping[str, Any], path: Path, keep_previous: bool = False) -> None:
    """Write to a temporary file in the same folder, fsync, then os.replace; the old file survives any failure.

    With `keep_previous`, the file being replaced is first moved to `previous.pt` beside it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            torch.save(dict(payload), fh)
            fh.flush()
            os.fsync(fh.fileno())
        if keep_previous and path.exists():
            os.replace(path, path.with_name(PREVIOUS))
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def load_file(path: Path) -> dict[str, Any]:
    """torch.load with weights_only=True; any failure is a CheckpointError naming the file."""
    if not path.is_file():
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt, truncated or unsafe files raise many types
        hint = ""
        previous = path.with_name(PREVIOUS)
        if path.name == LAST and previous.is_file():
            hint = (f"; the previous good checkpoint {str(previous)!r} is kept: copy it over {path.name} "
                    f"to resume from it")
        raise CheckpointError(f"checkpoint {str(path)!r} cannot be read ({type(exc).__name__}: {exc}){hint}") from exc
    if not isinstance(data, dict):
        raise CheckpointError(f"checkpoint {str(path)!r} holds a {type(data).__name__}, not a dictionary")
    return data


def load_versioned(path: Path, fmt: str, schema_version: int, what: str) -> dict[str, Any]:
    """load_file, then refuse a file of another format or schema version (naming the file and both values)."""
    data = load_file(path)
    if data.get("format") != fmt:
        raise CheckpointError(f"{str(path)!r} is not an hwnat {what} (format {data.get('format')!r}, "
                              f"expected {fmt!r})")
    if data.get("schema_version") != schema_version:
        raise CheckpointError(f"{str(path)!r} has schema version {data.get('schema_version')!r}; "
                              f"this hwnat reads {schema_version}")
    return data


def load_training_checkpoint(path: Path) -> dict[str, Any]:
    return load_versioned(path, FORMAT, SCHEMA_VERSION, "training checkpoint")


def space_identity(space: SearchSpace, width_mult: float) -> dict[str, Any]:
    """What a checkpoint records about the network it belongs to."""
    return {"space": json.loads(json.dumps(space.to_dict())), "space_name": space.name,
            "space_fingerprint": space.fingerprint, "variant": space.variant.name, "width_mult": float(width_mult),
            "num_classes": space.num_classes, "hwnat_version": __version__}


def check_identity(data: Mapping[str, Any], space: SearchSpace, width_mult: float, path: Path,
                   new_head: bool = False) -> bool:
    """Refuse a checkpoint of another space, variant or width (naming both fingerprints); a class-count mismatch
    is an error unless `new_head`. Returns True when the head must be replaced."""
    try:
        theirs = SearchSpace.from_dict(data["space"])
    except Exception as exc:
        raise CheckpointError(f"checkpoint {str(path)!r} does not describe its search space: {exc}") from exc
    if theirs.with_classes(space.num_classes).fingerprint != space.fingerprint:
        raise CheckpointError(
            f"checkpoint {str(path)!r} belongs to search space {theirs.name!r} variant {theirs.variant.name} "
            f"(fingerprint {theirs.fingerprint}), not to {space.name!r} variant {space.variant.name} "
            f"(fingerprint {space.fingerprint})")
    if float(data.get("width_mult", -1)) != float(width_mult):
        raise CheckpointError(f"checkpoint {str(path)!r} is the w{data.get('width_mult')} super-network; "
                              f"this run trains w{width_mult}")
    if theirs.num_classes != space.num_classes:
        if not new_head:
            raise CheckpointError(
                f"checkpoint {str(path)!r} has a {theirs.num_classes}-class head but the dataset has "
                f"{space.num_classes} classes; start from it with a new head (--new-head) or use another dataset")
        return True
    return False


def is_head_key(key: str) -> bool:
    """Classifier weights of the main head and of every exit head."""
    return key.startswith("classifier.") or (key.startswith("exits.") and ".classifier." in key)


# -- RNG states as plain data (weights_only checkpoints hold no numpy objects) ----------------------------
def rng_state() -> dict[str, Any]:
    version, internal, gauss = random.getstate()
    np_state = np.random.get_state(legacy=False)
    state: dict[str, Any] = {
        "python": {"version": version, "state": list(internal), "gauss": gauss},
        "numpy": {"bit_generator": np_state["bit_generator"],
                  "key": [int(k) for k in np_state["state"]["key"]], "pos": int(np_state["state"]["pos"]),
                  "has_gauss": int(np_state["has_gauss"]), "gauss": float(np_state["gauss"])},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping[str, Any]) -> None:
    py = state["python"]
    random.setstate((py["version"], tuple(py["state"]), py["gauss"]))
    npd = state["numpy"]
    np.random.set_state({"bit_generator": npd["bit_generator"],
                         "state": {"key": np.asarray(npd["key"], dtype=np.uint32), "pos": npd["pos"]},
                         "has_gauss": npd["has_gauss"], "gauss": npd["gauss"]})
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
