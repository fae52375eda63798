"""`hwnat build --config FILE`: the sizes of every stage from a TOML file, validated before any work starts.

    preset = "quick"              # optional: the build preset the tables below adjust (wins over --preset)
    [build]                       # candidates, rounds, calibrate, val_images, headroom, timing, calm_* (BUILD_PRESETS')
    candidates = 3
    [supernet.train]              # hwnat train-supernet --config's [train] and [phases.NAME] tables
    threads = 2
    [supernet.phases.teacher]
    epochs = 2
    [search]                      # search settings (hwnat search --help lists them); not the build's own
    iterations = 4
    [finetune]                    # fine-tuning settings (max_epochs, patience, lr, ...)
    max_epochs = 2
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hwnat.config.fields import Field, check_table
from hwnat.errors import ConfigError, unknown_name
from hwnat.pipeline.request import BUILD_PRESETS, TIMING_MODES

STAGE_TABLES = ("supernet", "search", "finetune")  # the table naming each stage's overrides
STAGE_KEYS = {"supernet": "train", "search": "search", "finetune": "finetune"}  # ... and its key in the settings
BUILD_FIELDS = {"candidates": Field(int, None, min=1), "rounds": Field(int, None, min=1),
                "calibrate": Field(int, None, min=1), "val_images": Field(int, None, min=0),
                "headroom": Field(float, None, min=0.0, max=0.5), "timing": Field(str, None, choices=TIMING_MODES),
                "calm_slowdown": Field(float, None, min=1.0), "calm_tries": Field(int, None, min=1),
                "calm_wait_s": Field(float, None, min=0.0)}
# Search settings a build derives from its own flags and the super-network; a config may not set them.
SEARCH_SET_BY_BUILD = {"algorithm": "NATv2", "objectives": "error and latency", "budgets": "--budget",
                       "seed": "--seed", "width_mult": "the super-network", "resolutions": "the super-network"}


def build_settings(preset: str, path: str | Path | None) -> tuple[str, dict[str, Any]]:
    """The build preset (the file's `preset` key wins over `preset`) and the sizes of every stage: the preset's,
    adjusted by the file at `path` (None: no file), all validated."""
    config = read_build_config(path) if path is not None else {}
    preset = config.get("preset", preset)
    if preset not in BUILD_PRESETS:
        raise ConfigError(f"--preset: {unknown_name('build preset', preset, BUILD_PRESETS)}")
    return preset, apply_build_config(BUILD_PRESETS[preset], config, path or "")


def read_build_config(path: str | Path) -> dict[str, Any]:
    """The file's raw tables, checked for layout: {"preset"?, "build"?, "supernet"?, "search"?, "finetune"?}."""
    file = Path(path)
    source = f"--config {str(file)!r}"
    try:
        data = tomllib.loads(file.read_text())
    except FileNotFoundError as exc:
        raise ConfigError(f"{source} does not exist") from exc
    except IsADirectoryError as exc:
        raise ConfigError(f"{source} is a directory, not a TOML file") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{source} is not valid TOML: {exc}") from exc
    check_table(data, {"preset": Field(str, None, choices=tuple(BUILD_PRESETS))}, source=source,
                tables=("build", *STAGE_TABLES))
    check_table(data.get("build", {}), BUILD_FIELDS, source=source, prefix="build.")
    for table in STAGE_TABLES:
        if not isinstance(data.get(table, {}), Mapping):
            raise ConfigError(f"{source}: key {table!r} must be a table, got {data[table]!r}")
    for key, name in SEARCH_SET_BY_BUILD.items():
        if key in data.get("search", {}):
            raise ConfigError(f"{source}: key 'search.{key}' is set by the build ({name}), not by a config file")
    return data


def apply_build_config(settings: dict[str, Any], config: Mapping[str, Any], path: str | Path) -> dict[str, Any]:
    """`settings` (a build preset's) with the file's [build] values and its stage tables as `overrides`, each
    validated against its stage's preset now, so a bad key fails before any stage runs."""
    from hwnat.finetune.config import load_config as finetune_config
    from hwnat.search.config import make_config
    from hwnat.training.config import load_config as train_config

    source = f"--config {str(path)!r}"
    out = {**settings, **config.get("build", {})}
    overrides = {table: dict(config[table]) for table in STAGE_TABLES if table in config}
    checks = {"supernet": lambda o: train_config(out["train"], overrides=o),
              "search": lambda o: make_config(out["search"], "natv2", **o),
              "finetune": lambda o: finetune_config(out["finetune"], o)}
    for table, values in overrides.items():
        try:
            checks[table](values)
        except ConfigError as exc:
            raise ConfigError(f"{source} [{table}]: {exc}") from exc
    out["overrides"] = {STAGE_KEYS[table]: values for table, values in overrides.items()}
    return out


def merge_overrides(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """`base` updated by `top`, table by table (a key of `top` wins; nested tables merge)."""
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge_overrides(out[key], value)
        else:
            out[key] = value
    return out
