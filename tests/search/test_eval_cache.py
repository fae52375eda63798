"""The persistent accuracy cache: searches for other budgets reuse scores and find what an uncached search finds."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hwnat.errors import HwnatError
from hwnat.search import make_config, run_search
from hwnat.search.eval_cache import CachedEvaluator
from hwnat.search.evaluator import SyntheticEvaluator
from hwnat.space.arch import max_arch, min_arch
from hwnat.space.genome import encode, gene_bounds

TINY = {"archive_size": 10, "pop_size": 10, "generations": 2, "candidates": 3, "iterations": 2, "eval_batch": 8,
        "predictor_options": {"n_estimators": 30}}
IDENTITY = {"supernet_stage": "abc", "val_images": 0}


class Counting:
    """Wraps an evaluator and records every genome it is asked to score."""

    def __init__(self, inner: SyntheticEvaluator) -> None:
        self.inner, self.asked = inner, []

    def evaluate(self, genomes: np.ndarray) -> np.ndarray:
        self.asked.extend(tuple(int(v) for v in row) for row in np.atleast_2d(genomes))
        return self.inner.evaluate(genomes)


def random_genomes(space, n: int, seed: int) -> np.ndarray:
    lo, hi = gene_bounds(space)
    return np.random.default_rng(seed).integers(lo, hi + 1, size=(n, len(lo)))


def search(evaluator, space, latency, budget):  # type: ignore[no-untyped-def]
    return run_search(make_config("smoke", "natv2", budgets=budget, **TINY), evaluator, space, latency=latency)


def test_a_second_budget_scores_only_new_subnets_and_finds_what_an_uncached_search_finds(
        space, latency, evaluator, tmp_path) -> None:
    path = tmp_path / "evaluations" / "cache.jsonl"
    first = Counting(evaluator)
    search(CachedEvaluator(first, path, IDENTITY), space, latency, "latency=4ms")
    assert len(first.asked) == len(set(first.asked)) > 20  # every subnet scored once, written as scored

    second = Counting(evaluator)
    cached = CachedEvaluator(second, path, IDENTITY)
    with_cache = search(cached, space, latency, "latency=3ms")
    without = search(evaluator, space, latency, "latency=3ms")
    assert np.array_equal(with_cache.archive.genomes, without.archive.genomes)
    assert np.array_equal(with_cache.archive.error, without.archive.error)
    # NATv2's initial sample (by seed, not by budget) comes from the first search's scores
    assert cached.hits >= 20 and cached.misses == len(second.asked) < len(first.asked)
    assert not set(second.asked) & set(first.asked)


def test_a_duplicate_in_one_call_is_scored_once(space, evaluator, tmp_path) -> None:
    counting = Counting(evaluator)
    cached = CachedEvaluator(counting, tmp_path / "c.jsonl", IDENTITY)
    small, large = encode(space, min_arch(space, 0.5)), encode(space, max_arch(space, 0.5))
    errors = cached.evaluate(np.stack([small, large, small]))
    assert errors[0] == errors[2] and len(counting.asked) == 2 and cached.misses == 2 and cached.hits == 0
    assert np.array_equal(cached.evaluate(np.stack([large])), errors[1:2]) and cached.hits == 1


def test_the_synthetic_evaluator_scores_a_genome_the_same_in_any_batch(space, evaluator) -> None:
    # the cache tests compare cached scores with fresh ones bit for bit; a BLAS product broke that on some CPUs
    genomes = random_genomes(space, 300, seed=1)
    one_by_one = np.concatenate([evaluator.evaluate(g[None]) for g in genomes])
    assert np.array_equal(evaluator.evaluate(genomes), one_by_one)


def test_an_append_cut_short_by_a_kill_is_scored_again(space, evaluator, tmp_path) -> None:
    path = tmp_path / "c.jsonl"
    small, large = encode(space, min_arch(space, 0.5)), encode(space, max_arch(space, 0.5))
    CachedEvaluator(evaluator, path, IDENTITY).evaluate(np.stack([small, large]))
    text = path.read_text()
    path.write_text(text[: len(text) - 10])  # the last record lost its tail and its newline

    counting = Counting(evaluator)
    again = CachedEvaluator(counting, path, IDENTITY)
    assert np.array_equal(again.evaluate(np.stack([small, large])), evaluator.evaluate(np.stack([small, large])))
    assert counting.asked == [tuple(int(v) for v in large)]
    records = [json.loads(line) for line in path.read_text().splitlines()[1:] if line.endswith("}")]
    assert [r["genome"] for r in records] == [small.tolist(), large.tolist()]
    assert len(CachedEvaluator(Counting(evaluator), path, IDENTITY).scores) == 2


def test_a_cache_of_another_supernet_is_refused_naming_both(evaluator, tmp_path) -> None:
    path = tmp_path / "c.jsonl"
    CachedEvaluator(evaluator, path, IDENTITY)
    with pytest.raises(HwnatError, match="holds scores of .*'abc'.* not of .*'xyz'"):
        CachedEvaluator(evaluator, path, {**IDENTITY, "supernet_stage": "xyz"})


def test_accuracy_by_macs_bins_every_scored_subnet_with_its_best(space, evaluator, tmp_path, tool, capsys) -> None:
    path = tmp_path / "c.jsonl"
    genomes = random_genomes(space, 40, seed=2)
    CachedEvaluator(evaluator, path, IDENTITY).evaluate(genomes)
    path.write_text(path.read_text() + '{"genome": [0, 0')  # a record cut short by a kill is left out

    rows = tool("accuracy_by_macs").error_by_macs(path, space.name, [20.0, 40.0])
    assert sum(r["subnets"] for r in rows) == len({tuple(g) for g in genomes.tolist()})
    errors = evaluator.evaluate(genomes)
    assert min(r["best"] for r in rows) == errors.min()
    assert all(r["from_m"] <= r["best_macs_m"] < r["to_m"] and r["best"] <= r["median"] for r in rows)

    assert tool("accuracy_by_macs").main([str(path), "--space", "ofa-mbv3"]) == 2
    assert "--space 'ofa-mbv3'" in capsys.readouterr().err


def test_accuracy_by_macs_takes_the_space_the_cache_names(space, evaluator, tmp_path, tool, capsys) -> None:
    named, unnamed = tmp_path / "named.jsonl", tmp_path / "unnamed.jsonl"
    genomes = random_genomes(space, 20, seed=3)
    CachedEvaluator(evaluator, named, IDENTITY, space=space.name).evaluate(genomes)
    CachedEvaluator(evaluator, unnamed, IDENTITY).evaluate(genomes)
    assert json.loads(named.read_text().splitlines()[0])["space"] == space.name

    aid = tool("accuracy_by_macs")
    assert aid.error_by_macs(named, None, [30.0]) == aid.error_by_macs(unnamed, space.name, [30.0])
    with pytest.raises(HwnatError, match=f"space {space.name!r}, not of --space 'ofa-mbv3'"):
        aid.error_by_macs(named, "ofa-mbv3", [30.0])
    assert aid.main([str(unnamed)]) == 2
    assert "does not name its search space" in capsys.readouterr().err
