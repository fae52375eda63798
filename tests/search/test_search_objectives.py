"""Objective names, budget parsing and the infeasible-budget error."""

from __future__ import annotations

import numpy as np
import pytest

from hwnat.errors import ConfigError
from hwnat.search.objectives import (
    ExactObjectives,
    check_budgets,
    check_objectives,
    parse_budgets,
    parse_quantity,
    table_latency,
)
from hwnat.search.operators import extreme_genomes


@pytest.mark.parametrize(("name", "text", "value"), [
    ("latency", "2ms", 2.0), ("latency", "0.002s", 2.0), ("latency", "500us", 0.5), ("latency", "1.5", 1.5),
    ("macs", "300M", 3e8), ("params", "1.5M", 1.5e6), ("params", "1e6", 1e6), ("macs", "20k", 2e4),
    ("macs", "1G", 1e9), ("params", 250000, 250000.0),
])
def test_parse_quantity(name, text, value) -> None:
    assert parse_quantity(name, text) == pytest.approx(value)


@pytest.mark.parametrize(("name", "text", "match"), [
    ("latency", "2 parsecs", "write it like '2ms'"), ("params", "1.5ms", "write it like '300M'"),
    ("latency", "-1ms", "not a time"), ("params", "0", "positive"), ("latncy", "2ms", "did you mean 'latency'"),
    ("error", "0.1", "'error' cannot be a budget"),
])
def test_parse_quantity_errors(name, text, match) -> None:
    with pytest.raises(ConfigError, match=match):
        parse_quantity(name, text)


def test_parse_budgets() -> None:
    assert parse_budgets("latency=2ms, params=1M") == {"latency": 2.0, "params": 1e6}
    assert parse_budgets(None) == {}
    with pytest.raises(ConfigError, match="name=value"):
        parse_budgets("latency")
    with pytest.raises(ConfigError, match="given twice"):
        parse_budgets("macs=1M,macs=2M")


def test_objectives_did_you_mean_and_order() -> None:
    assert check_objectives(["latency", "error"]) == ("error", "latency")
    with pytest.raises(ConfigError, match="did you mean 'latency'"):
        check_objectives(["error", "latenc"])
    with pytest.raises(ConfigError, match="must include 'error'"):
        check_objectives(["macs", "params"])
    with pytest.raises(ConfigError, match="at least two"):
        check_objectives(["error"])


def test_exact_objectives_and_latency_adapter(space, bounds, latency) -> None:
    class Table:
        def predict_many(self, sp, genomes):
            return latency(genomes)

    exact = ExactObjectives(space, table_latency(Table(), space))
    small, big = extreme_genomes(space, *bounds)
    values = exact(np.stack([small, big]), ["latency", "macs", "params"])
    assert list(values) == ["latency", "macs", "params"]
    assert (values["macs"][0] < values["macs"][1]) and (values["latency"][0] < values["latency"][1])
    with pytest.raises(ConfigError, match="needs a latency table"):
        ExactObjectives(space)(small, ["latency"])


def test_budget_no_subnet_can_meet_names_smallest(space, bounds, latency) -> None:
    exact = ExactObjectives(space, latency)
    small = extreme_genomes(space, *bounds)[0]
    smallest = exact(small[None], ["latency", "params"])
    check_budgets({"latency": float(smallest["latency"][0]) * 1.01}, exact, small)
    with pytest.raises(ConfigError, match=r"smallest subnet \(min arch\) reaches latency .* ms, params .*k") as err:
        check_budgets({"latency": 0.001, "params": 1e9}, exact, small)
    assert "latency ≤ 0.001 ms" in str(err.value) and "params ≤" not in str(err.value)
