"""Append-only JSONL journal of completed timings, fsynced per entry, so a killed profile resumes losslessly.

Line 1 is a header naming what the entries are for (target and space identity, timing settings); every
further line is {"key": ..., "pass": p, "stats": {...}, "probe_ms": ..., "session": ...}, one per job and
measuring pass (probe_ms: the speed probe just before it, in the process `session`). A line cut short
by a kill is dropped (and the file truncated to the last complete line) when the journal is opened again; a
journal with another header is set aside.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Self

from hwnat.backends.base import TimingStats
from hwnat.latency.timing import UnitTiming

log = logging.getLogger(__name__)

JOURNAL_VERSION = 1


@dataclass(frozen=True)
class JournalRow:
    """One completed measurement: its timing, the speed probe just before it and the process that took it."""

    stats: UnitTiming
    probe_ms: float | None = None
    session: str = ""


class Journal:
    """Completed entries of one profiling job, on disk next to the table it will become."""

    def __init__(self, path: str | os.PathLike[str], header: dict[str, Any]) -> None:
        self.path = Path(path)
        self.header = json.loads(json.dumps({"journal_version": JOURNAL_VERSION, **header}, sort_keys=True))
        self._file: IO[str] | None = None

    def load(self) -> dict[tuple[str, int], JournalRow]:
        """Entries already completed (empty for a new journal). A journal of another job is renamed *.stale."""
        if not self.path.exists():
            return {}
        raw = self.path.read_bytes()
        complete = raw[: raw.rfind(b"\n") + 1]
        lines = complete.decode("utf-8", errors="replace").splitlines()
        try:
            header = json.loads(lines[0]) if lines else None
        except json.JSONDecodeError:
            header = None
        if header != self.header:
            stale = self.path.with_name(self.path.name + ".stale")
            log.warning("journal %s was written for another target, space or timing; moved to %s",
                        self.path, stale)
            os.replace(self.path, stale)
            return {}
        entries: dict[tuple[str, int], JournalRow] = {}
        good = len(lines[0].encode("utf-8")) + 1
        for line in lines[1:]:
            try:
                row = json.loads(line)
                probe = row.get("probe_ms")
                entries[str(row["key"]), int(row.get("pass", 0))] = JournalRow(
                    UnitTiming.from_dict(row["stats"]), None if probe is None else float(probe),
                    str(row.get("session", "")))
            except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                break  # only the last line can be damaged; stop at the first bad one
            good += len(line.encode("utf-8")) + 1
        if good != len(raw):
            with open(self.path, "r+b") as f:
                f.truncate(good)
                os.fsync(f.fileno())
        return entries

    def _open(self) -> IO[str]:
        if self._file is None:
            new = not self.path.exists() or self.path.stat().st_size == 0
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (held open across appends)
            if new:
                self._write(json.dumps(self.header, sort_keys=True))
        return self._file

    def _write(self, line: str) -> None:
        assert self._file is not None
        self._file.write(line + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def append(self, key: str, stats: TimingStats, pass_: int = 0, probe_ms: float | None = None,
               session: str = "") -> None:
        """Record one completed entry durably (written, flushed and fsynced before returning)."""
        self._open()
        row = {"key": key, "pass": pass_, "stats": stats.to_dict(), "probe_ms": probe_ms, "session": session}
        self._write(json.dumps(row, sort_keys=True))

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def remove(self) -> None:
        """Delete the journal (once its entries are safely in the written table)."""
        self.close()
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
