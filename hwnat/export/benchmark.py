"""benchmark_subnet: export to every format, then measure each artifact's test accuracy and latency on its target."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hwnat.export.api import ExportResult, export_subnet

if TYPE_CHECKING:
    from torch import nn

    from hwnat.backends.base import TimingStats
    from hwnat.config.targets import TargetSpec
    from hwnat.export.data import ExportData
    from hwnat.export.formats import ExportFormat
    from hwnat.export.options import ExportOptions
    from hwnat.models.checkpoint import SubnetInfo

log = logging.getLogger(__name__)


@dataclass
class BenchmarkRow:
    """One format: its export result, test accuracy, measured latency and the latency table's prediction."""

    export: ExportResult
    target: str
    test_accuracy: float | None = None
    test_images: int = 0
    latency: TimingStats | None = None
    predicted_ms: float | None = None
    error: str = ""

    @property
    def prediction_error_pct(self) -> float | None:
        """100 · (predicted − measured p50) / measured p50."""
        if self.predicted_ms is None or self.latency is None:
            return None
        return 100.0 * (self.predicted_ms - self.latency.p50_ms) / self.latency.p50_ms

    def to_dict(self) -> dict[str, Any]:
        return {**self.export.to_dict(), "target": self.target, "test_accuracy": self.test_accuracy,
                "test_images": self.test_images, "latency": self.latency.to_dict() if self.latency else None,
                "predicted_latency_ms": self.predicted_ms, "prediction_error_pct": self.prediction_error_pct,
                "benchmark_error": self.error}


def benchmark_subnet(model: nn.Module, info: SubnetInfo, formats: str | Iterable[str | ExportFormat],
                     out_dir: str | os.PathLike[str], *, data: ExportData | None = None,
                     options: ExportOptions | None = None, targets: Mapping[str, TargetSpec | str] | None = None,
                     seed: int = 0) -> list[BenchmarkRow]:
    """Export every format (failed validations kept, marked ❎), then per artifact: top-1 on `data.test` in its
    runtime, p50/p90 latency with the target's timing settings, and the target's table-predicted latency."""
    from hwnat.export.api import default_targets

    results = export_subnet(model, info, formats, out_dir, data=data, options=options, targets=targets, seed=seed,
                            keep_failed=True)
    chosen = default_targets([r.format for r in results], targets)
    rows = []
    for result in results:
        target = chosen[result.format.name]
        row = BenchmarkRow(result, target.name, predicted_ms=result.metadata.get("predicted_latency_ms"))
        if result.model_file is not None:
            _measure(row, result, target, data, info)
        rows.append(row)
    return rows


def _measure(row: BenchmarkRow, result: ExportResult, target: TargetSpec, data: ExportData | None,
             info: SubnetInfo) -> None:
    from hwnat.export.runners import load_artifact, run_all

    resolution = int(info.arch.resolution)
    assert result.model_file is not None
    try:
        backend, compiled = load_artifact(result.format.family, result.model_file, target,
                                          (1, 3, resolution, resolution))
        if data is not None and data.test is not None and data.test_labels is not None:
            logits = run_all(compiled, data.test)
            row.test_accuracy = float((logits.argmax(1) == data.test_labels).mean())
            row.test_images = len(data.test)
        row.latency = backend.measure(compiled)
    except Exception as exc:  # a row that cannot be measured says why; the others go on
        log.debug("benchmarking %s failed", result.format.name, exc_info=True)
        row.error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
