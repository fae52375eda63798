"""Training presets and TOML configs: merging, validation errors naming the key, phase settings."""

from __future__ import annotations

import pytest

from hwnat.errors import ConfigError
from hwnat.training.config import TrainConfig, load_config
from hwnat.training.presets import PHASE_KINDS, PRESETS, preset_names


@pytest.mark.parametrize("name", preset_names())
def test_every_preset_gives_settings_for_every_phase_kind(name):
    cfg = load_config(name)
    for kind in PHASE_KINDS:
        s = cfg.phase_settings(f"{kind}-1" if kind in ("height", "depth", "expand") else kind, kind)
        assert s.epochs >= 1 and s.lr > 0 and s.subnets_per_step >= 1
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg


def test_paper_preset_follows_ofa_schedule():
    cfg = load_config("paper")
    assert cfg.phase_settings("kernel", "kernel").epochs == 120
    assert cfg.phase_settings("kernel", "kernel").lr == pytest.approx(3e-2)
    d1, d2 = cfg.phase_settings("depth-1", "depth"), cfg.phase_settings("depth-2", "depth")
    assert (d1.epochs, d1.lr, d1.subnets_per_step) == (25, 2.5e-3, 2)
    assert (d2.epochs, d2.lr, d2.warmup_epochs) == (120, 7.5e-3, 5)
    assert cfg.phase_settings("expand-2", "expand").subnets_per_step == 4
    assert (cfg.momentum, cfg.nesterov, cfg.weight_decay, cfg.label_smoothing) == (0.9, True, 3e-5, 0.1)


def test_toml_overrides_preset(tmp_path):
    path = tmp_path / "train.toml"
    path.write_text('preset = "smoke"\n[train]\nbatch_size = 8\nresolutions = [40, 32]\n'
                    '[phases.depth]\nepochs = 3\n[phases.depth-2]\nlr = 0.5\n')
    cfg = load_config("paper", path)
    assert cfg.preset == "smoke" and cfg.batch_size == 8 and cfg.resolutions == (32, 40)
    assert cfg.phase_settings("depth-1", "depth").epochs == 3
    d2 = cfg.phase_settings("depth-2", "depth")
    assert (d2.epochs, d2.lr) == (3, 0.5)


@pytest.mark.parametrize("text, words", [
    ("[train]\nbatch_sise = 3\n", ["train.batch_sise", "batch_size", "allowed keys"]),
    ("[phases.kernal]\nepochs = 1\n", ["phases.kernal", "kernel"]),
    ("[phases.kernel]\nepoch = 1\n", ["phases.kernel.epoch", "epochs"]),
    ("[phases.kernel]\nepochs = -1\n", ["phases.kernel.epochs", ">= 0"]),
    ("[train]\nnesterov = 1\n", ["train.nesterov", "true or false"]),
    ("[train]\nens_kd = \"mean\"\n", ["train.ens_kd", "uniform"]),
    ("[train]\nresolutions = [4]\n", ["train.resolutions"]),
    ("[train]\nval = 1.5\n", ["train.val"]),
    ("surprise = 1\n", ["surprise", "allowed keys"]),
    ('preset = "fast"\n', ["fast", "smoke"]),
    ("[train\n", ["not valid TOML"]),
])
def test_bad_config_names_the_key(tmp_path, text, words):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config("smoke", path)
    for word in words:
        assert word in str(err.value)


def test_missing_config_file_and_unknown_preset(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config("smoke", tmp_path / "none.toml")
    with pytest.raises(ConfigError, match="did you mean 'quick'"):
        load_config("quik")
    assert set(PRESETS) == {"smoke", "quick", "paper"}
