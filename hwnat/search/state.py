"""Per-iteration search checkpoint as plain JSON (archive, RNG state, cursor, history), written atomically."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hwnat import __version__
from hwnat.errors import CheckpointError
from hwnat.io import atomic_write_text
from hwnat.search.archive import Archive

STATE_FILE = "state.json"
LEGACY_STATE_FILE = "state.pkl"  # schema 1 (a pickle): refused, never unpickled
SCHEMA = 2


@dataclass
class SearchState:
    """Everything needed to continue: the next iteration, the archive, the loop's RNG, the log offset.

    `predictor` describes the last fitted surrogate (name, seed, chosen model, scores): every iteration refits
    its predictor from the archive with a seed drawn from the loop's RNG, so no fitted model is needed to resume.
    `adapted` names the super-network weights file of the last adaptation (relative to the output folder).
    """

    iteration: int
    archive: Archive
    rng_state: dict[str, Any]
    log_offset: int
    evaluations: int
    history: list[dict[str, Any]] = field(default_factory=list)
    predictor: dict[str, Any] | None = None
    hv_bounds: tuple[list[float], list[float]] | None = None  # fixed (ideal, nadir) of the hypervolume
    adapted: str | None = None

    def rng(self) -> np.random.Generator:
        rng = np.random.default_rng()
        rng.bit_generator.state = self.rng_state
        return rng


def describe_predictor(predictor: Any) -> dict[str, Any] | None:
    """Plain-data summary of a fitted predictor (what the state stores instead of the model)."""
    if predictor is None:
        return None
    scores = getattr(predictor, "scores", None)
    return {"name": getattr(predictor, "name", type(predictor).__name__), "seed": getattr(predictor, "seed", None),
            "chosen": getattr(predictor, "chosen", None),
            "scores": {k: float(v) for k, v in scores.items()} if isinstance(scores, dict) else None}


def save_state(path: Path, state: SearchState, config: dict[str, Any], space_fingerprint: str) -> Path:
    """JSON: floats round-trip exactly (repr), the PCG64 state's big integers too; loading runs no code."""
    payload = {"schema": SCHEMA, "hwnat": __version__, "space_fingerprint": space_fingerprint, "config": config,
               "iteration": state.iteration, "rng": _plain(state.rng_state), "log_offset": state.log_offset,
               "evaluations": state.evaluations, "hv_bounds": state.hv_bounds, "adapted": state.adapted,
               "predictor": state.predictor, "history": _plain(state.history), "archive": state.archive.to_state()}
    return atomic_write_text(path, json.dumps(payload, allow_nan=True) + "\n")


def load_state(path: Path, n_genes: int, space_fingerprint: str) -> tuple[SearchState, dict[str, Any]]:
    """(state, stored config); refuses a state of another schema or search space, and the old pickle format."""
    if not path.is_file():
        legacy = path.with_name(LEGACY_STATE_FILE)
        if legacy.is_file():
            raise CheckpointError(f"{str(legacy)!r} is a search state of an older hwnat (a pickle, which is not "
                                  f"loaded because loading one can run code); start the search again in a new "
                                  f"--out folder")
        raise CheckpointError(f"--resume: no search state {str(path)!r}; run without --resume to start")
    try:
        payload = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"search state {str(path)!r} cannot be read: {exc}") from exc
    if not isinstance(payload, dict):
        raise CheckpointError(f"search state {str(path)!r} cannot be read: a JSON {type(payload).__name__}, "
                              f"not an object")
    if payload.get("schema") != SCHEMA:
        raise CheckpointError(f"search state {str(path)!r} has schema {payload.get('schema')!r}, expected {SCHEMA}")
    if payload.get("space_fingerprint") != space_fingerprint:
        raise CheckpointError(f"search state {str(path)!r} is for search space {payload.get('space_fingerprint')}, "
                              f"not {space_fingerprint}")
    try:
        bounds = payload.get("hv_bounds")
        state = SearchState(int(payload["iteration"]), Archive.from_state(payload["archive"], n_genes),
                            payload["rng"], int(payload["log_offset"]), int(payload["evaluations"]),
                            list(payload["history"]), payload.get("predictor"),
                            None if bounds is None else (list(bounds[0]), list(bounds[1])), payload.get("adapted"))
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"search state {str(path)!r} is incomplete or malformed: {exc!r}") from exc
    return state, payload["config"]


def stored_config(path: Path) -> dict[str, Any] | None:
    """The SearchConfig dict a state file holds (None when there is no readable state)."""
    try:
        payload = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return payload.get("config") if isinstance(payload, dict) else None


def _plain(obj: Any) -> Any:
    """numpy scalars and arrays to Python numbers and lists (json cannot write them)."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    return obj
