"""The stages of a build, in order, each with the inputs that fingerprint it and the function that runs it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hwnat.errors import ConfigError
from hwnat.pipeline.request import CALM_KEYS, BuildRequest, calm_policy
from hwnat.pipeline.rundir import RunDir, fingerprint

if TYPE_CHECKING:
    from hwnat.config.targets import TargetSpec
    from hwnat.data.dataset import ImageDataset
    from hwnat.latency.table import LatencyTable
    from hwnat.search.eval_cache import CachedEvaluator
    from hwnat.search.evaluator import Evaluator
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
    notify: Callable[[str, str], None] | None = None  # (stage, line): progress lines for the terminal
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
    workdir: str | None = None  # the folder of the run directory it works in (RunDir.claim)


STAGES: list[Stage] = []


def stage(name: str, inputs: Callable[[BuildContext], dict[str, Any]],
          workdir: str | None = None) -> Callable[..., Any]:
    def register(fn: Callable[[BuildContext], dict[str, Any]]) -> Callable[[BuildContext], dict[str, Any]]:
        STAGES.append(Stage(name, inputs, fn, workdir))
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
    """The target's latency table for the space, width and resolutions (`resolve_table`)."""
    return resolve_table(ctx.target, ctx.space, ctx.width, ctx.resolutions, ctx.request.cache_dir,
                         calibrate=ctx.settings["calibrate"], rounds=ctx.settings["rounds"], seed=ctx.request.seed,
                         progress=ctx.progress)


def resolve_table(target: TargetSpec, space: SearchSpace, width: float, resolutions: tuple[int, ...],
                  cache_dir: Path, *, calibrate: int, rounds: int, seed: int, progress: bool) -> dict[str, Any]:
    """A shipped table, else one a build left in `cache_dir`, for this target, machine and space and covering the
    width and resolutions; else profile one into the cache (resumable: the profiler's journal keeps every unit
    measured before a kill). Returns the table's path, where it came from, and its calibration."""
    from hwnat.latency.build import ProfileRequest, build_table
    from hwnat.latency.store import find_table, table_filename, target_identity
    from hwnat.latency.table import LatencyTable, LatencyTableError

    cached = cache_dir / "tables" / table_filename(target.name, space)
    found: list[tuple[str, Callable[[], LatencyTable]]] = [
        ("shipped", lambda: find_table(target, space)),
        ("cache", lambda: LatencyTable.load(cached).check(target_identity(target), space))]
    for source, load in found:
        if source == "cache" and not cached.exists():
            continue
        try:
            table = load()
        except LatencyTableError as exc:
            log.info("not using the %s table: %s", source, exc)
            continue
        if width in table.widths and set(resolutions) <= set(table.resolutions) and table.calibration.n:
            return {"path": str(table.path), "source": source, "calibration": table.calibration.to_dict(),
                    "validation": table.validation}
    report = build_table(ProfileRequest(target, space, widths=(width,), resolutions=resolutions, out=cached,
                                        calibrate=calibrate, seed=seed, rounds=rounds, progress=progress))
    return {"path": report["table"], "source": "profiled", "calibration": report["calibration"],
            "validation": report.get("validation"), "profiling_wall_s": report["profiling"].get("wall_s")}


# -- budget feasibility (before anything is trained) ------------------------------------------------------
def _budget_inputs(ctx: BuildContext) -> dict[str, Any]:
    return {**upstream(ctx, "table"), "budgets": dict(ctx.request.budgets)}


@stage("budget", _budget_inputs)
def budget(ctx: BuildContext) -> dict[str, Any]:
    """Refuse a budget that even the smallest subnet misses (naming what it reaches) before any training."""
    from hwnat.search.objectives import ExactObjectives, check_budgets, table_latency
    from hwnat.search.operators import extreme_genomes, search_bounds

    lo, hi = search_bounds(ctx.space, ctx.width, ctx.resolutions)
    smallest = extreme_genomes(ctx.space, lo, hi)[0]
    exact = ExactObjectives(ctx.space, table_latency(ctx.table(), ctx.space))
    try:
        check_budgets(ctx.request.budgets, exact, smallest)
    except ConfigError as exc:
        raise ConfigError(f"--budget: {exc}") from exc
    reach = exact(smallest[None, :], list(ctx.request.budgets))
    return {"smallest": {k: float(v[0]) for k, v in reach.items()}}


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
            "preset": ctx.settings["train"], "overrides": stage_overrides(ctx, "train"), "seed": ctx.request.seed}


