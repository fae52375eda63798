"""SearchConfig: every NAT/NATv2 policy as a field; algorithm presets (nat, natv2) and size presets."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hwnat.errors import ConfigError, unknown_name
from hwnat.search.objectives import check_objectives, parse_budgets


@dataclass(frozen=True)
class SearchConfig:
    """One search. Policies are names from registries, so an ablation is a field change."""

    algorithm: str = "natv2"  # label of the policy preset the fields came from
    objectives: tuple[str, ...] = ("error", "latency")
    budgets: dict[str, float] = field(default_factory=dict)
    init: str = "natv2"  # nat | natv2 | uniform
    preprocess_factor: int = 10  # NATv2: evaluate factor × archive_size at start, keep the best; 0/1 = off
    archive_policy: str = "fixed"  # grow (NAT) | fixed (NATv2)
    archive_size: int = 300
    predictor: str = "lightgbm"  # lightgbm | rbf | adaptive | mlp | gp | cart | ridge
    predictor_options: dict[str, Any] = field(default_factory=dict)
    pop_size: int = 100
    generations: int = 20
    candidates: int = 8  # K, subnets evaluated per iteration
    selection: str = "gap"  # gap | random
    iterations: int = 30
    eval_batch: int = 64  # genomes per evaluator call (and per archive.jsonl flush)
    adapt: bool = False  # supernet adaptation (NAT's online transfer): needs an Adapter (hwnat.search.adapt)
    adapt_top_n: int = 100  # the gene distribution comes from the archive's top-N by survival
    adapt_epochs: int = 1  # epochs of the training split per adaptation round
    adapt_steps: int = 0  # cap on steps per adaptation epoch (0 = the whole split)
    adapt_lr: float = 0.0025  # peak learning rate for the run's lr_reference_batch images (cosine, no warm-up)
    adapt_subnets: int = 1  # subnets per step
    adapt_kd_ratio: float = 1.0  # KD from the maximal subnet of the weights the round starts from
    seed: int = 0
    width_mult: float | None = None
    resolutions: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "objectives", check_objectives(self.objectives))
        object.__setattr__(self, "budgets", parse_budgets(self.budgets))
        if self.resolutions is not None:
            object.__setattr__(self, "resolutions", tuple(int(r) for r in self.resolutions))
        for name in ("archive_size", "pop_size", "generations", "candidates", "iterations", "eval_batch",
                     "adapt_top_n", "adapt_epochs", "adapt_subnets"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < (0 if name == "iterations" else 1):
                raise ConfigError(f"search setting {name} must be a positive integer, got {value!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"search seed must be a non-negative integer, got {self.seed!r}")
        if isinstance(self.adapt_steps, bool) or not isinstance(self.adapt_steps, int) or self.adapt_steps < 0:
            raise ConfigError(f"search setting adapt_steps must be an integer ≥ 0, got {self.adapt_steps!r}")
        for name in ("adapt_lr", "adapt_kd_ratio"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ConfigError(f"search setting {name} must be a number ≥ 0, got {value!r}")
        if self.preprocess_factor < 0:
            raise ConfigError(f"preprocess_factor must be ≥ 0, got {self.preprocess_factor}")
        if self.archive_size < 4:
            raise ConfigError(f"archive_size must be ≥ 4 (min and max archs plus samples), got {self.archive_size}")
        from hwnat.search.archive import create_policy
        from hwnat.search.operators import create_init
        from hwnat.search.predictors import list_predictors
        from hwnat.search.selection import create_selector

        create_init(self.init)
        create_policy(self.archive_policy)
        create_selector(self.selection)
        if self.predictor not in list_predictors():
            raise ConfigError(unknown_name("predictor", self.predictor, list_predictors()))

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["objectives"] = list(self.objectives)
        d["resolutions"] = None if self.resolutions is None else list(self.resolutions)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SearchConfig:
        d = dict(d)
        d["objectives"] = tuple(d.get("objectives", ("error", "latency")))
        if d.get("resolutions") is not None:
            d["resolutions"] = tuple(d["resolutions"])
        return cls(**d)


ALGORITHMS: dict[str, dict[str, Any]] = {
    "natv2": {"init": "natv2", "preprocess_factor": 10, "archive_policy": "fixed", "predictor": "lightgbm"},
    # NAT adapts the super-network every iteration (its online transfer); NATv2 does not (adapt=True turns it on)
    "nat": {"init": "nat", "preprocess_factor": 0, "archive_policy": "grow", "predictor": "adaptive",
            "adapt": True},
}

# Adaptation sizes apply only when adapt is on. paper: 5 epochs per iteration (NAT's setting, as recalled from
# the paper, not checked against its code); quick and smoke cap the steps for a 2-core CPU.
PRESETS: dict[str, dict[str, Any]] = {
    "smoke": {"archive_size": 16, "pop_size": 16, "generations": 3, "candidates": 4, "iterations": 2,
              "preprocess_factor": 2, "adapt_epochs": 1, "adapt_steps": 2},
    "quick": {"archive_size": 100, "pop_size": 50, "generations": 10, "candidates": 8, "iterations": 10,
              "preprocess_factor": 3, "adapt_epochs": 1, "adapt_steps": 20},
    "paper": {"archive_size": 300, "pop_size": 100, "generations": 20, "candidates": 8, "iterations": 30,
              "adapt_epochs": 5, "adapt_steps": 0},
}


def make_config(preset: str = "quick", algorithm: str = "natv2", **overrides: Any) -> SearchConfig:
    """Algorithm policies, then the size preset, then explicit overrides (unknown fields: did-you-mean)."""
    if algorithm not in ALGORITHMS:
        raise ConfigError(unknown_name("algorithm", algorithm, ALGORITHMS))
    if preset not in PRESETS:
        raise ConfigError(unknown_name("search preset", preset, PRESETS))
    fields = {f.name for f in dataclasses.fields(SearchConfig)}
    for key in overrides:
        if key not in fields:
            raise ConfigError(unknown_name("search setting", key, fields))
    values: dict[str, Any] = {"algorithm": algorithm, **ALGORITHMS[algorithm]}
    preset_values = dict(PRESETS[preset])
    if ALGORITHMS[algorithm]["preprocess_factor"] == 0:
        preset_values.pop("preprocess_factor", None)
    values.update(preset_values)
    values.update({k: v for k, v in overrides.items() if v is not None})
    return SearchConfig(**values)


def preset_names() -> list[str]:
    return sorted(PRESETS)
