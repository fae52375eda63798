"""The build report's plots (matplotlib, Agg): the search archive and front with the budget and the chosen model,
and table-predicted against measured latency."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from hwnat.io import atomic_write_bytes

if TYPE_CHECKING:
    from hwnat.pipeline.report import BuildReport


def _figure():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt, plt.subplots(figsize=(6.4, 4.4), dpi=110)


def _save(plt, fig, path: Path) -> Path:  # type: ignore[no-untyped-def]
    import io

    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return atomic_write_bytes(path, buffer.getvalue())


def pareto_plot(report: BuildReport, archive_log: Path, path: Path) -> Path:
    """Every evaluated subnet (error vs table latency), the final front, the latency budget, the chosen model."""
    plt, (fig, ax) = _figure()
    records = [json.loads(line) for line in archive_log.read_text().splitlines() if line.strip()] \
        if archive_log.exists() else []
    if records:
        ax.scatter([r["latency"] for r in records], [100 * r["error"] for r in records], s=8, c="#bbbbbb",
                   label=f"evaluated ({len(records)})")
    front = sorted(report.search["front"], key=lambda r: r["latency"])
    if front:
        ax.plot([r["latency"] for r in front], [100 * r["error"] for r in front], "o-", ms=4, c="#1f77b4",
                label="front")
    limit = report.request["budgets"].get("latency")
    if limit is not None:
        ax.axvline(limit, c="#d62728", ls="--", label=f"budget {limit:g} ms")
    c = report.chosen
    ax.scatter([c["latency"]], [100 * c["error"]], marker="*", s=220, c="#ff7f0e", zorder=5,
               label=f"chosen {c['arch_id']}")
    ax.set_xlabel("latency predicted by the table (ms)")
    ax.set_ylabel("validation error (%), super-network weights")
    ax.set_title(f"search on {report.request['target']}")
    ax.legend(fontsize=7)
    return _save(plt, fig, path)


def latency_plot(report: BuildReport, path: Path) -> Path:
    """Table-predicted vs measured p50 for every subnet measured on the target, with the budget."""
    plt, (fig, ax) = _figure()
    rows = report.candidates
    xs, ys = [r["latency"] for r in rows], [r["measured_p50_ms"] for r in rows]
    ax.scatter(xs, ys, c="#1f77b4", label="candidates (fresh weights)")
    for fmt in report.formats:
        if fmt.get("p50_ms") is not None and fmt.get("predicted_ms") is not None:
            ax.scatter([fmt["predicted_ms"]], [fmt["p50_ms"]], marker="s", label=f"chosen, {fmt['format']}")
    lo, hi = min(xs + ys) * 0.9, max(xs + ys) * 1.1
    ax.plot([lo, hi], [lo, hi], c="#888888", lw=1, label="predicted = measured")
    limit = report.request["budgets"].get("latency")
    if limit is not None:
        ax.axhline(limit, c="#d62728", ls="--", label=f"budget {limit:g} ms")
    ax.set_xlabel("latency predicted by the table (ms)")
    ax.set_ylabel(f"p50 measured on {report.request['target']} (ms)")
    ax.legend(fontsize=7)
    return _save(plt, fig, path)
