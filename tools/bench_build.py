"""Headline benchmark: `hwnat build` for several latency budgets per target against MobileNetV3 baselines.

    python tools/bench_build.py                     # CIFAR-10, runs/bench-supernet/supernet.pt, ort-cpu + openvino-cpu
    python tools/bench_build.py --data digits --supernet /tmp/bb-sn/supernet.pt --preset smoke \\
        --targets ort-cpu --budgets 2 --out /tmp/bb/run          # a tiny end-to-end check
    python tools/bench_build.py --render RUN/bench.json --out DIR  # bench.md and bench.png again, measuring nothing

For every target: N latency budgets (default 5, spread geometrically strictly between the p50 of the smallest and
the largest subnet the super-network was trained for, measured on the target as the builds check budgets and kept
in OUT/ranges.json, or given as `--budgets 1.2,1.6,2.1` ms); one `hwnat.build(...)` per budget with the given
super-network's space, all sharing one cache (the table and the super-network are reused; a build that was
stopped resumes); OUT/builds.json keeps what the builds measured
themselves before the (long) baseline training starts. Then the MobileNetV3-Small and -Large style
baselines (hwnat.models.baselines, widths 0.5/0.75/1.0) are trained from scratch once, on the super-network's
training split with its augmentation, for as many epochs as the hwnat models got (rule: `baseline_epochs`),
exported with the same converter as the target's delivered format, and scored on the same test half. Last, one
interleaved measurement per target of every delivered model and every baseline (all compiled afresh each
round, round-robin in a shuffled order: hwnat.backends timing, the target's timing settings spread over
`--rounds`); then the same again, each model timed in bursts alternating with the latency table's reference
subnet and scaled to the speed the table was calibrated at (`[build] timing = "table-speed"`, how the builds of
the headline config check their budgets: a figure the host's slow spells, which last minutes on a shared VM, do
not move). Writes OUT/bench.json, OUT/bench.md and OUT/bench.png (accuracy vs measured latency; hwnat points,
baseline points and the budget lines), and prints the table with the goals: every hwnat model meets its budget
(p50 ≤ budget) using ≥ 80% of it, and hwnat models dominate the baselines at matched latency.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hwnat.errors import ConfigError, HwnatError
from hwnat.io import atomic_write_bytes, atomic_write_json, atomic_write_text
from hwnat.models.baselines import (
    BASELINE_WIDTHS,
    baseline_config,
    baseline_id,
    list_baselines,
)
from hwnat.pipeline.build_config import build_settings
from hwnat.pipeline.request import BUILD_PRESETS, calm_policy

if TYPE_CHECKING:
    import torch

    from hwnat.config.targets import TargetSpec
    from hwnat.data.dataset import ImageDataset
    from hwnat.finetune.data import FinetuneData, SupernetOrigin
    from hwnat.latency.calm import CalmPolicy
    from hwnat.space.spec import SearchSpace
    from hwnat.training.config import TrainConfig

log = logging.getLogger("bench_build")

DEFAULT_DATA = ROOT.parent / "shared" / "datasets" / "cifar10" / "train.tar.gz"
DEFAULT_SUPERNET = ROOT / "runs" / "bench-supernet" / "supernet.pt"  # tools/bench_supernet.py's default --out
DEFAULT_TARGETS = ("ort-cpu", "openvino-cpu")
DEFAULT_BUDGETS = 5
# The fp32 format delivered per runtime: hwnat models are built to it and the baselines converted by its converter.
DELIVERED_FORMAT = {"ort": "onnx", "openvino": "openvino", "tensorrt": "tensorrt", "torch": "torch"}
GOAL_USED = 0.8          # a delivered model should use at least this fraction of its latency budget
BASELINE_FORMAT = "hwnat.baseline"


# -- budgets -------------------------------------------------------------------------------------------------
def spread_budgets(lo: float, hi: float, n: int, *, digits: int = 3) -> list[float]:
    """`n` budgets spread geometrically strictly inside (lo, hi): lo·(hi/lo)^(i/(n+1)), i = 1..n, rounded to
    `digits` decimals (ms). Neither end is a budget: only one subnet fits the smallest, and every subnet the
    largest."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"--budgets: the number of budgets must be a positive integer, got {n!r}")
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo <= 0 or hi <= lo:
        raise ConfigError(f"--budgets: cannot spread budgets between {lo!r} and {hi!r} ms (need 0 < lo < hi)")
    ratio = hi / lo
    values = [round(lo * ratio ** (i / (n + 1)), digits) for i in range(1, n + 1)]
    if len(set(values)) < n:
        raise ConfigError(f"--budgets: {n} budgets between {lo:.4g} and {hi:.4g} ms collide at {digits} decimals; "
                          f"ask for fewer or give them with --budgets 1.2,1.5,...")
    return values


def parse_budgets_arg(text: str | None) -> int | list[float]:
    """`--budgets`: a count ("5") or latencies in ms ("1.2,1.5ms,2 ms"), sorted."""
    if text is None:
        return DEFAULT_BUDGETS
    text = text.strip()
    if text.isdigit():
        return int(text)
    values = []
    for part in text.split(","):
        raw = part.strip().lower().replace(" ", "").removesuffix("ms")
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"--budgets: {part.strip()!r} is neither a count nor a latency in ms "
                              f"(e.g. --budgets 5 or --budgets 1.2,1.5ms)") from None
        if not value > 0:
            raise ConfigError(f"--budgets: a latency budget must be > 0 ms, got {part.strip()!r}")
        values.append(value)
    return sorted(set(values))


