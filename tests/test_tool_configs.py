"""The config files under tools/configs load and validate: the runs the README quotes can be repeated as written."""

from __future__ import annotations

from pathlib import Path

CONFIGS = Path(__file__).resolve().parents[1] / "tools" / "configs"


def test_the_headline_build_config_sizes_the_fine_tuning() -> None:
    from hwnat.pipeline.build_config import build_settings

    preset, settings = build_settings("paper", CONFIGS / "headline-cpu.toml")
    assert preset == "quick" and settings["overrides"]["finetune"] == {"max_epochs": 2, "patience": 1}
    assert settings["timing"] == "table-speed" and (settings["calm_tries"], settings["calm_wait_s"]) == (6, 120)
    assert settings["rounds"] == 9 and settings["headroom"] == 0.1


def test_the_weight_decay_probe_trains_only_the_teacher() -> None:
    from hwnat.training.config import load_config

    cfg, quick = load_config("quick", CONFIGS / "teacher-wd5e-4.toml"), load_config("quick")
    assert cfg.weight_decay == 5e-4 and quick.weight_decay != 5e-4
    assert cfg.phases["teacher"] == quick.phases["teacher"]  # the quick preset's teacher schedule, unchanged
    assert all(cfg.phases[kind]["epochs"] == 0 for kind in ("kernel", "level", "height", "depth", "expand"))
