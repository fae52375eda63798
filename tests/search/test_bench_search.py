"""tools/bench_search.py: the HV-against-evaluations curve and a tiny synthetic ablation end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest


@pytest.fixture(scope="module")
def bench(tool):
    return tool("bench_search")


def test_curve_counts_new_evaluations_and_uses_latest_errors(bench) -> None:
    class Flat:  # HV stand-in: the sum of (1 - error) of the known genomes
        def hv(self, genomes, error):
            return float(np.sum(1.0 - error))

    g = [np.array([i], dtype=np.int64) for i in range(3)]
    log = bench.RunLog([(g[0], 0.5, False), (g[1], 0.5, False), (g[0], 0.0, True), (g[2], 0.5, False)], 0.0)
    assert bench.curve(Flat(), log, [1, 2, 3]) == [0.5, 1.5, 2.0]  # the re-evaluation counts from n = 2 on


@pytest.mark.slow
def test_synthetic_ablation_writes_table_and_json(bench, tmp_path, capsys) -> None:
    out = tmp_path / "result.json"
    bench.main(["--synthetic", "--methods", "natv2,random,nsga2", "--seeds", "0,1,2", "--budget", "24",
                "--archive", "6", "--preprocess", "2", "--candidates", "4", "--pop", "8", "--generations", "2",
                "--nsga-pop", "8", "--points", "3", "--out", str(tmp_path / "runs"), "--json", str(out)])
    text = capsys.readouterr().out
    assert "| rank | method |" in text and "| 24 |" in text
    data = json.loads(out.read_text())
    assert data["grid"] == [8, 16, 24]
    for method in ("natv2", "random", "nsga2"):
        runs = data["results"][method]
        assert [r["seed"] for r in runs] == [0, 1, 2] and all(r["evaluations"] == 24 for r in runs)
        assert all(r["hv_curve"][0] <= r["hv_curve"][-1] + 1e-12 for r in runs)