# -- the super-network ---------------------------------------------------------------------------------------
@dataclass
class SupernetFacts:
    """What the benchmark needs from a super-network file: space, width, training config, split and epochs."""

    path: Path
    space: SearchSpace
    width: float
    config: TrainConfig
    resolutions: tuple[int, ...]
    phase_epochs: dict[str, int]
    raw: dict[str, Any]
    origin: SupernetOrigin

    @property
    def epochs(self) -> int:
        return sum(self.phase_epochs.values())


def supernet_facts(path: Path, seed: int) -> SupernetFacts:
    """Read a supernet.pt; its split seed falls back to `seed` as fine-tuning's does (hwnat.finetune.data)."""
    from hwnat.finetune.data import supernet_origin
    from hwnat.space.spec import SearchSpace
    from hwnat.training import checkpoint as ckpt
    from hwnat.training.config import TrainConfig
    from hwnat.training.phases import build_phases

    if not path.is_file():
        raise ConfigError(f"--supernet: {str(path)!r} does not exist (train one with hwnat train-supernet, or "
                          f"tools/bench_supernet.py for CIFAR-10)")
    raw = ckpt.load_file(path)
    try:
        space = SearchSpace.from_dict(raw["space"])
        cfg = TrainConfig.from_dict(raw["config"], source=str(path))
        width = float(raw["width_mult"])
    except (KeyError, TypeError) as exc:
        raise ConfigError(f"--supernet: {str(path)!r} is not an hwnat super-network file ({exc})") from exc
    resolutions = tuple(space.resolutions) if cfg.resolutions is None else tuple(cfg.resolutions)
    phases = {p.name: p.epochs for p in build_phases(space, cfg)}
    return SupernetFacts(path, space, width, cfg, resolutions, phases, raw, supernet_origin(path, raw, None, seed))


def table_range(target: TargetSpec, facts: SupernetFacts, cache: Path, *, settings: dict[str, Any],
                progress: bool, seed: int) -> tuple[float, float, str]:
    """(smallest, largest subnet's table-predicted ms, table path) for the trained resolutions, from the table a
    build would use (hwnat.pipeline.stages.resolve_table: shipped, else the shared cache's, else profiled into the
    cache, which the builds then reuse)."""
    from hwnat.latency.table import LatencyTable
    from hwnat.pipeline.stages import resolve_table
    from hwnat.space.arch import max_arch, min_arch

    found = resolve_table(target, facts.space, facts.width, facts.resolutions, cache,
                          calibrate=settings["calibrate"], rounds=settings["rounds"], seed=seed, progress=progress)
    table = LatencyTable.load(found["path"])
    small = replace(min_arch(facts.space, facts.width), resolution=min(facts.resolutions))
    large = replace(max_arch(facts.space, facts.width), resolution=max(facts.resolutions))
    return float(table.predict(facts.space, small)), float(table.predict(facts.space, large)), str(table.path)


def measured_range(target: TargetSpec, facts: SupernetFacts, table_path: str, *, settings: dict[str, Any],
                   store: Path, seed: int, progress: bool) -> tuple[float, float]:
    """(smallest, largest subnet's p50 ms) measured on the target the way the builds check budgets (the settings'
    timing and rounds): the table predicts its own statistic (p10), budgets are checked on p50. Measured once per
    target, table and timing, and kept in `store`: budgets name the build folders, so a resumed run needs the same.
    The key holds a digest of the table file: a table profiled again (on another machine, or with other settings)
    under the same file name, whose reference speed the range is scaled to, gets its range measured again.
    At the table's speed, waits for a calm host as the builds do (the settings' calm_*)."""
    from hwnat.backends.base import create_backend
    from hwnat.latency.calm import measure_when_calm
    from hwnat.latency.networks import default_network_timing, measure_networks
    from hwnat.latency.table import LatencyTable
    from hwnat.space.arch import max_arch, min_arch

    digest = hashlib.sha256(Path(table_path).read_bytes()).hexdigest()[:12]
    key = f"{target.name} {settings['timing']} {Path(table_path).name} {digest}"
    known = json.loads(store.read_text()) if store.exists() else {}
    if key in known:
        return float(known[key][0]), float(known[key][1])
    scale = LatencyTable.load(table_path).reference_speed_ms() if settings["timing"] == "table-speed" else None
    archs = [replace(min_arch(facts.space, facts.width), resolution=min(facts.resolutions)),
             replace(max_arch(facts.space, facts.width), resolution=max(facts.resolutions))]
    backend, timing = create_backend(target), default_network_timing(target.timing, settings["rounds"])
    (small, large), _ = measure_when_calm(
        lambda attempt: measure_networks(backend, facts.space, archs, timing, seed=seed + attempt, progress=progress,
                                         paired=scale is not None, scale_ms=scale),
        calm_policy(settings), notify=say)
    known[key] = [small.p50_ms, large.p50_ms]
    atomic_write_json(store, known, indent=2)
    return small.p50_ms, large.p50_ms


