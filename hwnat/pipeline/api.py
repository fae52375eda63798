"""`hwnat.build(...)`: from a target and a budget to a compiled, verified model, stage by stage, resumable."""

from __future__ import annotations

import errno
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hwnat.errors import ConfigError, HwnatError
from hwnat.pipeline.report import BuildReport, make_report, write_report
from hwnat.pipeline.request import BuildRequest, check_writable
from hwnat.pipeline.rundir import RunDir
from hwnat.pipeline.stages import STAGES, BuildContext, run_stages
from hwnat.space.spec import SearchSpace

log = logging.getLogger(__name__)


def build(target: str, budget: str | dict[str, Any], *, data: str = "digits", supernet: str | Path | None = None,
          preset: str = "quick", config: str | Path | None = None, formats: str | list[str] | None = None,
          out: str | Path = "runs/build", cache: str | Path | None = None, resume: bool = False,
          space: str | SearchSpace = "mbv3-small-input", variant: str | None = None, width: float | None = None,
          seed: int = 0, device: str = "cpu", progress: bool = True,
          on_stage: Callable[[str, str], None] | None = None) -> BuildReport:
    """Profile (or reuse) the target's latency table, train (or reuse) a super-network, search with the budget as
    constraints, measure the best candidates on the target, fine-tune, export, benchmark and report.

    Every stage's result is kept in `out` with a fingerprint of its inputs; `resume` continues a build that was
    stopped, redoing nothing that completed. `on_stage(stage, line)` receives a line as each stage starts (and
    per search iteration). `config`: a TOML file sizing the stages (hwnat.pipeline.build_config; README).
    Returns the report also written to out/report.{json,md,html}.
    """
    req = BuildRequest.make(target, budget, data=data, supernet=supernet, preset=preset, config=config,
                            formats=formats, out=out, cache=cache, space=space, variant=variant, width=width,
                            seed=seed, device=device)
    check_writable(req.out, "--out")
    check_writable(req.cache_dir, "--cache")
    ctx = _context(req, resume, progress)
    ctx.notify = on_stage
    try:
        run_stages(ctx, STAGES)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise HwnatError(f"the disk is full ({exc.filename or req.out}); completed stages are kept in "
                             f"{str(req.out)!r}: free some space and run again with --resume") from exc
        raise
    report = make_report(ctx)
    write_report(report, req.out)
    return report


def _context(req: BuildRequest, resume: bool, progress: bool) -> BuildContext:
    from hwnat.backends.base import create_backend
    from hwnat.config.targets import load_target
    from hwnat.data import load_dataset
    from hwnat.space import get_space

    target = load_target(req.target)
    create_backend(target)  # a missing runtime fails here, naming the package, before any work
    dataset = load_dataset(req.data)
    if isinstance(req.space, str):
        sp = get_space(req.space, variant=req.variant, num_classes=dataset.num_classes)
    else:
        sp = req.space.with_classes(dataset.num_classes)
        sp = sp if req.variant is None else sp.with_variant(req.variant)
    width = sp.check_width(sp.width_mults[0] if req.width is None else req.width)
    if req.supernet is not None:
        net_space, width, resolutions = _supernet_identity(req.supernet)
        if req.variant is None:
            sp = sp.with_variant(net_space.variant)
    else:
        resolutions = _trained_resolutions(sp, req.settings["train"], req.settings["overrides"].get("train"))
    run = RunDir(req.out, req.to_dict(), resume)
    return BuildContext(req, run, target, dataset, sp, width, resolutions, progress)


def _trained_resolutions(space: Any, train_preset: str, overrides: dict[str, Any] | None) -> tuple[int, ...]:
    from hwnat.training.config import load_config

    chosen = load_config(train_preset, overrides=overrides).resolutions
    return tuple(space.resolutions) if chosen is None else tuple(chosen)


def _supernet_identity(path: Path) -> tuple[Any, float, tuple[int, ...]]:
    """The space, width and trained resolutions stored in a super-network file."""
    from hwnat.space.spec import SearchSpace
    from hwnat.training import checkpoint as ckpt
    from hwnat.training.config import TrainConfig

    raw = ckpt.load_file(path)
    try:
        space = SearchSpace.from_dict(raw["space"])
        cfg = TrainConfig.from_dict(raw["config"], source=str(path))
    except (KeyError, TypeError) as exc:
        raise ConfigError(f"--supernet: {str(path)!r} is not an hwnat super-network file ({exc})") from exc
    res = tuple(space.resolutions) if cfg.resolutions is None else tuple(cfg.resolutions)
    return space, float(raw["width_mult"]), res
