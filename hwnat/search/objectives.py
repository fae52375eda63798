"""Search objectives (error, MACs, params, latency), budget parsing and exact objective values of genomes."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from hwnat.complexity import complexity_many
from hwnat.errors import ConfigError, unknown_name
from hwnat.space.genome import encode
from hwnat.space.spec import SearchSpace

LatencyFn = Callable[[np.ndarray], np.ndarray]
"""A callable mapping an (N, G) array of genomes to latencies in milliseconds."""


@dataclass(frozen=True)
class Objective:
    """One minimised quantity: its name, unit and the kind of quantity its budget is written in."""

    name: str
    unit: str
    kind: str  # "error" | "time" | "count"
    help: str


OBJECTIVES: dict[str, Objective] = {
    o.name: o
    for o in (
        Objective("error", "", "error", "top-1 error in [0, 1] (predicted by the surrogate, measured on the supernet)"),
        Objective("macs", "MACs", "count", "multiply-accumulates of one forward pass"),
        Objective("params", "params", "count", "number of parameters"),
        Objective("latency", "ms", "time", "latency on the target from its lookup table"),
    )
}
EXACT = ("macs", "params", "latency")

_COUNT_SUFFIX = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "B": 1e9}
_TIME_SUFFIX = {"": 1.0, "ms": 1.0, "s": 1e3, "us": 1e-3, "µs": 1e-3}
_NUMBER = r"([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"


def check_objectives(names: Sequence[str]) -> tuple[str, ...]:
    """Validate objective names (did-you-mean on typos): error first, at least two, no repeats."""
    names = tuple(str(n).strip().lower() for n in names)
    for n in names:
        if n not in OBJECTIVES:
            raise ConfigError(unknown_name("objective", n, OBJECTIVES))
    if len(set(names)) != len(names):
        raise ConfigError(f"objectives {list(names)} repeat a name")
    if "error" not in names:
        raise ConfigError(f"objectives {list(names)} must include 'error' (the accuracy the search maximises)")
    if len(names) < 2:
        raise ConfigError("at least two objectives are needed, e.g. error,latency")
    return ("error", *[n for n in names if n != "error"])


def parse_quantity(name: str, text: str | float) -> float:
    """A budget value in the objective's base unit: latency in ms ('2ms', '0.002s', '500us', bare = ms),
    counts as numbers ('300M', '1.5M', '1e6', '20k', '1G')."""
    if name not in OBJECTIVES or OBJECTIVES[name].kind == "error":
        allowed = [n for n in OBJECTIVES if n != "error"]
        raise ConfigError(unknown_name("budget", name, allowed) if name not in OBJECTIVES
                          else f"'error' cannot be a budget; allowed: {', '.join(allowed)}")
    kind = OBJECTIVES[name].kind
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value = float(text)
    else:
        suffixes = _TIME_SUFFIX if kind == "time" else _COUNT_SUFFIX
        m = re.fullmatch(_NUMBER + r"\s*([a-zA-Zµ]*)", str(text).strip())
        if m is None or m.group(2) not in suffixes:
            examples = "'2ms', '0.002s', '500us'" if kind == "time" else "'300M', '1.5M', '1e6', '20k'"
            raise ConfigError(f"budget {name}={text!r} is not a {'time' if kind == 'time' else 'count'}; "
                              f"write it like {examples}")
        value = float(m.group(1)) * suffixes[m.group(2)]
    if not np.isfinite(value) or value <= 0:
        raise ConfigError(f"budget {name}={text!r} must be a positive number")
    return value


def parse_budgets(text: str | Mapping[str, str | float] | None) -> dict[str, float]:
    """'latency=2ms,params=1M' (or a mapping) -> {'latency': 2.0, 'params': 1e6}."""
    if text is None or text == "":
        return {}
    if isinstance(text, Mapping):
        items: Iterable[tuple[str, str | float]] = text.items()
    else:
        items = []
        for part in str(text).split(","):
            key, sep, value = part.partition("=")
            if not sep or not key.strip() or not value.strip():
                raise ConfigError(f"budget {part.strip()!r} must look like name=value, e.g. latency=2ms,params=1M")
            items.append((key.strip(), value.strip()))
    out: dict[str, float] = {}
    for key, value in items:
        name = str(key).strip().lower()
        if name in out:
            raise ConfigError(f"budget {name!r} given twice")
        out[name] = parse_quantity(name, value)
    return out


def format_quantity(name: str, value: float) -> str:
    if OBJECTIVES[name].kind == "time":
        return f"{value:.4g} ms"
    for suffix, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= scale:
            return f"{value / scale:.4g}{suffix}"
    return f"{value:.4g}"


class ExactObjectives:
    """Exact MACs, params and table latency of genomes, vectorised; only the columns that are asked for."""

    def __init__(self, space: SearchSpace, latency: LatencyFn | None = None) -> None:
        self.space = space
        self.latency = latency

    def __call__(self, genomes: np.ndarray, names: Iterable[str]) -> dict[str, np.ndarray]:
        names = list(dict.fromkeys(names))
        g = np.atleast_2d(np.asarray(genomes, dtype=np.int64))
        out: dict[str, np.ndarray] = {}
        if "macs" in names or "params" in names:
            macs, params = complexity_many(self.space, g)
            out["macs"], out["params"] = macs.astype(np.float64), params.astype(np.float64)
        if "latency" in names:
            if self.latency is None:
                raise ConfigError("the 'latency' objective or budget needs a latency table (a target); none given")
            out["latency"] = np.asarray(self.latency(g), dtype=np.float64).reshape(len(g))
        return {n: out[n] for n in names if n in out}


def table_latency(table: object, space: SearchSpace) -> LatencyFn:
    """Adapter: a LatencyTable (anything with `predict_many(space, genomes)`) as a genomes -> ms callable."""
    predict = getattr(table, "predict_many", None)
    if predict is None:
        raise ConfigError(f"{type(table).__name__} has no predict_many(space, genomes); not a latency table")

    def latency(genomes: np.ndarray) -> np.ndarray:
        return np.asarray(predict(space, genomes), dtype=np.float64)

    return latency


def check_budgets(budgets: Mapping[str, float], exact: ExactObjectives, smallest: np.ndarray) -> None:
    """Raise ConfigError if the smallest subnet (`smallest` genome) already exceeds a budget, naming its values."""
    if not budgets:
        return
    values = {k: float(v[0]) for k, v in exact(smallest[None, :], list(budgets)).items()}
    over = [k for k, limit in budgets.items() if values[k] > limit]
    if over:
        reach = ", ".join(f"{k} {format_quantity(k, values[k])}" for k in budgets)
        asked = ", ".join(f"{k} ≤ {format_quantity(k, budgets[k])}" for k in over)
        raise ConfigError(f"no subnet of space {exact.space.name!r} meets the budget {asked}: the smallest subnet "
                          f"(min arch) reaches {reach}")


def smallest_genome(space: SearchSpace, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Genome of the min arch within the (possibly narrowed) bounds."""
    from hwnat.space.arch import min_arch

    width = space.width_mults[int(lo[1])]
    g = encode(space, min_arch(space, width))
    g[0] = lo[0]
    return g
