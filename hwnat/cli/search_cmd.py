"""`hwnat search`: NAT / NATv2 search over a trained super-network with a target's latency table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from hwnat.cli.options import emit_json, json_option

ALGORITHMS = ("natv2", "nat")  # hwnat.search.config.ALGORITHMS (checked by a test; kept light for --help)
PRESETS = ("smoke", "quick", "paper")


@click.command("search")
@click.option("--supernet", "supernet_path", required=True, type=click.Path(path_type=Path), metavar="CKPT",
              help="Super-network file written by training (supernet.pt).")
@click.option("--target", "target_name", default=None, metavar="NAME",
              help="Target whose latency table gives the latency objective/budget (hwnat targets).")
@click.option("--data", default="digits", show_default=True, metavar="PATH",
              help="Dataset the super-network was trained on: 'digits', an ImageFolder directory or tar.")
@click.option("--budget", default=None, metavar="LIST", help="Constraints, e.g. latency=2ms,params=1M,macs=300M.")
@click.option("--objectives", default="error,latency", show_default=True, metavar="LIST",
              help="Objectives among error, macs, params, latency (error is always included).")
@click.option("--algorithm", type=click.Choice(ALGORITHMS), default="natv2", show_default=True)
@click.option("--preset", type=click.Choice(PRESETS), default="quick", show_default=True,
              help="Sizes: archive, population, generations, candidates per iteration, iterations.")
@click.option("--iterations", type=click.IntRange(min=0), default=None, help="Override the preset's iterations.")
@click.option("--predictor", default=None, metavar="NAME", help="Override the algorithm's accuracy predictor.")
@click.option("--adapt/--no-adapt", default=None,
              help="Supernet adaptation every iteration (NAT's online transfer; default: on for nat, off for natv2).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--val-images", type=click.IntRange(min=0), default=0, show_default=True,
              help="Validation images per subnet evaluation (0 = the whole validation split).")
@click.option("--device", default="cpu", show_default=True)
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("runs/search"), show_default=True)
@click.option("--resume", is_flag=True, help="Continue the search in --out from its last completed iteration.")
@json_option
def search(supernet_path: Path, target_name: str | None, data: str, budget: str | None, objectives: str,
           algorithm: str, preset: str, iterations: int | None, predictor: str | None, adapt: bool | None, seed: int,
           val_images: int, device: str, out_dir: Path, resume: bool, as_json: bool) -> None:
    """Find the Pareto front of accuracy against latency / MACs / params under a budget (NATv2 or NAT).

    Writes archive.jsonl, front.json, hv.csv, pareto.png and state.json (adapted/ with adaptation) to --out;
    progress goes to stderr.
    """
    from hwnat.errors import ConfigError
    from hwnat.search.config import make_config

    try:
        cfg = make_config(preset, algorithm, objectives=tuple(o for o in objectives.split(",") if o.strip()),
                          budgets=budget, iterations=iterations, predictor=predictor, adapt=adapt, seed=seed)
    except ConfigError as exc:
        hint = "'--budget'" if "budget" in str(exc) else "'--objectives'" if "objective" in str(exc) else None
        raise click.BadParameter(str(exc), param_hint=hint) from exc
    needs_latency = "latency" in cfg.objectives or "latency" in cfg.budgets
    if needs_latency and target_name is None:
        raise click.UsageError("the latency objective or budget needs --target (or drop latency from --objectives)")
    if not supernet_path.is_file():
        raise click.BadParameter(f"{str(supernet_path)!r} does not exist", param_hint="'--supernet'")

    from hwnat.search.loop import run_search
    from hwnat.search.objectives import table_latency
    from hwnat.search.supernet_eval import supernet_adapter, supernet_evaluator

    evaluator = supernet_evaluator(supernet_path, data, seed=seed, device=device, val_images=val_images)
    space = evaluator.space
    latency = None
    if needs_latency:
        from hwnat.cli.profile_cmd import load_target_option
        from hwnat.latency.store import find_table

        latency = table_latency(find_table(load_target_option(target_name), space), space)
    width = float(evaluator.supernet.width_mult) if hasattr(evaluator.supernet, "width_mult") else None
    if width is not None:
        from dataclasses import replace

        cfg = replace(cfg, width_mult=width)
    if resume:  # the search continues with its stored configuration (adaptation settings included)
        from hwnat.search.config import SearchConfig
        from hwnat.search.state import STATE_FILE, stored_config

        stored = stored_config(out_dir / STATE_FILE)
        cfg = SearchConfig.from_dict(stored) if stored is not None else cfg
    adapter = supernet_adapter(evaluator, cfg) if cfg.adapt else None
    result = run_search(cfg, evaluator, space, latency=latency, out=out_dir, resume=resume, progress=_progress,
                        adapter=adapter)
    summary: dict[str, Any] = {"out": str(out_dir), "evaluations": result.evaluations,
                               "hv": result.history[-1]["hv"], "front": result.front.records(space),
                               "tradeoff": result.tradeoff.records(space)}
    if as_json:
        emit_json(summary)
        return
    click.echo(f"{len(result.front)} non-dominated subnets, {len(result.tradeoff)} high trade-off; "
               f"hypervolume {summary['hv']:.4f} after {result.evaluations} evaluations; files in {out_dir}")
    for rec in summary["tradeoff"] or summary["front"][:5]:
        extras = "  ".join(f"{k} {rec[k]:.4g}" for k in cfg.objectives[1:])
        click.echo(f"  {rec['arch_id']}  error {100 * rec['error']:.2f}%  {extras}")


def _progress(row: dict[str, Any]) -> None:
    tau = row.get("kendall")
    best = row.get("best_feasible_error")
    click.echo(f"iteration {row['iteration']:>3}  HV {row['hv']:.4f}  archive {row['archive_size']}  "
               f"kendall {'-' if tau is None else f'{tau:.3f}'}  best feasible error "
               f"{'-' if best is None else f'{100 * best:.2f}%'}", err=True)