def stage_overrides(ctx: BuildContext, stage_name: str) -> dict[str, Any]:
    """What the build changes in stage `stage_name`'s preset ("train", "search" or "finetune"):
    SMALL_DATA_OVERRIDES for a small dataset with the quick preset, then the --config file's table."""
    from hwnat.pipeline.build_config import merge_overrides
    from hwnat.pipeline.request import SMALL_DATA_IMAGES, SMALL_DATA_OVERRIDES

    small = len(ctx.dataset) < SMALL_DATA_IMAGES and ctx.request.preset == "quick"
    return merge_overrides(SMALL_DATA_OVERRIDES[stage_name] if small else {},
                           ctx.settings["overrides"].get(stage_name, {}))


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
        return {"path": str(ctx.request.supernet), "trained": False, "source": "given"}
    from hwnat.training.api import RESULT_FILE, SUPERNET_FILE

    folder = ctx.request.cache_dir / "supernets" / ctx.fingerprints["supernet"]
    if (folder / RESULT_FILE).exists() and (folder / SUPERNET_FILE).exists():
        return {"path": str(folder / SUPERNET_FILE), "trained": False, "source": "cache"}
    resume = (folder / "checkpoints" / "last.pt").exists()
    result = train_supernet(ctx.space, ctx.dataset, width_mult=ctx.width, preset=ctx.settings["train"], out=folder,
                            overrides=stage_overrides(ctx, "train"), resume=resume, device=ctx.request.device,
                            seed=ctx.request.seed, progress=ctx.progress)
    return {"path": str(result.supernet_path), "trained": True, "source": "trained", "resumed": resume,
            "phases": [vars(p) for p in result.phases]}


# -- search ------------------------------------------------------------------------------------------------------
def search_config(ctx: BuildContext) -> Any:
    from hwnat.search.config import make_config

    objectives = ("error", "latency")
    return make_config(ctx.settings["search"], "natv2", objectives=objectives, budgets=dict(ctx.request.budgets),
                       seed=ctx.request.seed, width_mult=ctx.width, resolutions=ctx.resolutions,
                       **stage_overrides(ctx, "search"))


def _search_inputs(ctx: BuildContext) -> dict[str, Any]:
    return {**upstream(ctx, "table", "supernet"), "config": search_config(ctx).to_dict(),
            "val_images": ctx.settings["val_images"]}


@stage("search", _search_inputs, workdir="search")
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
    cached = accuracy_cache(ctx, evaluator)
    resume = (out / STATE_FILE).exists()
    result = run_search(cfg, cached, ctx.space, latency=table_latency(ctx.table(), ctx.space), out=out,
                        resume=resume, progress=lambda row: _search_progress(ctx, row))
    feasible = result.archive.take(np.flatnonzero(result.archive.violation(cfg.budgets) == 0))
    return {"out": str(out), "evaluations": result.evaluations, "hv": result.history[-1]["hv"],
            "scored_on": evaluator.images, "cache": {"path": str(cached.path), "hits": cached.hits,
                                                     "scored": cached.misses},
            "archive_size": len(result.archive), "feasible": feasible.records(ctx.space),
            "front": result.front.records(ctx.space), "resumed": resume}


def accuracy_cache(ctx: BuildContext, evaluator: Evaluator) -> CachedEvaluator:
    """The evaluator behind CACHE/evaluations/<fp>.jsonl: builds for other budgets or targets on the same
    super-network and data score each subnet once (NATv2's initial sample, drawn by seed, is the same for all)."""
    from hwnat.search.eval_cache import CachedEvaluator

    identity = {"supernet_stage": ctx.fingerprints["supernet"], "data": data_identity(ctx.dataset),
                "val_images": ctx.settings["val_images"], "seed": ctx.request.seed}
    path = ctx.request.cache_dir / "evaluations" / f"{fingerprint(identity)}.jsonl"
    return CachedEvaluator(evaluator, path, identity, space=ctx.space.name)


