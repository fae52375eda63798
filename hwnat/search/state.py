"""Per-iteration search checkpoint (archive, predictor, RNG state, cursor, history), written atomically."""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hwnat import __version__
from hwnat.errors import CheckpointError
from hwnat.io import atomic_write_bytes
from hwnat.search.archive import Archive

STATE_FILE = "state.pkl"
SCHEMA = 1


@dataclass
class SearchState:
    """Everything needed to continue: the next iteration, the archive, the loop's RNG, the log offset."""

    iteration: int
    archive: Archive
    rng_state: dict[str, Any]
    log_offset: int
    evaluations: int
    history: list[dict[str, Any]] = field(default_factory=list)
    predictor: Any = None
    hv_bounds: tuple[list[float], list[float]] | None = None  # fixed (ideal, nadir) of the hypervolume

    def rng(self) -> np.random.Generator:
        rng = np.random.default_rng()
        rng.bit_generator.state = self.rng_state
        return rng


def save_state(path: Path, state: SearchState, config: dict[str, Any], space_fingerprint: str) -> Path:
    payload = {"schema": SCHEMA, "hwnat": __version__, "space_fingerprint": space_fingerprint, "config": config,
               "iteration": state.iteration, "archive": state.archive.to_state(), "rng": state.rng_state,
               "log_offset": state.log_offset, "evaluations": state.evaluations, "history": state.history,
               "predictor": state.predictor, "hv_bounds": state.hv_bounds}
    return atomic_write_bytes(path, pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL))


def load_state(path: Path, n_genes: int, space_fingerprint: str) -> tuple[SearchState, dict[str, Any]]:
    """(state, stored config); refuses a state of another schema or search space."""
    if not path.is_file():
        raise CheckpointError(f"--resume: no search state {str(path)!r}; run without --resume to start")
    try:
        payload = pickle.loads(path.read_bytes())
    except Exception as exc:
        raise CheckpointError(f"search state {str(path)!r} cannot be read: {exc}") from exc
    if payload.get("schema") != SCHEMA:
        raise CheckpointError(f"search state {str(path)!r} has schema {payload.get('schema')!r}, expected {SCHEMA}")
    if payload["space_fingerprint"] != space_fingerprint:
        raise CheckpointError(f"search state {str(path)!r} is for search space {payload['space_fingerprint']}, "
                              f"not {space_fingerprint}")
    state = SearchState(int(payload["iteration"]), Archive.from_state(payload["archive"], n_genes),
                        payload["rng"], int(payload["log_offset"]), int(payload["evaluations"]),
                        list(payload["history"]), payload.get("predictor"), payload.get("hv_bounds"))
    return state, payload["config"]
