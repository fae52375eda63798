"""LatencyTable: per-unit timings of one target and one space, their calibration, and latency prediction."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hwnat import __version__
from hwnat.backends.base import TimingStats
from hwnat.complexity.positions import PositionTable, build_position_table, gather_sum
from hwnat.errors import ConfigError
from hwnat.latency.blocks import (
    Unit,
    block_unit,
    dense_add_unit,
    head_unit,
    stem_unit,
    units_of,
)
from hwnat.latency.calibration import Calibration
from hwnat.latency.identity import SpaceIdentity, TargetIdentity, rebuild_command
from hwnat.latency.timing import DEFAULT_STATISTIC, STATISTICS, UnitTiming
from hwnat.models.config import BlockConfig, NetConfig, net_config

if TYPE_CHECKING:
    from collections.abc import Sequence

    from hwnat.space.arch import Arch
    from hwnat.space.spec import SearchSpace

SCHEMA_VERSION = 1


def net_params_m(space: SearchSpace, genomes: np.ndarray) -> np.ndarray:
    """Parameter counts (millions) of an (N, G) array of NAT genomes: the `weights` calibration's input."""
    from hwnat.complexity.vectorised import complexity_many

    return complexity_many(space, genomes)[1] / 1e6


class LatencyTableError(ConfigError):
    """A latency table is missing, corrupt, incomplete, or measured for another target or space."""


