"""NAT / NATv2 multi-objective search over a super-network (pymoo 0.6); heavy modules load on first use."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hwnat.search.adapt import Adapter, SupernetAdapter, SyntheticAdapter
    from hwnat.search.archive import Archive
    from hwnat.search.config import SearchConfig, make_config, preset_names
    from hwnat.search.evaluator import Evaluator, SupernetEvaluator, SyntheticEvaluator
    from hwnat.search.loop import SearchResult, run_search
    from hwnat.search.objectives import parse_budgets, table_latency
    from hwnat.search.predictors import create_predictor, list_predictors
    from hwnat.search.supernet_eval import supernet_adapter, supernet_evaluator

__all__ = ["Adapter", "Archive", "Evaluator", "SearchConfig", "SearchResult", "SupernetAdapter", "SupernetEvaluator",
           "SyntheticAdapter", "SyntheticEvaluator", "create_predictor", "list_predictors", "make_config",
           "parse_budgets", "preset_names", "run_search", "supernet_adapter", "supernet_evaluator", "table_latency"]

_WHERE = {
    "Adapter": "adapt", "SupernetAdapter": "adapt", "SyntheticAdapter": "adapt",
    "supernet_adapter": "supernet_eval", "supernet_evaluator": "supernet_eval",
    "Archive": "archive", "SearchConfig": "config", "make_config": "config", "preset_names": "config",
    "Evaluator": "evaluator", "SupernetEvaluator": "evaluator", "SyntheticEvaluator": "evaluator",
    "SearchResult": "loop", "run_search": "loop", "parse_budgets": "objectives", "table_latency": "objectives",
    "create_predictor": "predictors", "list_predictors": "predictors",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"hwnat.search.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