def _search_progress(ctx: BuildContext, row: dict[str, Any]) -> None:
    best = row.get("best_feasible_error")
    line = (f"  search iteration {row['iteration']}: HV {row['hv']:.4f}, archive {row['archive_size']}, best "
            f"feasible error {'-' if best is None else f'{100 * best:.2f}%'}")
    if ctx.notify is not None:
        ctx.notify("search", line)
    log.info(line.strip())


# -- selection, measured on the target -------------------------------------------------------------------
def _select_inputs(ctx: BuildContext) -> dict[str, Any]:
    return {**upstream(ctx, "search"), "candidates": ctx.settings["candidates"], "rounds": ctx.settings["rounds"],
            "headroom": ctx.settings["headroom"], "timing": ctx.settings["timing"],
            **({"calm": [ctx.settings[k] for k in CALM_KEYS]} if ctx.settings["timing"] == "table-speed" else {})}


# Rounds of candidates the select stage measures at most before it gives up on a latency budget.
SELECT_ROUNDS = 3
# In the select folder: every round measured so far, so that a stopped selection resumes after its last round.
SELECT_ROUNDS_FILE = "rounds.json"


@stage("select", _select_inputs, workdir="select")
def select(ctx: BuildContext) -> dict[str, Any]:
    """Measure the most accurate feasible subnets end to end on the target (interleaved) and keep the most
    accurate one whose measured latency meets the budget less the headroom (`most_accurate`): the table predicts,
    the target decides. When the target runs slower than the table says and none fits, another round measures
    the most accurate subnets whose prediction, scaled by the median measured/predicted ratio of every round so
    far, fits (at most SELECT_ROUNDS rounds).
    At the table's speed each round waits for a calm host (hwnat.latency.calm, the calm_* settings). Each round
    is kept in the select folder as it ends: after a stop, the rounds already measured are read back."""
    from hwnat.backends.base import create_backend

    feasible = sorted(ctx.results["search"]["feasible"], key=lambda r: (r["error"], r.get("latency", 0.0)))
    if not feasible:
        raise ConfigError(f"--budget: the search found no subnet within {_budget_text(ctx.request.budgets)}; "
                          f"relax the budget or search longer (--preset paper)")
    backend = create_backend(ctx.target)
    n = ctx.settings["candidates"]
    scale = budget_scale_ms(ctx)
    rows = _measured_round(ctx, backend, feasible[:n], 1, scale)
    budget_ms = ctx.request.budgets.get("latency")
    limit = None if budget_ms is None else budget_ms * (1 - ctx.settings["headroom"])
    for round_ in range(2, SELECT_ROUNDS + 1):
        if limit is None or any(r["measured_p50_ms"] <= limit for r in rows):
            break
        ratio = float(np.median([r["measured_p50_ms"] / r["latency"] for r in rows]))
        seen = {r["arch_id"] for r in rows}
        retry = [r for r in feasible if r["arch_id"] not in seen and r["latency"] * ratio <= limit][:n]
        if not retry:
            break
        rows += _measured_round(ctx, backend, retry, round_, scale)
    fits = [r for r in rows if limit is None or r["measured_p50_ms"] <= limit]
    if not fits:
        fastest = min(rows, key=lambda r: r["measured_p50_ms"])
        speed = " at the table's speed" if ctx.settings["timing"] == "table-speed" else ""
        raise ConfigError(f"--budget: none of the {len(rows)} feasible subnets measured meets latency ≤ "
                          f"{limit:.4g} ms ({budget_ms:g} ms less the {ctx.settings['headroom']:.0%} headroom) on "
                          f"{ctx.target.name}{speed} (fastest measured {fastest['measured_p50_ms']:.3f} ms, "
                          f"table predicted {fastest['latency']:.3f} ms); the machine may be busy, or the table "
                          f"out of date (rebuild it with hwnat profile); or relax the budget")
    chosen = most_accurate(fits, ctx.results["search"].get("scored_on", 0))
    return {"candidates": rows, "chosen": chosen}


