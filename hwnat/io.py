"""Atomic file writes, JSON reads whose errors name the file, and the resume check (for every stage that saves state)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from hwnat.errors import CheckpointError, ConfigError, HwnatError


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write `data` to a temp file beside `path`, fsync it, then rename over `path`: never a half file."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp creates 0600; give the file the usual permissions
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return p


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    return atomic_write_bytes(path, text.encode())


def atomic_write_json(path: str | os.PathLike[str], obj: Any, indent: int | None = None) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=indent) + ("\n" if indent else ""))


def atomic_write_jsonl(path: str | os.PathLike[str], records: list[Any]) -> Path:
    """One JSON object per line, written atomically (logs rewritten from a run's history)."""
    return atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in records))


def make_writable_dir(path: str | os.PathLike[str]) -> Path:
    """Create the folder and prove a file can be written in it; OSError otherwise (callers name their flag)."""
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".hwnat-write-test-"):
        pass
    return folder


def read_json(path: str | os.PathLike[str], what: str, error: type[HwnatError] = HwnatError) -> Any:
    """Parsed JSON of `path`; a missing or unparsable file raises `error` naming `what` and the path."""
    p = Path(path)
    if not p.is_file():
        raise error(f"{what} {str(p)!r} does not exist")
    try:
        return json.loads(p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise error(f"{what} {str(p)!r} is not valid JSON: {exc}") from exc


def resuming(last: Path, out_dir: Path, resume: bool, run: str) -> bool:
    """Whether a run continues from its checkpoint `last`: --resume needs one, and a fresh start refuses to write
    over one (`run` names the kind of run in the errors: "training", "fine-tuning")."""
    if resume and not last.exists():
        raise CheckpointError(f"--resume: no {run} checkpoint to resume from in {str(out_dir)!r} "
                              f"(expected {str(last)!r}); run without --resume to start")
    if not resume and last.exists():
        raise ConfigError(f"{str(out_dir)!r} already holds a {run} run ({str(last)!r}); pass --resume to "
                          f"continue it or choose another --out")
    return resume
