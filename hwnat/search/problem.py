"""The pymoo Problem over NAT genomes: surrogate-predicted error plus exact objectives, budgets as constraints."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
from pymoo.core.problem import Problem

from hwnat.search.objectives import ExactObjectives

PredictFn = Callable[[np.ndarray], np.ndarray]


class GenomeProblem(Problem):
    """Vectorised: F = [predicted error, exact objectives...]; G = value / budget - 1 for each budget."""

    def __init__(self, exact: ExactObjectives, objectives: Sequence[str], budgets: Mapping[str, float],
                 predict: PredictFn, lo: np.ndarray, hi: np.ndarray) -> None:
        self.exact, self.objectives, self.budgets = exact, tuple(objectives), dict(budgets)
        self.predict = predict
        self.n_evals = 0
        super().__init__(n_var=len(lo), n_obj=len(self.objectives), n_ieq_constr=len(self.budgets),
                         xl=np.asarray(lo), xu=np.asarray(hi), vtype=int)

    def _evaluate(self, x, out, *args, **kwargs):  # type: ignore[no-untyped-def, override]
        g = np.rint(np.asarray(x, dtype=np.float64)).astype(np.int64)
        self.n_evals += len(g)
        values = self.exact(g, [*self.objectives[1:], *self.budgets])
        columns = [np.asarray(self.predict(g), dtype=np.float64)] + [values[n] for n in self.objectives[1:]]
        out["F"] = np.column_stack(columns)
        if self.budgets:
            out["G"] = np.column_stack([values[n] / limit - 1.0 for n, limit in self.budgets.items()])
