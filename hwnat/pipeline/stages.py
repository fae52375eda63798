"""The stages of a build, in order, each with the inputs that fingerprint it and the function that runs it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from hwnat.pipeline.request import BuildRequest
from hwnat.pipeline.rundir import RunDir, fingerprint
from hwnat.errors import ConfigError

if TYPE_CHECKING:
    from hwnat.config.targets import TargetSpec
    from hwnat.data.dataset import ImageDataset
    from hwnat.latency.table import LatencyTable
    from hwnat.space.spec import SearchSpace

log = logging.getLogger(__name__)


@dataclass
class BuildContext:
    """What the stages share: the request, the run folder, the loaded target, data and space, and results so far."""

    request: BuildRequest
    run: RunDir
    target: TargetSpec
    dataset: ImageDataset
    space: SearchSpace
    width: float
    resolutions: tuple[int, ...]
    progress: bool = True
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    fingerprints: dict[str, str] = field(default_factory=dict)

    @property
    def settings(self) -> dict[str, Any]:
        return self.request.settings

    def table(self) -> LatencyTable:
        from hwnat.latency.table import LatencyTable

        return LatencyTable.load(self.results["table"]["path"])


@dataclass(frozen=True)
class Stage:
    name: str
    inputs: Callable[[BuildContext], dict[str, Any]]
    run: Callable[[BuildContext], dict[str, Any]]


STAGES: list[Stage] = []


def stage(name: str, inputs: Callable[[BuildContext], dict[str, Any]]) -> Callable[..., Any]:
    def register(fn: Callable[[BuildContext], dict[str, Any]]) -> Callable[[BuildContext], dict[str, Any]]:
        STAGES.append(Stage(name, inputs, fn))
        return fn

    return register


def upstream(ctx: BuildContext, *names: str) -> dict[str, str]:
    return {f"{n}_stage": ctx.fingerprints[n] for n in names}


# -- latency table -------------------------------------------------------------------------------------------
def _table_inputs(ctx: BuildContext) -> dict[str, Any]:
    from hwnat.latency.store import target_identity

    return {"target": target_identity(ctx.target).fingerprint, "space": ctx.space.fingerprint, "width": ctx.width,
            "resolutions": list(ctx.resolutions), "calibrate": ctx.settings["calibrate"]}


@stage("table", _table_inputs)
def latency_table(ctx: BuildContext) -> dict[str, Any]:
    """A shipped or cached table for this target, machine and space that covers the width and resolutions; else
    profile one into the cache (resumable: the profiler's journal keeps every unit measured before a kill)."""
    from hwnat.latency.build import ProfileRequest, build_table
    from hwnat.latency.store import find_table, table_filename
    from hwnat.latency.table import LatencyTableError

    try:
        table = find_table(ctx.target, ctx.space)
        if ctx.width in table.widths and set(ctx.resolutions) <= set(table.resolutions):
            return {"path": str(table.path), "source": "shipped", "calibration": table.calibration.to_dict(),
                    "validation": table.validation}
    except LatencyTableError as exc:
        log.info("profiling: %s", exc)
    out = ctx.request.cache_dir / "tables" / table_filename(ctx.target.name, ctx.space)
    report = build_table(ProfileRequest(ctx.target, ctx.space, widths=(ctx.width,), resolutions=ctx.resolutions,
                                        out=out, calibrate=ctx.settings["calibrate"], seed=ctx.request.seed,
                                        rounds=ctx.settings["rounds"], progress=ctx.progress))
    return {"path": report["table"], "source": "profiled", "calibration": report["calibration"],
            "validation": report.get("validation"), "profiling_wall_s": report["profiling"].get("wall_s")}


# -- super-network -------------------------------------------------------------------------------------------
def data_identity(ds: ImageDataset) -> dict[str, Any]:
    import hashlib

    return {"source": ds.source, "images": len(ds), "classes": list(ds.classes),
            "labels": hashlib.sha256(np.ascontiguousarray(ds.labels).tobytes()).hexdigest()[:16]}


def _supernet_inputs(ctx: BuildContext) -> dict[str, Any]:
    given = ctx.request.supernet
    if given is not None:
        stat = given.stat()
        return {"given": str(given.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    return {"space": ctx.space.fingerprint, "width": ctx.width, "data": data_identity(ctx.dataset),
            "preset": ctx.settings["train"], "seed": ctx.request.seed}


@stage("supernet", _supernet_inputs)
def supernet(ctx: BuildContext) -> dict[str, Any]:
    """The given super-network (checked against the space and data), else one trained into the cache (resumed
    from its last epoch when a build was killed while training)."""
    from hwnat.training.api import load_supernet, train_supernet

    if ctx.request.supernet is not None:
        net = load_supernet(ctx.request.supernet)
        if net.space.fingerprint != ctx.space.fingerprint or float(net.width_mult) != ctx.width:
            raise ConfigError(
                f"--supernet: {str(ctx.request.supernet)!r} is space {net.space.name!r} variant "
                f"{net.space.variant.name} w{net.width_mult} with {net.space.num_classes} classes (fingerprint "
                f"{net.space.fingerprint}); this build needs {ctx.space.name!r} variant {ctx.space.variant.name} "
                f"w{ctx.width} with {ctx.space.num_classes} classes (fingerprint {ctx.space.fingerprint})")
        return {"path": str(ctx.request.supernet), "trained": False}
    folder = ctx.request.cache_dir / "supernets" / ctx.fingerprints["supernet"]
    resume = (folder / "checkpoints" / "last.pt").exists()
    result = train_supernet(ctx.space, ctx.dataset, width_mult=ctx.width, preset=ctx.settings["train"], out=folder,
                            resume=resume, device=ctx.request.device, seed=ctx.request.seed, progress=ctx.progress)
    return {"path": str(result.supernet_path), "trained": True, "resumed": resume,
            "phases": [vars(p) for p in result.phases]}


# -- search ------------------------------------------------------------------------------------------------------
def search_config(ctx: BuildContext) -> Any:
    from hwnat.search.config import make_config

    objectives = ("error", "latency")
    return make_config(ctx.settings["search"], "natv2", objectives=objectives, budgets=dict(ctx.request.budgets),
                       seed=ctx.request.seed, width_mult=ctx.width, resolutions=ctx.resolutions)


def _search_inputs(ctx: BuildContext) -> dict[str, Any]:
    return {**upstream(ctx, "table", "supernet"), "config": search_config(ctx).to_dict(),
            "val_images": ctx.settings["val_images"]}


@stage("search", _search_inputs)
def search(ctx: BuildContext) -> dict[str, Any]:
    """NATv2 with the budget as constraints; continues its own state when a build was killed mid-search."""
    from hwnat.search.loop import run_search
    from hwnat.search.objectives import table_latency
    from hwnat.search.state import STATE_FILE
    from hwnat.search.supernet_eval import supernet_evaluator

    out = ctx.run.path("search")
    cfg = search_config(ctx)
    evaluator = supernet_evaluator(ctx.results["supernet"]["path"], ctx.request.data, seed=ctx.request.seed,
                                   device=ctx.request.device, val_images=ctx.settings["val_images"])
    resume = (out / STATE_FILE).exists()
    result = run_search(cfg, evaluator, ctx.space, latency=table_latency(ctx.table(), ctx.space), out=out,
                        resume=resume, progress=_search_progress if ctx.progress else None)
    feasible = result.archive.take(np.flatnonzero(result.archive.violation(cfg.budgets) == 0))
    return {"out": str(out), "evaluations": result.evaluations, "hv": result.history[-1]["hv"],
            "archive_size": len(result.archive), "feasible": feasible.records(ctx.space),
            "front": result.front.records(ctx.space), "resumed": resume}


def _search_progress(row: dict[str, Any]) -> None:
    best = row.get("best_feasible_error")
    log.warning("search iteration %d: HV %.4f, archive %d, best feasible error %s", row["iteration"], row["hv"],
                row["archive_size"], "-" if best is None else f"{100 * best:.2f}%")


# -- selection, measured on the target -------------------------------------------------------------------
def _select_inputs(ctx: BuildContext) -> dict[str, Any]:
    return {**upstream(ctx, "search"), "candidates": ctx.settings["candidates"], "rounds": ctx.settings["rounds"]}


@stage("select", _select_inputs)
def select(ctx: BuildContext) -> dict[str, Any]:
    """Measure the most accurate feasible subnets end to end on the target (interleaved) and keep the most
    accurate one whose measured latency meets the budget: the table predicts, the target decides."""
    from hwnat.backends.base import create_backend
    from hwnat.latency.networks import default_network_timing, measure_networks
    from hwnat.space.genome import parse_arch_id

    feasible = sorted(ctx.results["search"]["feasible"], key=lambda r: (r["error"], r.get("latency", 0.0)))
    if not feasible:
        raise ConfigError(f"--budget: the search found no subnet within {_budget_text(ctx.request.budgets)}; "
                          f"relax the budget or search longer (--preset paper)")
    candidates = feasible[: ctx.settings["candidates"]]
    archs = [parse_arch_id(ctx.space, r["arch_id"]) for r in candidates]
    backend = create_backend(ctx.target)
    timing = default_network_timing(ctx.target.timing, ctx.settings["rounds"])
    measured = measure_networks(backend, ctx.space, archs, timing, seed=ctx.request.seed, progress=ctx.progress,
                                use_probe=False)
    rows = []
    for rec, stats in zip(candidates, measured):
        rows.append({**{k: rec[k] for k in ("arch_id", "error", "macs", "params", "latency") if k in rec},
                     "measured_p50_ms": stats.p50_ms, "measured_p90_ms": stats.p90_ms})
    limit = ctx.request.budgets.get("latency")
    fits = [r for r in rows if limit is None or r["measured_p50_ms"] <= limit]
    if not fits:
        fastest = min(rows, key=lambda r: r["measured_p50_ms"])
        raise ConfigError(f"--budget: none of the {len(rows)} most accurate feasible subnets meets latency ≤ "
                          f"{limit:g} ms measured on {ctx.target.name} (fastest measured "
                          f"{fastest['measured_p50_ms']:.3f} ms, table predicted {fastest['latency']:.3f} ms); "
                          f"rebuild the latency table or relax the budget")
    chosen = min(fits, key=lambda r: r["error"])
    return {"candidates": rows, "chosen": chosen}


def _budget_text(budgets: dict[str, float]) -> str:
    from hwnat.search.objectives import format_quantity

    return ", ".join(f"{k} ≤ {format_quantity(k, v)}" for k, v in budgets.items())


def run_stages(ctx: BuildContext, stages: list[Stage], on_stage: Callable[[str, str], None] | None = None) -> None:
    """Run each stage unless the run folder holds its result for the same inputs."""
    import time

    for i, st in enumerate(stages, start=1):
        fp = fingerprint(st.inputs(ctx))
        ctx.fingerprints[st.name] = fp
        cached = ctx.run.cached(st.name, fp)
        if cached is not None:
            ctx.results[st.name] = cached
            if on_stage:
                on_stage(st.name, f"[{i}/{len(stages)}] {st.name}: reused")
            continue
        if on_stage:
            on_stage(st.name, f"[{i}/{len(stages)}] {st.name} ...")
        start = time.perf_counter()
        result = st.run(ctx)
        ctx.results[st.name] = result
        ctx.run.complete(st.name, fp, result, time.perf_counter() - start)


def stage_names() -> list[str]:
    return [s.name for s in STAGES]