def most_accurate(fits: list[dict[str, Any]], images: int) -> dict[str, Any]:
    """The most accurate candidate; among those whose error is within one binomial standard error of the best
    (on `images` validation images: differences the search cannot tell apart), the slowest measured, which
    uses more of the budget. `images` 0: the most accurate, ties by order."""
    best = min(fits, key=lambda r: r["error"])
    if images <= 0:
        return best
    noise = float(np.sqrt(best["error"] * (1 - best["error"]) / images))
    return max((r for r in fits if r["error"] <= best["error"] + noise), key=lambda r: r["measured_p50_ms"])


def _measured_round(ctx: BuildContext, backend: Any, records: list[dict[str, Any]], round_: int,
                    scale: float | None) -> list[dict[str, Any]]:
    """Round `round_` of the selection: read back from the select folder when a stopped run of the same stage
    (the folder is claimed for its inputs) measured it for the same subnets, else measured and kept there."""
    from hwnat.io import atomic_write_json, read_json

    path = ctx.run.path("select", SELECT_ROUNDS_FILE)
    kept: list[list[dict[str, Any]]] = (read_json(path, "selection rounds", ConfigError)["rounds"]
                                        if path.is_file() else [])
    if len(kept) >= round_ and [r["arch_id"] for r in kept[round_ - 1]] == [r["arch_id"] for r in records]:
        notify = _notifier(ctx, "select")
        if notify is not None:
            notify(f"  round {round_}: measured before the stop, read back ({path})")
        return kept[round_ - 1]
    rows = _measure_candidates(ctx, backend, records, round_, scale)
    atomic_write_json(path, {"rounds": [*kept[:round_ - 1], rows]}, indent=1)
    return rows


def _measure_candidates(ctx: BuildContext, backend: Any, records: list[dict[str, Any]], round_: int,
                        scale: float | None) -> list[dict[str, Any]]:
    """The records' subnets timed on the target: alone, or at the table's speed `scale` (budget_scale_ms) once
    the host is calm (each row then has the kept try's `host_slowdown` and every try's `host_slowdowns`)."""
    from hwnat.latency.calm import measure_when_calm, slowdown_record
    from hwnat.latency.networks import default_network_timing, measure_networks
    from hwnat.space.genome import parse_arch_id

    archs = [parse_arch_id(ctx.space, r["arch_id"]) for r in records]
    timing = default_network_timing(ctx.target.timing, ctx.settings["rounds"])
    measured, slowdowns = measure_when_calm(
        lambda attempt: measure_networks(backend, ctx.space, archs, timing, seed=ctx.request.seed + round_ + attempt,
                                         progress=ctx.progress, paired=scale is not None, scale_ms=scale),
        calm_policy(ctx.settings), notify=_notifier(ctx, "select"))
    paired = slowdown_record(measured, slowdowns)
    return [{**{k: rec[k] for k in ("arch_id", "error", "macs", "params", "latency") if k in rec},
             "measured_p50_ms": stats.p50_ms, "measured_p90_ms": stats.p90_ms, "round": round_,
             **({"raw_p50_ms": raw.p50_ms, **paired} if scale is not None else {})}
            for rec, stats, raw in zip(records, measured, measured.raw or measured)]


# -- fine-tuning --------------------------------------------------------------------------------------------
def _finetune_inputs(ctx: BuildContext) -> dict[str, Any]:
    return {**upstream(ctx, "select"), "preset": ctx.settings["finetune"],
            "overrides": stage_overrides(ctx, "finetune"), "seed": ctx.request.seed}


def finetuned_cache(ctx: BuildContext) -> Path:
    """CACHE/finetuned/<fp>/: the chosen subnet fine-tuned for every build that chooses it on the same
    super-network, data, fine-tuning settings and seed (another budget, another target)."""
    from hwnat.pipeline.rundir import FINETUNED_DIR

    identity = {"supernet_stage": ctx.fingerprints["supernet"], "arch_id": ctx.results["select"]["chosen"]["arch_id"],
                "data": data_identity(ctx.dataset), "preset": ctx.settings["finetune"],
                "overrides": stage_overrides(ctx, "finetune"), "seed": ctx.request.seed}
    return ctx.request.cache_dir / FINETUNED_DIR / fingerprint(identity)