@dataclass
class LatencyTable:
    """Timings (ms) of every unit of `space` at `widths` × `resolutions` on `target`, plus a calibration.
    Predictions sum each unit's `statistic` (p10 by default, see hwnat.latency.timing)."""

    target: TargetIdentity
    space: SpaceIdentity
    widths: tuple[float, ...]
    resolutions: tuple[int, ...]
    entries: dict[str, TimingStats]
    calibration: Calibration = field(default_factory=Calibration)
    statistic: str = DEFAULT_STATISTIC
    profiling: dict[str, Any] = field(default_factory=dict)
    validation: dict[str, Any] | None = None
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    hwnat_version: str = __version__
    path: Path | None = field(default=None, compare=False)
    _positions: PositionTable | None = field(default=None, init=False, repr=False, compare=False)

    # -- identity and checks ----------------------------------------------------------------------
    @property
    def rebuild(self) -> str:
        return rebuild_command(self.target.name, self.space, self.widths)

    def _where(self) -> str:
        return f"latency table {self.path}" if self.path else "latency table"

    def check_space(self, space: SearchSpace) -> None:
        """LatencyTableError (with the rebuild command) unless the table was measured for `space`."""
        wanted = SpaceIdentity.of(space)
        if wanted.fingerprint != self.space.fingerprint:
            raise LatencyTableError(
                f"{self._where()} was measured for space {self.space.describe()}, not {wanted.describe()}; "
                f"build a table for it with: {rebuild_command(self.target.name, wanted)}")

    def check_target(self, identity: TargetIdentity) -> None:
        """LatencyTableError unless the table was measured with these target settings on this runtime and device.

        For a remote target (a board) the runtime and device cannot be checked from here: the settings must match.
        """
        ours = self.target
        same = (ours.settings_fingerprint == identity.settings_fingerprint if identity.remote
                else ours.fingerprint == identity.fingerprint)
        if ours.name != identity.name or not same:
            diffs = ["name: " + repr(ours.name) + " != " + repr(identity.name)] if ours.name != identity.name else []
            diffs += identity.differences(ours) if not identity.remote else ["target settings differ"]
            raise LatencyTableError(
                f"{self._where()} was measured on {ours.name} ({ours.describe()}, fingerprint {ours.fingerprint}); "
                f"this is {identity.name} ({identity.describe()}, fingerprint {identity.fingerprint}): "
                f"{'; '.join(diffs)}. Rebuild it on this machine with: "
                f"{rebuild_command(identity.name, self.space, self.widths)}")

    def check(self, identity: TargetIdentity, space: SearchSpace) -> LatencyTable:
        self.check_space(space)
        self.check_target(identity)
        return self

    def reference_speed_ms(self) -> float:
        """The p10 (ms) of the space's reference subnet when the calibration was fitted (paired timing): what
        measurements "at the table's speed" are scaled to; LatencyTableError for a table calibrated without it."""
        speed = self.calibration.reference_ms
        if not speed:
            raise LatencyTableError(f"timing = 'table-speed' needs a latency table calibrated with paired timing; "
                                    f"{self._where()} has no reference speed: rebuild it with {self.rebuild}")
        return float(speed)

    def check_arch(self, arch: Arch) -> None:
        if float(arch.width_mult) not in self.widths or arch.resolution not in self.resolutions:
            widths = tuple(sorted({*self.widths, float(arch.width_mult)}))
            raise LatencyTableError(
                f"{self._where()} covers widths {list(self.widths)} and resolutions {list(self.resolutions)}, "
                f"not width {arch.width_mult} at resolution {arch.resolution}; extend it with: "
                f"{rebuild_command(self.target.name, self.space, widths)}")

    # -- per-arch prediction ----------------------------------------------------------------------
    def ms(self, key: str) -> float:
        """The table's statistic (ms) of one unit."""
        try:
            return getattr(self.entries[key], self.statistic)
        except KeyError:
            raise LatencyTableError(f"{self._where()} has no entry {key!r}; rebuild it with: {self.rebuild}") from None

    def units(self, space: SearchSpace, arch: Arch) -> list[Unit]:
        """The units `arch` runs (with repetition)."""
        self.check_space(space)
        self.check_arch(arch)
        return units_of(net_config(space, arch), self.target.batch)

    def raw(self, space: SearchSpace, arch: Arch) -> tuple[float, int]:
        """(sum of the arch's unit timings in ms, number of unit calls)."""
        units = self.units(space, arch)
        return float(sum(self.ms(u.key) for u in units)), len(units)

    def predict(self, space: SearchSpace, arch: Arch) -> float:
        """Calibrated end-to-end latency (ms) of `arch`."""
        from hwnat.space.genome import encode

        return float(self.predict_many(space, encode(space, arch))[0])

    # -- vectorised prediction --------------------------------------------------------------------
    def positions(self, space: SearchSpace) -> PositionTable:
        """[ms, calls] per layer slot and per (stem, first block, head), NaN where the table has no entry."""
        self.check_space(space)
        if self._positions is None:
            self._positions = build_position_table(space, self._layer_values(space), self._base_values,
                                                   lead=(2,), dtype=np.float64)
        return self._positions

    def _get(self, unit: Unit) -> float:
        stats = self.entries.get(unit.key)
        return np.nan if stats is None else getattr(stats, self.statistic)

    def _layer_values(self, space: SearchSpace) -> Any:
        batch, dense = self.target.batch, space.variant.dense

        def values(block: BlockConfig, sizes: np.ndarray, index_in_stage: int) -> np.ndarray:
            out = np.zeros((2, len(sizes)))
            for i, size in enumerate(int(s) for s in sizes):
                out[:, i] = self._get(block_unit(block, size, batch)), 1
                if dense and index_in_stage >= 1:
                    out[:, i] += self._get(dense_add_unit(block, size, batch)), 1
            return out

        return values

    def _base_values(self, config: NetConfig, resolutions: np.ndarray, sizes: Sequence[np.ndarray]) -> np.ndarray:
        out = np.zeros((2, len(resolutions)))
        batch = self.target.batch
        for i, r in enumerate(int(r) for r in resolutions):
            units = (stem_unit(replace(config, resolution=r), batch),
                     block_unit(config.blocks[0], int(sizes[0][i]), batch),
                     head_unit(config.head, int(sizes[-1][i]), batch))
            out[:, i] = sum(self._get(u) for u in units), len(units)
        return out

    def raw_many(self, space: SearchSpace, genomes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(raw sums in ms, unit calls) for an (N, G) array of NAT genomes (or one genome)."""
        ms, calls = gather_sum(space, self.positions(space), genomes)
        if np.isnan(ms).any():
            from hwnat.space.genome import decode

            row = int(np.flatnonzero(np.isnan(ms))[0])
            self.check_arch(decode(space, np.atleast_2d(genomes)[row]))
            raise LatencyTableError(f"{self._where()} lacks entries for genome row {row}; rebuild it with: "
                                    f"{self.rebuild}")
        return ms, calls

    def calibration_inputs(self, space: SearchSpace,
                           genomes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(raw sums in ms, unit calls, widths, parameter counts in millions) of NAT genomes: what a calibration
        is fitted on and applied to."""
        return (*self.raw_many(space, genomes), self.widths_of(space, genomes), net_params_m(space, genomes))

    def predict_many(self, space: SearchSpace, genomes: np.ndarray) -> np.ndarray:
        """Calibrated latencies (ms) of an (N, G) array of NAT genomes, shape (N,)."""
        ms, calls = self.raw_many(space, genomes)
        params = net_params_m(space, genomes) if self.calibration.uses_params else None
        return self.calibration.apply(ms, calls, self.widths_of(space, genomes), params)

    @staticmethod
    def widths_of(space: SearchSpace, genomes: np.ndarray) -> np.ndarray:
        """Width multiplier of each NAT genome."""
        return np.asarray(space.width_mults, dtype=np.float64)[np.atleast_2d(np.asarray(genomes))[:, 1]]

    # -- serialisation ----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "hwnat_version": self.hwnat_version,
            "created": self.created,
            "statistic": self.statistic,
            "target": self.target.to_dict(),
            "space": self.space.to_dict(),
            "widths": list(self.widths),
            "resolutions": list(self.resolutions),
            "calibration": self.calibration.to_dict(),
            "validation": self.validation,
            "profiling": self.profiling,
            "entries": {k: self.entries[k].to_dict() for k in sorted(self.entries)},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], path: Path | None = None) -> LatencyTable:
        where = f"latency table {path}" if path else "latency table"
        if not isinstance(d, dict):
            raise LatencyTableError(f"{where} is corrupt: expected a JSON object")
        version = d.get("schema_version")
        if version != SCHEMA_VERSION:
            raise LatencyTableError(f"{where} has schema version {version!r}; this hwnat reads version "
                                    f"{SCHEMA_VERSION}: rebuild it with hwnat profile")
        statistic = d.get("statistic", DEFAULT_STATISTIC)
        if statistic not in STATISTICS:
            raise LatencyTableError(f"{where} is corrupt: statistic {statistic!r} is not one of {', '.join(STATISTICS)}")
        try:
            entries = {str(k): UnitTiming.from_dict(v) for k, v in d["entries"].items()}
            missing = [k for k, v in entries.items() if getattr(v, statistic) is None]
            if missing:
                raise ValueError(f"entry {missing[0]!r} has no {statistic}")
            return cls(
                target=TargetIdentity.from_dict(d["target"]),
                space=SpaceIdentity.from_dict(d["space"]),
                widths=tuple(float(w) for w in d["widths"]),
                resolutions=tuple(int(r) for r in d["resolutions"]),
                entries=entries,
                calibration=Calibration.from_dict(d.get("calibration") or {}),
                statistic=statistic,
                profiling=dict(d.get("profiling") or {}),
                validation=d.get("validation"),
                created=str(d.get("created", "")),
                hwnat_version=str(d.get("hwnat_version", "")),
                path=path,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            detail = f"missing key {exc}" if isinstance(exc, KeyError) else str(exc)
            raise LatencyTableError(f"{where} is corrupt: {detail}") from exc

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> LatencyTable:
        """Read a table; a missing, unreadable or corrupt file is a LatencyTableError naming it."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise LatencyTableError(f"latency table {path} does not exist") from None
        except OSError as exc:
            raise LatencyTableError(f"latency table {path} cannot be read: {exc.strerror}") from exc
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise LatencyTableError(f"latency table {path} is corrupt (invalid JSON: {exc}); delete it and "
                                    f"rebuild it with hwnat profile") from exc
        return cls.from_dict(data, path)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the table atomically (a fsynced temporary file beside it, then os.replace)."""
        from hwnat.io import atomic_write_json

        self.path = atomic_write_json(path, self.to_dict(), indent=1)
        return self.path
