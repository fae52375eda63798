"""run_search(): the NAT / NATv2 loop (initialise, pre-process, predict, NSGA, select, evaluate, update), resumable."""

from __future__ import annotations

import csv
import io
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hwnat import __version__
from hwnat.errors import ConfigError
from hwnat.io import atomic_write_json, atomic_write_text
from hwnat.search.adapt import Adapter
from hwnat.search.archive import Archive, EvalLog, create_policy
from hwnat.search.config import SearchConfig
from hwnat.search.evaluator import Evaluator
from hwnat.search.metrics import (
    high_tradeoff,
    hypervolume,
    non_dominated,
    predictor_quality,
)
from hwnat.search.objectives import EXACT, ExactObjectives, LatencyFn, check_budgets
from hwnat.search.operators import (
    extreme_genomes,
    keys_of,
    search_bounds,
    unique_sample,
)
from hwnat.search.optimizer import run_nsga
from hwnat.search.predictors import create_predictor
from hwnat.search.problem import GenomeProblem
from hwnat.search.selection import create_selector
from hwnat.search.state import (
    STATE_FILE,
    SearchState,
    describe_predictor,
    load_state,
    save_state,
)
from hwnat.search.survival import survive
from hwnat.space.spec import SearchSpace

log = logging.getLogger("hwnat.search")

ARCHIVE_LOG, FRONT_FILE, HV_FILE, PLOT_FILE = "archive.jsonl", "front.json", "hv.csv", "pareto.png"
ADAPT_DIR = "adapted"  # the adapted super-network of the last completed iteration: adapted/iter-NNNN<suffix>
SCHEMA = 1
# BLAS threads while predictors fit and predict: the surrogates do many small matrix products and Cholesky
# factorisations, which are several times slower with OpenBLAS's spinning threads on a busy 2-core machine
# (same results; None keeps the library's default)
BLAS_THREADS: int | None = 1
Progress = Callable[[dict[str, Any]], None]


@dataclass
class SearchResult:
    """The final archive, its feasible non-dominated members, the high trade-off points and per-iteration rows."""

    archive: Archive
    front: Archive
    tradeoff: Archive
    history: list[dict[str, Any]]
    evaluations: int
    out_dir: Path | None


