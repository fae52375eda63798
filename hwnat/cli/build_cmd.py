"""`hwnat build`: one command from a target and a budget to a compiled model measured on the target."""

from __future__ import annotations

from pathlib import Path

import click

from hwnat.cli.options import echo_table, emit_json, json_option

PRESETS = ("smoke", "quick", "paper")  # hwnat.pipeline.request.BUILD_PRESETS (checked by a test; --help stays light)


@click.command("build")
@click.option("--target", required=True, metavar="NAME", help="Target to build for (hwnat targets).")
@click.option("--budget", required=True, metavar="LIST",
              help="Budget items: latency=2ms (also '2 ms', 0.002s), macs=50M, params=1M (also 1.5M, 1e6).")
@click.option("--data", default="digits", show_default=True, metavar="PATH",
              help="'digits' (scikit-learn's, built in), an ImageFolder directory or a .tar/.tar.gz of one.")
@click.option("--supernet", type=click.Path(path_type=Path), default=None, metavar="CKPT",
              help="Reuse this trained super-network (supernet.pt) instead of training one.")
@click.option("--preset", type=click.Choice(PRESETS), default="quick", show_default=True,
              help="Sizes of every stage: smoke (seconds, for tests), quick (minutes on a 2-core CPU), paper.")
@click.option("--config", type=click.Path(path_type=Path), default=None, metavar="FILE",
              help="TOML file sizing the stages: [build], [supernet.train], [supernet.phases.NAME], [search], "
                   "[finetune] (README: Build configuration); its `preset` wins over --preset.")
@click.option("--formats", default=None, metavar="LIST",
              help="Formats to compile (hwnat export --help lists them); default: the target's own.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("runs/build"), show_default=True,
              help="Run directory (layout in the README).")
@click.option("--cache", type=click.Path(path_type=Path), default=None,
              help="Where tables and super-networks are kept for other builds [default: OUT/../cache].")
@click.option("--resume", is_flag=True, help="Continue a stopped build in --out; completed stages are reused.")
@click.option("--space", default="mbv3-small-input", show_default=True, metavar="NAME", help="Search space.")
@click.option("--variant", default=None, metavar="NAME", help="OFAv2 variant (default: base).")
@click.option("--width", type=float, default=None, help="Width multiplier (default: the space's smallest).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True,
              help="Where training, search and fine-tuning run (latency is always measured on the target).")
@json_option
def build(target: str, budget: str, data: str, supernet: Path | None, preset: str, config: Path | None,
          formats: str | None, out: Path, cache: Path | None, resume: bool, space: str, variant: str | None,
          width: float | None, seed: int, device: str, as_json: bool) -> None:
    """Find, train, compile and verify the most accurate model that fits BUDGET on TARGET.

    Stages: latency table → super-network → NATv2 search → candidates measured on the target → fine-tuning →
    export → benchmark → report (OUT/report.json, report.md, report.html). Progress goes to stderr.
    """
    from hwnat.pipeline import build as run_build
    from hwnat.pipeline.report import FORMAT_HEADER, budget_lines, format_rows, summary_lines

    try:
        report = run_build(target, budget, data=data, supernet=supernet, preset=preset, config=config,
                           formats=formats, out=out, cache=cache, resume=resume, space=space, variant=variant,
                           width=width, seed=seed, device=device, progress=not as_json,
                           on_stage=lambda name, line: click.echo(line, err=True))
    except KeyboardInterrupt:
        raise click.ClickException(f"interrupted; completed stages are kept in {str(out)!r}: run the same command "
                                   f"with --resume to continue") from None
    if as_json:
        emit_json(report.to_dict())
        return
    for line in summary_lines(report):
        click.echo(line)
    if report.formats:
        echo_table(FORMAT_HEADER, format_rows(report))
    for line in budget_lines(report):
        click.echo(line)
    click.echo(f"{'PASS' if report.passed else 'FAIL'}: report in {report.files['report_html']}")
    if not report.passed:
        raise SystemExit(1)
