"""`hwnat export`: compile one network to ONNX / OpenVINO IR / TensorRT, each checked against PyTorch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from hwnat.cli.export_source import export_options, source_options
from hwnat.cli.options import echo_table, emit_json, json_option


@click.command("export")
@export_options
@source_options
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("runs/export"), show_default=True,
              metavar="DIR", help="Folder the artifacts are written to (<arch id><suffix>).")
@click.option("--keep-failed", is_flag=True, help="Keep artifacts whose parity check failed (marked in metadata).")
@json_option
def export(format_text: str, out_dir: Path, keep_failed: bool, as_json: bool, target_names: tuple[str, ...],
           **params: Any) -> None:
    """Export a network to each --format, run it in its runtime on validation images against PyTorch, embed
    metadata, and write it atomically to --out.

    fp32 exports must match PyTorch (max |Δlogit| ≤ --atol, top-1 agreement ≥ 99.5%); fp16/INT8 exports fail
    when accuracy drops by more than --max-drop points. Exits non-zero when any format fails.

    \b
    The network, one of:
      --run DIR --arch ID            fine-tune run (model.pt) or search run (archive.jsonl)
      --checkpoint FILE              static subnet file
      --supernet CKPT --subnet FILE  extracted and BN-recalibrated
      --space S --subnet FILE        fresh weights (latency studies), random images for parity
    """
    from hwnat.cli.export_source import load_source_from_flags, parse_targets, resolve_formats_and_options
    from hwnat.export.api import export_subnet

    formats, options = resolve_formats_and_options(format_text, params)
    targets = parse_targets(target_names)
    source = load_source_from_flags(**{k: params[k] for k in (
        "run_dir", "arch_id", "checkpoint", "supernet", "subnet", "space_name", "variant", "classes", "data", "val",
        "seed")})
    data = source.export_data(options)
    results = export_subnet(source.model, source.info, formats, out_dir, data=data, options=options,
                            targets=targets, seed=source.seed, keep_failed=keep_failed)
    if as_json:
        emit_json({"arch_id": source.info.arch_id, "source": source.origin, "out": str(out_dir),
                   "results": [r.to_dict() for r in results]})
    else:
        click.echo(f"{source.info.arch_id} from {source.origin}; parity on {len(data.val)} "
                   f"{'validation' if data.labelled else 'random'} images", err=True)
        echo_table(["", "format", "size", "parity", "file"],
                   [[r.symbol, r.format.name, _mb(r.size_bytes) if r.path else "-",
                     (r.parity.reason if r.parity and r.ok else r.error), r.path or "-"] for r in results])
    failed = [r.format.name for r in results if not r.ok]
    if failed:
        raise click.ClickException(f"{len(failed)} of {len(results)} formats failed: {', '.join(failed)}")


def _mb(n: int) -> str:
    return f"{n / 2**20:.2f} MB"