class _Search:
    """One search's fixed context: space, bounds, objective functions, evaluator, files."""

    def __init__(self, config: SearchConfig, evaluator: Evaluator, space: SearchSpace, latency: LatencyFn | None,
                 out: Path | None) -> None:
        self.cfg, self.evaluator, self.space = config, evaluator, space
        self.lo, self.hi = search_bounds(space, config.width_mult if config.width_mult is not None
                                         else space.width_mults[0], config.resolutions)
        self.exact = ExactObjectives(space, latency)
        self.names = [n for n in EXACT if n != "latency" or latency is not None]
        for n in (*config.objectives[1:], *config.budgets):
            if n not in self.names:
                raise ConfigError(f"objective or budget {n!r} needs a latency table (a target); none was given")
        self.extremes = extreme_genomes(space, self.lo, self.hi)
        check_budgets(config.budgets, self.exact, self.extremes[0])
        ends = self.exact(self.extremes, self.names)
        self.ideal = np.array([0.0] + [ends[n][0] for n in config.objectives[1:]])
        self.nadir = np.array([1.0] + [ends[n][1] for n in config.objectives[1:]])
        self.out = out
        self.log = EvalLog(out / ARCHIVE_LOG) if out is not None else None

    # -- evaluation ----------------------------------------------------------------------------------
    def evaluate(self, genomes: np.ndarray, iteration: int, reevaluated: bool = False) -> Archive:
        """Measure genomes in batches; each batch is appended to archive.jsonl as soon as it is measured
        (re-evaluations after a supernet adaptation are marked `"reevaluated": true`)."""
        parts = []
        for start in range(0, len(genomes), self.cfg.eval_batch):
            g = genomes[start : start + self.cfg.eval_batch]
            err = np.asarray(self.evaluator.evaluate(g), dtype=np.float64).reshape(len(g))
            part = Archive(g, err, self.exact(g, self.names), np.full(len(g), iteration, dtype=np.int64))
            if self.log is not None:
                records = part.records(self.space)
                if reevaluated:
                    records = [{**r, "reevaluated": True} for r in records]
                self.log.append(records)
            parts.append(part)
        out = Archive.empty(len(self.lo), self.names)
        for p in parts:
            out = out.merge(p)
        return out

    def set_error_nadir(self, archive: Archive) -> None:
        """The hypervolume's error bound: the min arch's measured error (fixed for the whole search)."""
        keys = archive.keys()
        smallest = self.extremes[0].tobytes()
        if smallest in keys:
            self.nadir[0] = max(float(archive.error[keys.index(smallest)]), 1e-6)
        else:
            self.nadir[0] = float(archive.error.max())

    def hv(self, archive: Archive) -> float:
        feasible = archive.violation(self.cfg.budgets) <= 0
        return hypervolume(archive.F(self.cfg.objectives)[feasible], self.ideal, self.nadir)

    def best_feasible(self, archive: Archive) -> float | None:
        feasible = archive.violation(self.cfg.budgets) <= 0
        return float(archive.error[feasible].min()) if feasible.any() else None

    # -- stages ----------------------------------------------------------------------------------------
    def initialise(self, rng: np.random.Generator) -> tuple[Archive, int]:
        cfg = self.cfg
        n = cfg.archive_size * max(1, cfg.preprocess_factor)
        sampled = unique_sample(self.space, cfg.init, n - len(self.extremes), rng, self.lo, self.hi,
                                exclude=keys_of(self.extremes))
        archive = self.evaluate(np.vstack([self.extremes, sampled]), 0)
        evaluated = len(archive)
        self.set_error_nadir(archive)
        if len(archive) > cfg.archive_size:  # NATv2 pre-processing: keep the best by survival
            archive = archive.take(survive(archive.F(cfg.objectives), cfg.archive_size, rng,
                                           archive.violation(cfg.budgets)))
        return archive, evaluated

    def iterate(self, archive: Archive, iteration: int, rng: np.random.Generator) -> tuple[Archive, dict[str, Any],
                                                                                              Any]:
        from threadpoolctl import threadpool_limits

        cfg, t = self.cfg, {"fit": 0.0, "nsga": 0.0, "select": 0.0, "eval": 0.0}
        seeds = [int(s) for s in rng.integers(0, 2**31 - 1, size=3)]
        with threadpool_limits(limits=BLAS_THREADS, user_api="blas"):
            t0 = time.perf_counter()
            predictor = create_predictor(cfg.predictor, seeds[0], **cfg.predictor_options)
            predictor.fit(archive.genomes, archive.error)
            t["fit"] = time.perf_counter() - t0

            t0 = time.perf_counter()
            problem = GenomeProblem(self.exact, cfg.objectives, cfg.budgets, predictor.predict, self.lo, self.hi)
            seed_pop = archive.take(survive(archive.F(cfg.objectives), cfg.pop_size, rng,
                                            archive.violation(cfg.budgets)))
            keys = set(archive.keys())
            result = run_nsga(problem, self.space, seed_pop.genomes, cfg.pop_size, cfg.generations, seeds[1], keys)
            t["nsga"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        new = np.array([k not in keys for k in keys_of(result.X)], dtype=bool)
        X, F, CV = result.X[new], result.F[new], result.CV[new]
        if len(X) == 0:  # the optimiser found nothing new: fall back to fresh samples
            X = unique_sample(self.space, cfg.init, cfg.candidates, rng, self.lo, self.hi, exclude=keys)
            values = problem.evaluate(X.astype(np.float64), return_as_dictionary=True)
            F, G = values["F"], values.get("G")
            CV = np.zeros(len(X)) if G is None or np.size(G) == 0 else np.maximum(0.0, G).sum(axis=1)
        pool = np.flatnonzero(CV <= 0) if (CV <= 0).sum() >= cfg.candidates else np.argsort(CV, kind="stable")
        feasible = archive.violation(cfg.budgets) <= 0
        archive_F = archive.F(cfg.objectives)[feasible]
        front_F = archive_F[non_dominated(archive_F)] if len(archive_F) else archive_F
        chosen = pool[create_selector(cfg.selection)(F[pool], front_F, cfg.candidates, rng)]
        t["select"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        measured = self.evaluate(X[chosen], iteration + 1)
        t["eval"] = time.perf_counter() - t0
        quality = predictor_quality(F[chosen, 0], measured.error)
        archive = create_policy(cfg.archive_policy)(archive, measured, cfg.archive_size, cfg.objectives,
                                                    cfg.budgets, rng)
        row = {"iteration": iteration + 1, "archive_size": len(archive), "new": len(measured),
               "hv": self.hv(archive), "best_feasible_error": self.best_feasible(archive), **quality,
               "predictor": getattr(predictor, "chosen", None) or cfg.predictor,
               "nsga_evaluations": result.evaluations, **{f"time_{k}_s": round(v, 4) for k, v in t.items()}}
        return archive, row, predictor

    # -- outputs -------------------------------------------------------------------------------------
    def final(self, archive: Archive) -> tuple[Archive, Archive]:
        feasible = np.flatnonzero(archive.violation(self.cfg.budgets) <= 0)
        F = archive.F(self.cfg.objectives)[feasible]
        front_idx = feasible[non_dominated(F)] if len(F) else feasible
        front_F = archive.F(self.cfg.objectives)[front_idx]
        order = np.lexsort(front_F.T[::-1])
        front = archive.take(front_idx[order])
        trade = front.take(high_tradeoff(front.F(self.cfg.objectives), self.ideal, self.nadir))
        return front, trade

    def write_outputs(self, archive: Archive, front: Archive, trade: Archive, history: list[dict[str, Any]]) -> None:
        if self.out is None:
            return
        cfg = self.cfg
        atomic_write_json(self.out / FRONT_FILE, {
            "schema": SCHEMA, "hwnat": __version__, "space": self.space.name,
            "space_fingerprint": self.space.fingerprint, "objectives": list(cfg.objectives),
            "budgets": cfg.budgets, "config": cfg.to_dict(), "front": front.records(self.space),
            "tradeoff": trade.records(self.space)}, indent=2)
        if history:
            buf = io.StringIO()
            fields = list(dict.fromkeys(k for row in history for k in row))
            writer = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(history)
            atomic_write_text(self.out / HV_FILE, buf.getvalue())
        from hwnat.search.plots import pareto_png

        F = archive.F(cfg.objectives)
        index = {k: i for i, k in enumerate(archive.keys())}
        front_ids, trade_ids = front.keys(), trade.keys()
        pareto_png(self.out / PLOT_FILE, F, np.array([index[k] for k in front_ids], dtype=np.int64),
                   np.array([index[k] for k in trade_ids], dtype=np.int64),
                   (cfg.objectives[0], cfg.objectives[1]), cfg.budgets.get(cfg.objectives[1]),
                   f"{cfg.algorithm} on {self.space.name}")


def run_search(config: SearchConfig, evaluator: Evaluator, space: SearchSpace, *, latency: LatencyFn | None = None,
               out: str | Path | None = None, resume: bool = False, progress: Progress | None = None,
               adapter: Adapter | None = None, stop_after: int | None = None) -> SearchResult:
    """Run (or with `resume`, continue) a NAT/NATv2 search; `out` gets archive.jsonl, state.json, front.json,
    hv.csv and pareto.png. When `config.adapt`, `adapter` adapts the evaluator's super-network after every
    iteration (its weights saved under `out/adapted/`), then the archive is re-evaluated. `stop_after` ends after
    that many iterations of this call (for tests)."""
    out_dir = Path(out) if out is not None else None
    if resume and out_dir is None:
        raise ConfigError("resume needs the output directory of the search to continue")
    state_path = out_dir / STATE_FILE if out_dir is not None else None
    if resume:
        assert state_path is not None
        state, stored = load_state(state_path, space.genome_length, space.fingerprint)
        if stored != config.to_dict():
            log.warning("resuming with the configuration stored in %s, not the one given", state_path)
        config = SearchConfig.from_dict(stored)
    if config.adapt and adapter is None:
        raise ConfigError("supernet adaptation (adapt=True, on in the nat preset) needs an adapter: "
                          "hwnat.search.adapt.SupernetAdapter for a super-network, SyntheticAdapter for the "
                          "synthetic evaluator; or set adapt=False")
    if not resume and state_path is not None and state_path.exists():
        raise ConfigError(f"{str(out_dir)!r} already holds a search ({STATE_FILE}); pass --resume to continue it "
                          f"or choose another --out")
    search = _Search(config, evaluator, space, latency, out_dir)
    if resume:
        assert search.log is not None
        search.log.truncate(state.log_offset)
        if state.hv_bounds is not None:
            search.ideal, search.nadir = (np.asarray(b, dtype=np.float64) for b in state.hv_bounds)
        if state.adapted is not None and adapter is not None:
            assert out_dir is not None
            adapter.load(out_dir / state.adapted)
    else:
        if search.log is not None:
            search.log.truncate(0)
        rng = np.random.default_rng(config.seed)
        archive, evaluated = search.initialise(rng)
        row = {"iteration": 0, "archive_size": len(archive), "new": evaluated, "hv": search.hv(archive),
               "best_feasible_error": search.best_feasible(archive), "evaluations": evaluated}
        state = SearchState(0, archive, rng.bit_generator.state, search.log.offset if search.log else 0,
                            evaluated, [row], hv_bounds=(search.ideal.tolist(), search.nadir.tolist()))
        _checkpoint(search, state, state_path)
        _report(progress, row)

    done_here = 0
    while state.iteration < config.iterations and (stop_after is None or done_here < stop_after):
        rng = state.rng()
        archive, row, predictor = search.iterate(state.archive, state.iteration, rng)
        adapted = state.adapted
        if config.adapt and adapter is not None:
            adapted = _adapt(search, adapter, archive, state.iteration + 1, rng, row)
        state = SearchState(state.iteration + 1, archive, rng.bit_generator.state,
                            search.log.offset if search.log else 0, state.evaluations + row["new"],
                            [*state.history, {**row, "evaluations": state.evaluations + row["new"]}],
                            describe_predictor(predictor), state.hv_bounds, adapted)
        _checkpoint(search, state, state_path)
        if out_dir is not None and adapted is not None:  # older adapted weights are no longer needed
            for old in (out_dir / ADAPT_DIR).glob("iter-*"):
                if old.name != Path(adapted).name:
                    old.unlink(missing_ok=True)
        _report(progress, state.history[-1])
        done_here += 1

    front, trade = search.final(state.archive)
    search.write_outputs(state.archive, front, trade, state.history)
    return SearchResult(state.archive, front, trade, state.history, state.evaluations, out_dir)


def _adapt(search: _Search, adapter: Adapter, archive: Archive, iteration: int, rng: np.random.Generator,
           row: dict[str, Any]) -> str | None:
    """Adapt the super-network, save its weights (before the state that names them), re-evaluate the archive."""
    cfg = search.cfg
    t0 = time.perf_counter()
    row.update(adapter.adapt(archive, cfg.objectives, search.lo, search.hi, int(rng.integers(0, 2**31 - 1))))
    name = None
    if search.out is not None:
        name = f"{ADAPT_DIR}/iter-{iteration:04d}{getattr(adapter, 'suffix', '')}"
        adapter.save(search.out / name)
    t1 = time.perf_counter()
    archive.error = search.evaluate(archive.genomes, iteration, reevaluated=True).error
    row.update({"hv_before_adapt": row["hv"], "hv": search.hv(archive), "best_feasible_error":
                search.best_feasible(archive), "reevaluated": len(archive),
                "time_adapt_s": round(t1 - t0, 4), "time_reeval_s": round(time.perf_counter() - t1, 4)})
    return name


def _checkpoint(search: _Search, state: SearchState, path: Path | None) -> None:
    if path is not None:
        save_state(path, state, search.cfg.to_dict(), search.space.fingerprint)


def _report(progress: Progress | None, row: dict[str, Any]) -> None:
    log.info("iteration %s: %s", row.get("iteration"), row)
    if progress is not None:
        progress(row)