@stage("finetune", _finetune_inputs, workdir="finetune")
def finetune(ctx: BuildContext) -> dict[str, Any]:
    """NATv2's two-step fine-tuning of the chosen subnet (continued from its last epoch after a kill), or its
    outputs copied from the cache when another build fine-tuned the same subnet with the same inputs."""
    from hwnat.finetune import finetune as run_finetune
    from hwnat.finetune.api import EXIT_HEADS_FILE, MODEL_FILE, RESULT_FILE
    from hwnat.finetune.checkpoint import last_path
    from hwnat.finetune.loop import LOG_FILE
    from hwnat.io import read_json
    from hwnat.pipeline.rundir import copy_files, publish

    out = ctx.run.path("finetune")
    shared = finetuned_cache(ctx)
    if (shared / RESULT_FILE).is_file():
        copy_files(shared, out)
        source = "cache"
    else:
        run_finetune(ctx.results["supernet"]["path"], ctx.results["select"]["chosen"]["arch_id"], ctx.dataset,
                     out=out, preset=ctx.settings["finetune"], overrides=stage_overrides(ctx, "finetune"),
                     seed=ctx.request.seed, resume=last_path(out).exists(), progress=ctx.progress,
                     device=ctx.request.device)
        publish(out, (MODEL_FILE, RESULT_FILE, LOG_FILE, EXIT_HEADS_FILE), shared)
        source = "trained"
    summary = read_json(out / RESULT_FILE, "fine-tuning result", ConfigError)
    summary.update(out_dir=str(out), model=str(out / MODEL_FILE), source=source, cache=str(shared))
    if summary.get("exit_heads"):
        summary["exit_heads"] = str(out / EXIT_HEADS_FILE)
    return summary


# -- export and benchmark -------------------------------------------------------------------------------------
def build_formats(ctx: BuildContext) -> tuple[str, ...]:
    """The formats asked for, else every format checked on a target of this target's runtime (ONNX for others)."""
    from hwnat.config.targets import load_target
    from hwnat.export import format_names, get_format

    if ctx.request.formats:
        return ctx.request.formats
    own = tuple(n for n in format_names() if load_target(get_format(n).target).runtime == ctx.target.runtime)
    return own or ("onnx",)


def _benchmark_inputs(ctx: BuildContext) -> dict[str, Any]:
    return {**upstream(ctx, "finetune"), "formats": list(build_formats(ctx)), "seed": ctx.request.seed}


@stage("benchmark", _benchmark_inputs, workdir="export")
def benchmark(ctx: BuildContext) -> dict[str, Any]:
    """Export the fine-tuned model to every format (parity-checked against PyTorch), then measure each artifact's
    test accuracy in its runtime and its latency on the target; the primary format (the one the latency budget is
    checked on) is timed again over the preset's rounds, the median kept as its p50."""
    from hwnat.export import benchmark_subnet
    from hwnat.export.data import dataset_data
    from hwnat.export.options import ExportOptions
    from hwnat.models.checkpoint import load_subnet

    model, info = load_subnet(ctx.results["finetune"]["model"])
    split = ctx.results["finetune"]["split"]
    options = ExportOptions()
    data = dataset_data(ctx.dataset, int(info.arch.resolution), val=split["val"], seed=int(split["seed"]),
                        calib_images=options.calib_images, parity_images=options.parity_images,
                        test_images=0)
    rows = benchmark_subnet(model, info, build_formats(ctx), ctx.run.path("export"), data=data, options=options,
                            targets={ctx.target.runtime: ctx.target}, seed=ctx.request.seed)
    predicted = ctx.results["select"]["chosen"]["latency"]
    out = []
    for row in rows:
        on_target = row.target == ctx.target.name
        out.append({"format": row.export.format.name, "status": row.export.symbol, "ok": row.export.ok,
                    "target": row.target, "file": str(row.export.path or ""),
                    "model_file": str(row.export.model_file or ""),
                    "size_mb": row.export.size_bytes / 1e6 if row.export.size_bytes else None,
                    "top1": row.test_accuracy, "test_images": row.test_images,
                    "p50_ms": row.latency.p50_ms if row.latency else None,
                    "p90_ms": row.latency.p90_ms if row.latency else None,
                    "predicted_ms": predicted if on_target else row.predicted_ms,
                    "primary": False, "error": row.export.error or row.error})
    primary = next((r for r in out if r["ok"] and r["target"] == ctx.target.name and r["p50_ms"] is not None), None)
    if primary is not None:  # the budget is checked on it: timed again in rounds, as selection timed it
        primary.update(_time_primary(ctx, primary, int(info.arch.resolution)))
    return {"rows": out}


