"""NSGA-II (2 objectives) / NSGA-III with Riesz-energy directions (≥ 3) over genomes, run by ask/tell."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
from pymoo.core.callback import Callback

from hwnat.search.operators import ArchiveDuplicateElimination, CanonicalRepair
from hwnat.search.problem import GenomeProblem
from hwnat.search.survival import riesz_directions
from hwnat.space.spec import SearchSpace


@dataclass
class NSGAResult:
    """The final population: genomes, predicted objectives, constraint violation."""

    X: np.ndarray
    F: np.ndarray
    CV: np.ndarray
    evaluations: int


class GenerationStream(Callback):
    """Streams each generation's population (genomes, F, CV) to a function instead of `save_history=True`."""

    def __init__(self, sink: Callable[[int, np.ndarray, np.ndarray, np.ndarray], None]) -> None:
        super().__init__()
        self.sink = sink

    def notify(self, algorithm):  # type: ignore[no-untyped-def, override]
        pop = algorithm.pop
        self.sink(algorithm.n_gen, pop.get("X"), pop.get("F"), pop.get("CV").reshape(-1))


def make_algorithm(space: SearchSpace, n_obj: int, pop_size: int, initial: np.ndarray,
                   elimination: ArchiveDuplicateElimination, callback: Callback | None = None):  # type: ignore[no-untyped-def]
    """NAT's operators: integer two-point crossover, polynomial mutation (eta 1) with rounding, canonical repair."""
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.algorithms.moo.nsga3 import NSGA3
    from pymoo.operators.crossover.pntx import TwoPointCrossover
    from pymoo.operators.mutation.pm import PM
    from pymoo.operators.repair.rounding import RoundingRepair

    common = {"pop_size": pop_size, "sampling": initial.astype(np.float64), "crossover": TwoPointCrossover(prob=0.9),
                  "mutation": PM(eta=1.0, vtype=float, repair=RoundingRepair()), "repair": CanonicalRepair(space),
                  "eliminate_duplicates": elimination, "callback": callback}
    if n_obj <= 2:
        return NSGA2(**common)
    return NSGA3(ref_dirs=riesz_directions(n_obj, pop_size), **common)


def run_nsga(problem: GenomeProblem, space: SearchSpace, initial: np.ndarray, pop_size: int, generations: int,
             seed: int, archived: Iterable[bytes] = (),
             on_generation: Callable[[int, np.ndarray, np.ndarray, np.ndarray], None] | None = None) -> NSGAResult:
    """Evolve from `initial` genomes; offspring equal to an archived genome count as duplicates."""
    elimination = ArchiveDuplicateElimination()  # the initial population (archive members) must pass
    callback = GenerationStream(on_generation) if on_generation else None
    algorithm = make_algorithm(space, problem.n_obj, pop_size, initial, elimination, callback)
    algorithm.setup(problem, termination=("n_gen", generations), seed=int(seed), verbose=False)
    first = True
    while algorithm.has_next():
        pop = algorithm.ask()
        algorithm.evaluator.eval(problem, pop)
        algorithm.tell(infills=pop)
        if first:
            elimination.archived = set(archived)
            first = False
    pop = algorithm.pop
    X = np.rint(pop.get("X").astype(np.float64)).astype(np.int64)
    return NSGAResult(X, pop.get("F"), pop.get("CV").reshape(-1), problem.n_evals)
