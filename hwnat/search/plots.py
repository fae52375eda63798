"""Pareto plot (PNG, matplotlib Agg): archive, non-dominated front and high trade-off points."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def pareto_png(path: Path, F: np.ndarray, front: np.ndarray, tradeoff: np.ndarray, names: tuple[str, str],
               budget: float | None = None, title: str = "") -> Path:
    """Scatter of the first two objectives; `front`/`tradeoff` index F; a dashed line at the x budget."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4.2), dpi=120)
    ax = fig.subplots()
    x, y = F[:, 1], 100 * F[:, 0]
    ax.scatter(x, y, s=10, c="0.7", label="archive")
    order = front[np.argsort(x[front])]
    ax.plot(x[order], y[order], "o-", ms=4, c="tab:blue", label="non-dominated")
    if len(tradeoff):
        ax.scatter(x[tradeoff], y[tradeoff], s=80, facecolors="none", edgecolors="tab:red", label="high trade-off")
    if budget is not None:
        ax.axvline(budget, ls="--", c="tab:orange", label="budget")
    ax.set_xlabel(names[1])
    ax.set_ylabel("top-1 error (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    import io

    from hwnat.io import atomic_write_bytes

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return atomic_write_bytes(path, buf.getvalue())