# -- hwnat builds ----------------------------------------------------------------------------------------------
def say(line: str) -> None:
    """A progress line in the run's log (stderr)."""
    print(line, file=sys.stderr)


def budget_tag(ms: float) -> str:
    return f"latency-{ms:.3f}ms".replace(".", "p")


def run_build(args: argparse.Namespace, facts: SupernetFacts, target: TargetSpec, budget_ms: float,
              fmt: str) -> dict[str, Any]:
    """One `hwnat.build` of the super-network's space (resumed when its folder holds one); a row for the table, or
    the error it stopped on."""
    import hwnat
    from hwnat.export import get_format
    from hwnat.finetune.loop import LOG_FILE

    out = args.out / "builds" / target.name / budget_tag(budget_ms)
    start = time.perf_counter()
    row: dict[str, Any] = {"kind": "hwnat", "target": target.name, "budget_ms": budget_ms, "out": str(out)}
    try:
        report = hwnat.build(target.name, f"latency={budget_ms}ms", data=args.data, supernet=args.supernet,
                             preset=args.preset, config=args.config, formats=[fmt], out=out,
                             cache=args.out / "cache", resume=(out / "build.json").exists(), space=facts.space,
                             seed=args.seed, device=args.device, progress=args.progress,
                             on_stage=(lambda stage, line: say(f"  {line.strip()}")) if args.progress else None)
    except HwnatError as exc:
        log.warning("%s, budget %.3f ms: %s", target.name, budget_ms, exc)
        return {**row, "error": str(exc), "build_s": round(time.perf_counter() - start, 1)}
    chosen = report.chosen
    primary = next((r for r in report.formats if r.get("primary")), None)
    if primary is None:
        return {**row, "error": "no format of the build was exported and measured on the target",
                "build_s": round(time.perf_counter() - start, 1)}
    spec = get_format(primary["format"])
    artifact = Path(primary["file"])
    ft_log = Path(chosen["model"]).parent / LOG_FILE
    ft_epochs = sum(1 for line in ft_log.read_text().splitlines()
                    if line.strip() and json.loads(line).get("loss") is not None) if ft_log.exists() else 0
    return {**row, "name": chosen["arch_id"], "format": spec.name, "family": spec.family,
            "model_file": str(artifact / spec.model_file if spec.is_dir else artifact),
            "resolution": int(chosen["arch_id"].split("-")[0].removeprefix("r")),
            "macs": chosen["macs"], "params": chosen["params"], "table_ms": chosen["latency"],
            "select_p50_ms": chosen["measured_p50_ms"], "build_p50_ms": primary["p50_ms"],
            "select_raw_p50_ms": chosen.get("raw_p50_ms"), "build_raw_p50_ms": primary.get("raw_p50_ms"),
            "test_top1": primary["top1"] if primary.get("top1") is not None else chosen.get("test_top1"),
            "test_top1_runtime": primary.get("top1") is not None, "test_top1_torch": chosen.get("test_top1"),
            "finetune_epochs": ft_epochs, "passed": report.passed, "build_s": round(time.perf_counter() - start, 1)}


def build_line(row: dict[str, Any]) -> str:
    """One build as the build itself measured it (select and benchmark stages), before the interleaved run."""
    head = f"{row['target']} budget {row['budget_ms']:.3f} ms:"
    if "error" in row:
        return f"{head} failed: {row['error']}"
    return (f"{head} {row['name']}, p50 {row['build_p50_ms']:.3f} ms ({100 * row['build_p50_ms'] / row['budget_ms']:.0f}% "
            f"of the budget; table {row['table_ms']:.3f} ms), test top-1 {100 * row['test_top1']:.2f}%, "
            f"{'PASS' if row['passed'] else 'FAIL'} ({row['build_s']:.0f} s)")


# -- baselines -------------------------------------------------------------------------------------------------
def baseline_epochs(facts: SupernetFacts, builds: Sequence[dict[str, Any]], given: int | None) -> dict[str, Any]:
    """Epochs for every baseline. Rule: what the most-trained delivered hwnat model got — every epoch of every
    super-network phase (each a pass over the same training split) plus every epoch its fine-tuning trained
    (step 1 with early stopping, then step 2) — so no baseline gets fewer epochs than an hwnat model.
    `given` (--baseline-epochs) overrides it."""
    finetune = max((int(b.get("finetune_epochs", 0)) for b in builds if "error" not in b), default=0)
    rule = facts.epochs + finetune
    return {"epochs": int(given) if given is not None else max(1, rule), "rule": rule,
            "supernet_epochs": dict(facts.phase_epochs), "finetune_epochs_max": finetune,
            "overridden": given is not None,
            "steps_per_epoch_cap": facts.config.max_steps_per_epoch}


def baseline_data(dataset: ImageDataset, facts: SupernetFacts, source: str) -> FinetuneData:
    """The super-network's holdout splits and augmentation — what every stage after its training uses."""
    from hwnat.finetune.data import finetune_data

    return finetune_data(dataset, facts.origin, facts.space.num_classes, source)