def _time_primary(ctx: BuildContext, primary: dict[str, Any], resolution: int) -> dict[str, Any]:
    """The delivered model timed over the preset's rounds, compiled afresh each round: alone (`deployed`), or
    paired with the table's reference subnet and scaled to the table's speed once the host is calm (`table-speed`,
    raw_p50_ms and the host's slowdowns kept)."""
    import tempfile

    from hwnat.export import get_format
    from hwnat.export.runners import time_artifacts
    from hwnat.latency.calm import measure_when_calm, slowdown_record
    from hwnat.latency.networks import export_reference

    scale = budget_scale_ms(ctx)
    artifact = (get_format(primary["format"]).family, Path(primary["model_file"]), resolution)
    with tempfile.TemporaryDirectory(prefix="hwnat-reference-") as tmp:
        reference = None if scale is None else export_reference(ctx.space, Path(tmp), ctx.target.batch)
        timed, slowdowns = measure_when_calm(
            lambda attempt: time_artifacts(ctx.target, [artifact], ctx.settings["rounds"],
                                           seed=ctx.request.seed + attempt, reference=reference, scale_ms=scale),
            calm_policy(ctx.settings), notify=_notifier(ctx, "benchmark"))
    (checked,), (raw,) = timed.scaled, timed.raw
    return {"primary": True, "block_p50_ms": primary["p50_ms"], "p50_ms": checked.p50_ms, "p90_ms": checked.p90_ms,
            "raw_p50_ms": raw.p50_ms, "timing": ctx.settings["timing"], "timing_rounds": ctx.settings["rounds"],
            **slowdown_record(timed, slowdowns)}


def budget_scale_ms(ctx: BuildContext) -> float | None:
    """With `[build] timing = "table-speed"`: the table's reference speed (LatencyTable.reference_speed_ms) that
    latency measured for the budget is scaled to; None when timing as deployed."""
    return ctx.table().reference_speed_ms() if ctx.settings["timing"] == "table-speed" else None


def _notifier(ctx: BuildContext, stage_name: str) -> Callable[[str], None] | None:
    notify = ctx.notify
    return None if notify is None else lambda line: notify(stage_name, line)


def _budget_text(budgets: dict[str, float]) -> str:
    from hwnat.search.objectives import format_quantity

    return ", ".join(f"{k} ≤ {format_quantity(k, v)}" for k, v in budgets.items())


def run_stages(ctx: BuildContext, stages: list[Stage]) -> None:
    """Run each stage unless the run folder holds its result for the same inputs."""
    import time

    for i, st in enumerate(stages, start=1):
        fp = fingerprint(st.inputs(ctx))
        ctx.fingerprints[st.name] = fp
        cached = ctx.run.cached(st.name, fp)
        if cached is not None:
            ctx.results[st.name] = cached
            if ctx.notify:
                ctx.notify(st.name, f"[{i}/{len(stages)}] {st.name}: reused")
            continue
        if ctx.notify:
            ctx.notify(st.name, f"[{i}/{len(stages)}] {st.name} ...")
        if st.workdir is not None:
            ctx.run.claim(st.workdir, fp)
        start = time.perf_counter()
        result = st.run(ctx)
        ctx.results[st.name] = result
        ctx.run.complete(st.name, fp, result, time.perf_counter() - start)


def stage_names() -> list[str]:
    return [s.name for s in STAGES]

