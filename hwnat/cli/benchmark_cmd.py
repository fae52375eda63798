"""`hwnat benchmark`: every format's status, size, test accuracy and latency on its target (Ultralytics-style)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from hwnat.cli.export_source import export_options, source_options
from hwnat.cli.options import echo_table, emit_json, json_option


@click.command("benchmark")
@export_options
@source_options
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("runs/benchmark"),
              show_default=True, metavar="DIR", help="Folder the benchmarked artifacts are written to.")
@click.option("--test-images", type=click.IntRange(min=0), default=0, show_default=True, metavar="N",
              help="Test-split images for accuracy (0: all).")
@json_option
def benchmark(format_text: str, out_dir: Path, test_images: int, as_json: bool, target_names: tuple[str, ...],
              **params: Any) -> None:
    """Export the network to each --format (use --format all) and measure every artifact on its target.

    One row per format: ✅ exported and validated, ❎ exported but parity failed, ❌ export failed; size;
    top-1 on the test split (the half of the held-out images no stage selected on); latency p50/p90 with the
    target's timing settings; the target's table-predicted latency and its error against p50.
    """
    from hwnat.cli.export_source import load_source_from_flags, parse_targets, resolve_formats_and_options
    from hwnat.export.benchmark import benchmark_subnet

    formats, options = resolve_formats_and_options(format_text, params)
    targets = parse_targets(target_names)
    source = load_source_from_flags(**{k: params[k] for k in (
        "run_dir", "arch_id", "checkpoint", "supernet", "subnet", "space_name", "variant", "classes", "data", "val",
        "seed")})
    data = source.export_data(options, test_images=test_images)
    rows = benchmark_subnet(source.model, source.info, formats, out_dir, data=data, options=options,
                            targets=targets, seed=source.seed)
    if as_json:
        emit_json({"arch_id": source.info.arch_id, "source": source.origin, "out": str(out_dir),
                   "rows": [row.to_dict() for row in rows]})
        return
    click.echo(f"{source.info.arch_id} from {source.origin}", err=True)
    echo_table(["", "format", "target", "size MB", "top-1 (test)", "p50 ms", "p90 ms", "table ms", "table err",
                "note"], [_cells(row) for row in rows])


def _cells(row: Any) -> list[str]:
    result = row.export
    err = row.prediction_error_pct
    note = result.error or row.error
    return [result.symbol, result.format.name, row.target,
            f"{result.size_bytes / 2**20:.2f}" if result.path else "-",
            f"{100 * row.test_accuracy:.2f}%" if row.test_accuracy is not None else "-",
            f"{row.latency.p50_ms:.3f}" if row.latency else "-", f"{row.latency.p90_ms:.3f}" if row.latency else "-",
            f"{row.predicted_ms:.3f}" if row.predicted_ms is not None else "-",
            f"{err:+.1f}%" if err is not None else "-", note]