def train_baseline(name: str, width: float, data: FinetuneData, cfg: TrainConfig, epochs: int, resolution: int,
                   folder: Path, seed: int, progress: bool,
                   device: str = "cpu") -> tuple[torch.nn.Module, dict[str, Any]]:
    """Train one baseline from scratch like the super-network's teacher phase (SGD, Nesterov, the teacher's peak
    learning rate scaled to the batch, its warm-up, cosine decay per step; weight decay, label smoothing, batch
    size and augmentation of the super-network's config) for `epochs` epochs; score it on the validation and test
    halves (PyTorch). Resumes from the last finished epoch in `folder`; a finished run is loaded, not retrained."""
    import torch
    import torch.nn.functional as F

    from hwnat.complexity.analytic import net_cost
    from hwnat.finetune.loop import evaluate
    from hwnat.models.baselines import baseline_config, create_baseline
    from hwnat.training.batches import ShardedLoader, prepare
    from hwnat.training.checkpoint import atomic_save, load_file
    from hwnat.training.optim import WarmupCosine, make_optimizer

    key = json.dumps({"name": name, "width": width, "resolution": resolution, "epochs": epochs, "seed": seed,
                      "classes": data.train.num_classes, "train_images": len(data.train),
                      "train_labels": hashlib.sha256(np.ascontiguousarray(data.train.labels)).hexdigest()[:16],
                      "source": data.train.source, "config": cfg.to_dict()}, sort_keys=True)
    result_file, last = folder / "result.json", folder / "last.pt"
    dev = torch.device(device)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = create_baseline(name, data.train.num_classes, width_mult=width, resolution=resolution).to(dev)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    if result_file.exists():
        done = json.loads(result_file.read_text())
        if done.get("key") == key:
            model.load_state_dict(load_file(folder / "model.pt")["state_dict"])
            return model.cpu().eval(), done
    teacher = cfg.phase_settings("teacher", "teacher")
    loader = ShardedLoader(data.train, batch_size=cfg.batch_size, transform=data.train_transform, seed=seed,
                           max_steps=cfg.max_steps_per_epoch)
    steps = len(loader)
    optimizer = make_optimizer(model, teacher.lr * cfg.batch_size / cfg.lr_reference_batch, cfg.momentum,
                               cfg.nesterov, cfg.weight_decay)
    schedule = WarmupCosine(optimizer, optimizer.param_groups[0]["lr"], epochs * steps,
                            teacher.warmup_epochs * steps)
    epoch, history = 0, []
    if last.exists():
        state = load_file(last)
        if state.get("key") == key:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            schedule.load_state_dict(state["schedule"])
            epoch, history = int(state["epoch"]), list(json.loads(state["history"]))
    start = time.perf_counter()
    while epoch < epochs:
        t0 = time.perf_counter()
        torch.manual_seed(int(np.random.SeedSequence([seed, epoch]).generate_state(1, np.uint64)[0] >> 1))
        loader.set_epoch(epoch)
        model.train()
        total = 0.0
        for x, y in loader:
            x = prepare(x, resolution, dev, cfg.channels_last)
            loss = F.cross_entropy(model(x), y.to(dev), label_smoothing=cfg.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total += float(loss.detach())
        epoch += 1
        history.append({"epoch": epoch, "loss": total / max(1, steps), "lr": schedule.lr,
                        "train_s": round(time.perf_counter() - t0, 2)})
        atomic_save({"format": BASELINE_FORMAT, "key": key, "epoch": epoch, "model": model.state_dict(),
                     "optimizer": optimizer.state_dict(), "schedule": schedule.state_dict(),
                     "history": json.dumps(history)}, last)
        if progress:
            print(f"  {baseline_id(name, width, resolution)} epoch {epoch}/{epochs}: loss "
                  f"{history[-1]['loss']:.4f} ({history[-1]['train_s']:.0f} s)", file=sys.stderr)
    model.eval()
    (val, _), = evaluate(model, data.val, data.eval_transform, resolution, cfg.batch_size, dev, cfg.channels_last)
    (test, _), = evaluate(model, data.test, data.eval_transform, resolution, cfg.batch_size, dev, cfg.channels_last)
    cost = net_cost(baseline_config(name, data.train.num_classes, width_mult=width, resolution=resolution))
    result = {"key": key, "id": baseline_id(name, width, resolution), "name": name, "width": width,
              "resolution": resolution, "epochs": epochs, "steps_per_epoch": steps, "macs": cost.macs,
              "params": cost.params, "val_top1_torch": val, "test_top1_torch": test,
              "train_s": round(sum(h["train_s"] for h in history), 1), "history": history,
              "wall_s": round(time.perf_counter() - start, 1)}
    state_dict = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    atomic_save({"format": BASELINE_FORMAT, "key": key, "state_dict": state_dict}, folder / "model.pt")
    atomic_write_json(result_file, result, indent=2)
    last.unlink(missing_ok=True)
    return model.cpu(), result


def export_baseline(model: torch.nn.Module, resolution: int, fmt_name: str, target: TargetSpec,
                    folder: Path) -> Path:
    """The baseline converted by the delivered format's own converter (same ONNX export, simplification and
    conversion as the hwnat model); returns the file its runtime loads."""
    import copy
    import tempfile

    from hwnat.export.convert import ConvertJob
    from hwnat.export.formats import get_format
    from hwnat.export.options import ExportOptions

    fmt = get_format(fmt_name)
    fmt.require()
    net = copy.deepcopy(model).cpu().to(memory_format=_contiguous()).eval()
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".work-") as work:  # a fresh base ONNX every time
        # The converters of fp32 formats read only the network, shape, options and work folder, never `info`.
        job = ConvertJob(fmt, net, None, (1, 3, resolution, resolution), ExportOptions(),  # type: ignore[arg-type]
                         target, np.zeros((1, 3, resolution, resolution), np.float32), Path(work), 0)
        artifact = fmt.load_converter()(job, folder / fmt.artifact_name("model"))
    return artifact.model_file


