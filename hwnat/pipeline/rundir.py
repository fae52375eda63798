"""The run directory of a build: its layout, and stage records cached by a fingerprint of each stage's inputs.

    runs/NAME/
      build.json          the request and every completed stage's result (rewritten atomically after each)
      search/             NATv2 search: archive.jsonl, front.json, hv.csv, pareto.png, search state
      select/             rounds.json: the candidates measured on the target so far, round by round
      finetune/           two-step fine-tuning: checkpoints, model.pt
      export/             compiled artifacts (+ metadata), one per format
      report.json, report.md, report.html, pareto.png, latency.png
    CACHE/ (default: runs/cache, shared by every build beside it)
      tables/<target>-<space>-<variant>-<fp>.json     latency tables profiled by builds
      supernets/<fingerprint>/                        super-networks trained by builds
      evaluations/<fingerprint>.jsonl                 subnet errors scored by searches on one super-network
      finetuned/<fingerprint>/                        subnets fine-tuned by builds: model.pt, result.json, log
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hwnat import __version__
from hwnat.errors import ConfigError
from hwnat.io import atomic_write_json, atomic_write_text, read_json

log = logging.getLogger(__name__)

BUILD_FILE = "build.json"
FINETUNED_DIR = "finetuned"
WORK_MARKER = ".inputs"  # in a stage's work folder: the fingerprint of the inputs its work was done for
SCHEMA_VERSION = 1


def fingerprint(inputs: Mapping[str, Any]) -> str:
    """16 hex digits over the canonical JSON of a stage's inputs."""
    blob = json.dumps(inputs, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


@dataclass
class StageRecord:
    """A completed stage: the fingerprint of its inputs and its JSON-ready result."""

    name: str
    fingerprint: str
    result: dict[str, Any]
    wall_s: float
    finished: str

    def to_dict(self) -> dict[str, Any]:
        return {"fingerprint": self.fingerprint, "result": self.result, "wall_s": round(self.wall_s, 2),
                "finished": self.finished}


class RunDir:
    """A build's folder. Opening one that holds a build needs `resume`; stages completed with the same inputs
    are reused, any other stage runs (resuming its own work where it keeps any)."""

    def __init__(self, root: Path, request: dict[str, Any], resume: bool) -> None:
        self.root = Path(root)
        path = self.root / BUILD_FILE
        self.stages: dict[str, StageRecord] = {}
        if path.exists():
            if not resume:
                raise ConfigError(f"--out: {str(self.root)!r} already holds a build ({BUILD_FILE}); pass --resume "
                                  f"to continue it, or choose another --out")
            stored = read_json(path, "build record", ConfigError)
            for name, rec in stored.get("stages", {}).items():
                self.stages[name] = StageRecord(name, rec["fingerprint"], rec["result"], rec["wall_s"],
                                                rec["finished"])
        self.request = request
        self.save()

    def path(self, *parts: str) -> Path:
        return self.root.joinpath(*parts)

    def claim(self, folder: str, inputs_fingerprint: str) -> Path:
        """The work folder of a stage about to run with these inputs. Work a stopped run left there is kept when
        it was done for the same inputs (the stage resumes it) and removed when it was not (another chosen subnet,
        another config): resuming it would continue the wrong work or fail on its checkpoint."""
        work = self.root / folder
        marker = work / WORK_MARKER
        if work.exists() and (not marker.exists() or marker.read_text().strip() != inputs_fingerprint):
            log.info("%s: removing work done for other inputs", work)
            shutil.rmtree(work)
        work.mkdir(parents=True, exist_ok=True)
        atomic_write_text(marker, inputs_fingerprint + "\n")
        return work

    def cached(self, name: str, inputs_fingerprint: str) -> dict[str, Any] | None:
        rec = self.stages.get(name)
        return rec.result if rec is not None and rec.fingerprint == inputs_fingerprint else None

    def complete(self, name: str, inputs_fingerprint: str, result: dict[str, Any], wall_s: float) -> None:
        self.stages[name] = StageRecord(name, inputs_fingerprint, result, wall_s,
                                        time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        self.save()

    def save(self) -> None:
        atomic_write_json(self.root / BUILD_FILE, {
            "schema_version": SCHEMA_VERSION, "hwnat_version": __version__, "request": self.request,
            "stages": {name: rec.to_dict() for name, rec in self.stages.items()}})


def publish(work: Path, names: Iterable[str], folder: Path) -> Path:
    """Copy the named files of `work` (those that exist) into the cache folder `folder`, all or none: they are
    copied into a temporary sibling that is then renamed, so a cache folder that exists is complete. One that
    already exists is kept (another build published the same work)."""
    if folder.exists():
        return folder
    tmp = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name in names:
        if (work / name).is_file():
            shutil.copy2(work / name, tmp / name)
    try:
        os.replace(tmp, folder)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not folder.exists():
            raise
    return folder


def copy_files(folder: Path, work: Path) -> None:
    """Copy every file of a cache folder into a stage's work folder (replacing files of the same name)."""
    work.mkdir(parents=True, exist_ok=True)
    for src in folder.iterdir():
        if src.is_file():
            shutil.copy2(src, work / src.name)