def _contiguous() -> Any:
    import torch

    return torch.contiguous_format


def runtime_accuracy(family: str, model_file: Path, target: TargetSpec, images: np.ndarray,
                     labels: np.ndarray) -> float:
    """Top-1 of the artifact in the target's runtime (one call per image, as deployed)."""
    from hwnat.export.runners import load_artifact, run_all

    _, compiled = load_artifact(family, model_file, target, (1, *images.shape[1:]))
    return float((run_all(compiled, images).argmax(1) == labels).mean())


# -- the final interleaved measurement ------------------------------------------------------------------------
def measure_interleaved(target: TargetSpec, entries: Sequence[dict[str, Any]], rounds: int, seed: int,
                        progress: bool, reference: tuple[str, Path, int] | None = None,
                        speed_ms: float | None = None, calm: CalmPolicy | None = None) -> list[dict[str, Any]]:
    """Every entry (family, model_file, resolution) timed on the target in `rounds` round-robin passes
    (hwnat.export.runners.time_artifacts); per entry the median over rounds of p10/p50/p90, alone and back to back
    (as deployed). With the table's `reference` and its speed `speed_ms`, a second pass times each entry
    paired with it and scaled to that speed, waiting for a calm host as the builds do (`calm`, default
    CalmPolicy()): `table_speed_p50_ms` / `table_speed_p90_ms` (`table_speed_raw_p50_ms` as timed in that pass), and
    `host_slowdown`, how much slower than at the table's calibration the reference ran in the pass kept
    (`host_slowdowns`: every try's)."""
    from hwnat.export.runners import time_artifacts
    from hwnat.latency.calm import CalmPolicy, measure_when_calm, slowdown_record

    artifacts = [(e["family"], Path(e["model_file"]), int(e["resolution"])) for e in entries]
    alone = time_artifacts(target, artifacts, rounds, seed=seed, progress=progress, title=f"timing on {target.name}")
    rows = [{"p50_ms": r.p50_ms, "p90_ms": r.p90_ms, "p10_ms": r.p10_ms, "runs": r.n} for r in alone.raw]
    if reference is not None and speed_ms:
        paired, slowdowns = measure_when_calm(
            lambda attempt: time_artifacts(target, artifacts, rounds, seed=seed + 1 + attempt, progress=progress,
                                           reference=reference, scale_ms=speed_ms,
                                           title=f"timing on {target.name} at the table's speed"),
            calm or CalmPolicy(), notify=say)
        for row, scaled, raw in zip(rows, paired.scaled, paired.raw):
            row.update(table_speed_p50_ms=scaled.p50_ms, table_speed_p90_ms=scaled.p90_ms,
                       table_speed_raw_p50_ms=raw.p50_ms, **slowdown_record(paired, slowdowns))
    return rows


# -- goals, table, plot ---------------------------------------------------------------------------------------
def check_goals(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per target: every hwnat model meets its budget and uses ≥ GOAL_USED of it; and each baseline is
    "dominated" (an hwnat model with p50 no higher has test top-1 no lower), "not dominated", or "out of range"
    (faster than every hwnat model: nothing to compare at matched latency). hwnat dominates when every baseline in
    range is dominated (and at least one is in range)."""
    out: dict[str, Any] = {}
    for target in dict.fromkeys(r["target"] for r in rows):
        mine = [r for r in rows if r["target"] == target and r["kind"] == "hwnat" and "p50_ms" in r]
        failed = [r for r in rows if r["target"] == target and r["kind"] == "hwnat" and "error" in r]
        verdicts: dict[str, str] = {}
        for b in (r for r in rows if r["target"] == target and r["kind"] == "baseline" and "p50_ms" in r):
            faster = [m for m in mine if m["p50_ms"] <= b["p50_ms"]]
            if not mine:
                verdicts[b["name"]] = "no hwnat model to compare with"
                continue
            if not faster:
                verdicts[b["name"]] = "out of range (faster than every hwnat model)"
                continue
            best = max(faster, key=lambda m: m["test_top1"])
            verdicts[b["name"]] = "dominated" if best["test_top1"] >= b["test_top1"] else (
                f"not dominated (best hwnat model at ≤ its latency: {best['name']}, {100 * best['test_top1']:.2f}%)")
        in_range = [v for v in verdicts.values() if v == "dominated" or v.startswith("not dominated")]
        paired = bool(mine) and all("table_speed_p50_ms" in r for r in mine)
        out[target] = {
            "hwnat_models": len(mine), "builds_failed": len(failed),
            "meets_budget": bool(mine) and not failed and all(r["p50_ms"] <= r["budget_ms"] for r in mine),
            "uses_80pct": bool(mine) and all(r["p50_ms"] >= GOAL_USED * r["budget_ms"] for r in mine),
            "meets_budget_table_speed": None if not paired else not failed and all(
                r["table_speed_p50_ms"] <= r["budget_ms"] for r in mine),
            "uses_80pct_table_speed": None if not paired else all(
                r["table_speed_p50_ms"] >= GOAL_USED * r["budget_ms"] for r in mine),
            "baselines": verdicts, "baselines_in_range": len(in_range),
            "host_slowdown": None if not paired else float(np.median([r["host_slowdown"] for r in rows
                                                                      if r["target"] == target
                                                                      and "host_slowdown" in r])),
            "dominates": bool(in_range) and all(v == "dominated" for v in in_range),
        }
    return out


HEADER = ("target", "model", "budget ms", "p50 ms", "p90 ms", "% of budget", "p50 ms at table speed", "test top-1",
          "MACs", "params", "table ms", "epochs")


def table_row(r: dict[str, Any]) -> list[str]:
    """One row of the results table (test top-1 measured in the target's runtime)."""
    budget = r.get("budget_ms")
    if "error" in r:
        return [r["target"], "hwnat: build failed", f"{budget:.3f}"] + ["-"] * (len(HEADER) - 3)
    name = f"hwnat {r['name']}" if r["kind"] == "hwnat" else r["name"]
    epochs = r.get("epochs") if r["kind"] == "baseline" else r.get("finetune_epochs")
    return [r["target"], name, _num(budget, "{:.3f}"), f"{r['p50_ms']:.3f}", f"{r['p90_ms']:.3f}",
            _num(None if budget is None else used_percent(r["p50_ms"], budget), "{:.1f}%"),
            _num(r.get("table_speed_p50_ms"), "{:.3f}"), f"{100 * r['test_top1']:.2f}%",
            f"{r['macs'] / 1e6:.1f}M", f"{r['params'] / 1e6:.2f}M", _num(r.get("table_ms"), "{:.3f}"),
            _num(epochs, "{}" if r["kind"] == "baseline" else "+{} ft")]


def used_percent(p50_ms: float, budget_ms: float) -> float:
    """The share of the budget used, in percent, rounded down to 0.1 so that a model short of the goal never
    reads as reaching it (79.96% is 79.9%, not 80.0%)."""
    return math.floor(1000 * p50_ms / budget_ms + 1e-9) / 10


def markdown(rows: Sequence[dict[str, Any]], goals: dict[str, Any]) -> str:
    lines = ["# hwnat build vs MobileNetV3 baselines", ""]
    for target in dict.fromkeys(r["target"] for r in rows):
        mine = sorted((r for r in rows if r["target"] == target),
                      key=lambda r: (r["kind"] != "hwnat", r.get("budget_ms") or 0, r.get("p50_ms") or 0))
        lines += [f"## {target}", "", "| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
        lines += ["| " + " | ".join(table_row(r)) + " |" for r in mine]
        g = goals.get(target, {})
        failed = f" ({g['builds_failed']} build(s) failed)" if g.get("builds_failed") else ""
        lines += ["", f"- every hwnat model meets its budget (p50 ≤ budget): {_yes(g.get('meets_budget'))}{failed}"
                  f"{_at_table_speed(g.get('meets_budget_table_speed'))}",
                  f"- every hwnat model uses ≥ {100 * GOAL_USED:.0f}% of its budget: {_yes(g.get('uses_80pct'))}"
                  f"{_at_table_speed(g.get('uses_80pct_table_speed'))}",
                  (f"- hwnat dominates the baselines at matched latency: {_yes(g.get('dominates'))} "
                   f"({g.get('baselines_in_range', 0)} baseline(s) within the hwnat models' latency range)")]
        lines += [f"  - {name}: {verdict}" for name, verdict in g.get("baselines", {}).items()]
        if g.get("host_slowdown"):
            lines.append(f"- the host ran {g['host_slowdown']:.2f}× as slow as when the table was calibrated "
                         f"(median over the models of their paired p50 at the table's speed / as timed)")
        lines.append("")
    return "\n".join(lines)


def _num(value: float | None, spec: str) -> str:
    return "-" if value is None else spec.format(value)


def _yes(value: Any) -> str:
    return "yes" if value else "no"


def _at_table_speed(value: bool | None) -> str:
    return "" if value is None else f"; at the table's speed: {_yes(value)}"


def plot(rows: Sequence[dict[str, Any]], path: Path) -> Path:
    """Accuracy vs measured p50, one panel per target: hwnat points, baseline points, dashed budget lines."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    targets = list(dict.fromkeys(r["target"] for r in rows))
    fig, axes = plt.subplots(1, len(targets), figsize=(6.2 * len(targets), 4.6), dpi=110, squeeze=False)
    markers = {"mbv3-small": ("s", "tab:red"), "mbv3-large": ("^", "tab:orange")}
    for ax, target in zip(axes[0], targets):
        mine = sorted((r for r in rows if r["target"] == target and r["kind"] == "hwnat" and "p50_ms" in r),
                      key=lambda r: r["p50_ms"])
        colours = plt.cm.viridis(np.linspace(0.1, 0.85, max(1, len(mine))))
        for r, colour in zip(mine, colours):
            ax.axvline(r["budget_ms"], color=colour, ls="--", lw=1, alpha=0.7)
            ax.scatter(r["p50_ms"], 100 * r["test_top1"], color=colour, marker="o", s=55, zorder=3,
                       edgecolors="black", linewidths=0.6)
        if mine:
            ax.plot([r["p50_ms"] for r in mine], [100 * r["test_top1"] for r in mine], color="tab:blue", lw=1,
                    label="hwnat (budget: dashed line)")
        for family, (marker, colour) in markers.items():
            base = sorted((r for r in rows if r["target"] == target and r.get("family_name") == family
                           and "p50_ms" in r), key=lambda r: r["p50_ms"])
            if base:
                ax.plot([r["p50_ms"] for r in base], [100 * r["test_top1"] for r in base], color=colour,
                        marker=marker, lw=1, ls=":", label=f"{family} (w 0.5/0.75/1.0)")
                for r in base:
                    ax.annotate(f"w{r['width']:g}", (r["p50_ms"], 100 * r["test_top1"]), fontsize=7,
                                xytext=(3, 3), textcoords="offset points")
        for r in (r for r in rows if r["target"] == target and "error" in r):
            ax.axvline(r["budget_ms"], color="grey", ls=":", lw=1)
        ax.set_title(target)
        ax.set_xlabel("measured latency p50 (ms)")
        ax.set_ylabel("test top-1 (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return atomic_write_bytes(path, buffer.getvalue())


# -- main ---------------------------------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("--data", default=str(DEFAULT_DATA), help="dataset (default: CIFAR-10 train tar; or 'digits')")
    p.add_argument("--supernet", type=Path, default=DEFAULT_SUPERNET, help="trained super-network (supernet.pt)")
    p.add_argument("--targets", default=",".join(DEFAULT_TARGETS), help="comma-separated targets")
    p.add_argument("--budgets", default=None,
                   help=f"a count (default {DEFAULT_BUDGETS}: spread between the smallest and largest subnet's "
                        "table latency) or latencies in ms: 1.2,1.6,2.1")
    p.add_argument("--preset", default="quick", choices=list(BUILD_PRESETS), help="build preset")
    p.add_argument("--config", type=Path, default=None,
                   help="build config file sizing every build's stages (hwnat build --config; README)")
    p.add_argument("--out", type=Path, default=ROOT / "runs" / "bench-build", help="output folder (reused: resumes)")
    p.add_argument("--json", type=Path, default=None, help="also write the JSON result here")
    p.add_argument("--render", type=Path, default=None, metavar="BENCH_JSON",
                   help="measure nothing: write bench.md and bench.png into --out from this bench.json")
    p.add_argument("--baseline-epochs", type=int, default=None, help="override the epoch rule for the baselines")
    p.add_argument("--baselines", default=",".join(list_baselines()), help="baseline names")
    p.add_argument("--baseline-widths", default=",".join(str(w) for w in BASELINE_WIDTHS))
    p.add_argument("--baseline-resolution", type=int, default=None, help="default: the dataset's image size")
    p.add_argument("--rounds", type=int, default=15,
                   help="rounds of the final interleaved measurement (more rounds spread a pass over more time, so "
                        "that one slow spell of the host weighs less)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads (training, export)")
    p.add_argument("--device", default="cpu", help="where builds fine-tune and baselines train: cpu | cuda")
    p.add_argument("--no-progress", dest="progress", action="store_false")
    args = p.parse_args(argv)
    if args.baseline_epochs is not None and args.baseline_epochs < 1:
        p.error("--baseline-epochs must be ≥ 1")
    if args.rounds < 1:
        p.error("--rounds must be ≥ 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return run(args)
    except HwnatError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def run(args: argparse.Namespace) -> int:
    import torch

    from hwnat.config.targets import load_target
    from hwnat.data import load_dataset
    from hwnat.export.data import dataset_data

    if args.render is not None:
        return render(args.render, args.out)
    torch.set_num_threads(args.threads)
    t_start = time.perf_counter()
    preset, settings = build_settings(args.preset, args.config)  # a bad config fails before any work
    args.out.mkdir(parents=True, exist_ok=True)
    facts = supernet_facts(args.supernet, args.seed)
    targets = [load_target(t.strip()) for t in args.targets.split(",") if t.strip()]
    wanted = parse_budgets_arg(args.budgets)
    names = [n.strip() for n in args.baselines.split(",") if n.strip()]
    widths = [float(w) for w in args.baseline_widths.split(",") if w.strip()]
    for name in names:  # fail on a typo now, not after the builds
        baseline_config(name, width_mult=widths[0] if widths else 1.0)

    # 1. budgets and builds, per target (sharing one cache)
    rows: list[dict[str, Any]] = []
    spreads: dict[str, Any] = {}
    for target in targets:
        table_lo, table_hi, table = table_range(target, facts, args.out / "cache", settings=settings,
                                                progress=args.progress, seed=args.seed)
        lo, hi = measured_range(target, facts, table, settings=settings, store=args.out / "ranges.json",
                                seed=args.seed, progress=args.progress)
        budgets = spread_budgets(lo, hi, wanted) if isinstance(wanted, int) else list(wanted)
        spreads[target.name] = {"smallest_ms": lo, "largest_ms": hi, "table_smallest_ms": table_lo,
                                "table_largest_ms": table_hi, "table": table, "budgets_ms": budgets}
        print(f"{target.name}: smallest to largest subnet {lo:.3f}–{hi:.3f} ms measured (table {table_lo:.3f}–"
              f"{table_hi:.3f} ms) → budgets {', '.join(f'{b:.3f}' for b in budgets)} ms", file=sys.stderr)
        fmt = DELIVERED_FORMAT.get(target.runtime, "onnx")
        for budget in budgets:
            rows.append(run_build(args, facts, target, budget, fmt))
            print(build_line(rows[-1]), file=sys.stderr)
    # the builds' own measurements, kept before the (long) baseline training
    atomic_write_json(args.out / "builds.json", {"budgets": spreads, "rows": rows}, indent=2)

    # 2. baselines: trained once, scored in every target's runtime
    dataset = load_dataset(args.data)
    resolution = args.baseline_resolution or dataset.resolution
    data = baseline_data(dataset, facts, str(args.data))
    schedule = baseline_epochs(facts, rows, args.baseline_epochs)
    test = dataset_data(dataset, resolution, val=facts.origin.val, seed=facts.origin.split_seed, calib_images=1,
                        test_images=0)
    trained = []
    for name in names:
        for width in widths:
            folder = args.out / "baselines" / baseline_id(name, width, resolution)
            model, result = train_baseline(name, width, data, facts.config, schedule["epochs"], resolution, folder,
                                           args.seed, args.progress, args.device)
            trained.append((model, result, folder))
            print(f"baseline {result['id']}: {result['epochs']} epochs, test top-1 (PyTorch) "
                  f"{100 * result['test_top1_torch']:.2f}%", file=sys.stderr)
    for target in targets:
        fmt = DELIVERED_FORMAT.get(target.runtime, "onnx")
        from hwnat.export.formats import get_format

        family = get_format(fmt).family
        for model, result, folder in trained:
            model_file = export_baseline(model, resolution, fmt, target, folder / target.name)
            rows.append({"kind": "baseline", "target": target.name, "name": result["id"],
                         "family_name": result["name"], "width": result["width"], "format": fmt, "family": family,
                         "model_file": str(model_file), "resolution": resolution, "macs": result["macs"],
                         "params": result["params"], "epochs": result["epochs"],
                         "test_top1": runtime_accuracy(family, model_file, target, test.test, test.test_labels),
                         "test_top1_torch": result["test_top1_torch"], "val_top1_torch": result["val_top1_torch"],
                         "train_s": result["train_s"]})
            if abs(rows[-1]["test_top1"] - result["test_top1_torch"]) > 0.01:
                log.warning("%s on %s: test top-1 %.4f in the runtime vs %.4f in PyTorch", result["id"],
                            target.name, rows[-1]["test_top1"], result["test_top1_torch"])

    # 3. one interleaved measurement per target of every delivered model and every baseline
    from hwnat.latency.networks import export_reference
    from hwnat.latency.table import LatencyTable

    for target in targets:
        entries = [r for r in rows if r["target"] == target.name and "model_file" in r]
        folder = args.out / "reference" / target.name
        folder.mkdir(parents=True, exist_ok=True)
        reference = export_reference(facts.space, folder, target.batch)
        speed = LatencyTable.load(spreads[target.name]["table"]).calibration.reference_ms  # None: no paired pass
        for row, stats in zip(entries, measure_interleaved(target, entries, args.rounds, args.seed, args.progress,
                                                           reference, speed, calm_policy(settings))):
            row.update(stats)
            if row.get("budget_ms"):
                row["budget_used"] = row["p50_ms"] / row["budget_ms"]

    goals = check_goals(rows)
    result = {"data": str(args.data), "supernet": str(args.supernet), "space": facts.space.name,
              "variant": facts.space.variant.name, "width": facts.width, "trained_resolutions": list(facts.resolutions),
              "preset": preset, "config": None if args.config is None else str(args.config),
              "settings": settings, "seed": args.seed, "rounds": args.rounds, "budgets": spreads,
              "baseline_schedule": schedule, "rows": rows, "goals": goals,
              "wall_s": round(time.perf_counter() - t_start, 1)}
    atomic_write_json(args.out / "bench.json", result, indent=2)
    if args.json is not None:
        atomic_write_json(args.json, result, indent=2)
    write_report(rows, goals, args.out)
    print(f"wrote {args.out / 'bench.json'}, bench.md, bench.png ({result['wall_s']:.0f} s)", file=sys.stderr)
    return 0


def write_report(rows: Sequence[dict[str, Any]], goals: dict[str, Any], out: Path) -> None:
    """bench.md and bench.png into `out`; the table and goals to the terminal."""
    text = markdown(rows, goals)
    atomic_write_text(out / "bench.md", text + "\n")
    plot(rows, out / "bench.png")
    print(text)


def render(bench_json: Path, out: Path) -> int:
    """bench.md and bench.png again from a finished run's bench.json (goals re-checked by today's rules)."""
    try:
        text = bench_json.read_text()
    except OSError as exc:
        raise ConfigError(f"--render: cannot read {bench_json} ({exc.strerror})") from exc
    try:
        rows = json.loads(text)["rows"]
    except (ValueError, KeyError) as exc:
        raise ConfigError(f"--render: {bench_json} is not a bench.json this tool wrote ({exc})") from exc
    out.mkdir(parents=True, exist_ok=True)
    write_report(rows, check_goals(rows), out)
    print(f"wrote {out / 'bench.md'}, bench.png from {bench_json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
