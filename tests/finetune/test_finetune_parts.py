"""Fine-tuning parts without training: presets and overrides, the optimiser registry, the joint-exits student."""

from __future__ import annotations

import pytest
import torch
from ft_helpers import EE_ARCH

from hwnat.errors import ConfigError
from hwnat.finetune.config import FinetuneConfig, load_config
from hwnat.finetune.optimizers import (
    OPTIMIZERS,
    create_optimizer,
    default_optimizer,
    optimizer_names,
    resolve_optimizer,
)
from hwnat.finetune.presets import PRESETS, preset_names


@pytest.mark.parametrize("preset", preset_names())
def test_presets_hold_natv2_defaults_and_round_trip(preset):
    cfg = load_config(preset)
    assert cfg.lr == 1e-4 and cfg.optimizer == "auto"
    assert cfg.patience <= cfg.max_epochs
    assert FinetuneConfig.from_dict(cfg.to_dict()) == cfg


def test_overrides_apply_and_are_validated():
    cfg = load_config("quick", {"max_epochs": 5, "patience": 2, "lr": 1})
    assert (cfg.max_epochs, cfg.patience, cfg.lr) == (5, 2, 1.0)
    with pytest.raises(ConfigError, match=r"unknown key 'max_epoch'.*did you mean 'max_epochs'.*allowed keys"):
        load_config("quick", {"max_epoch": 5})
    with pytest.raises(ConfigError, match=r"'patience' must be >= 1, got 0"):
        load_config("quick", {"patience": 0})
    with pytest.raises(ConfigError, match=r"'optimizer' = 'adam' is not allowed.*allowed values: 'auto', 'sgd'"):
        load_config("quick", {"optimizer": "adam"})
    with pytest.raises(ConfigError, match=r"unknown fine-tuning preset 'quik' \(did you mean 'quick'\?\)"):
        load_config("quik")
    assert set(PRESETS) == {"smoke", "quick", "paper"}


def test_optimizer_follows_exitness():
    assert default_optimizer(early_exit=False) == "sgd"
    assert default_optimizer(early_exit=True) == "adamw"
    assert resolve_optimizer("auto", False) == "sgd" and resolve_optimizer("auto", True) == "adamw"
    assert resolve_optimizer("sgd", True) == "sgd"
    with pytest.raises(ConfigError, match=r"unknown optimizer 'adam'.*allowed: adamw, auto, sgd"):
        resolve_optimizer("adam", False)


@pytest.mark.parametrize("name", optimizer_names())
def test_every_registered_optimizer_skips_decay_on_bn_and_bias(name):
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Linear(4, 2))
    cfg = load_config("quick", {"weight_decay": 0.1})
    opt = create_optimizer(name, model, cfg)
    assert type(opt).__name__.lower() == name
    decay, no_decay = opt.param_groups
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert {id(p) for p in decay["params"]} == {id(model[0].weight), id(model[2].weight)}
    assert all(g["lr"] == 1e-4 for g in opt.param_groups)
    assert OPTIMIZERS[name].description


def test_joint_exits_student_reproduces_the_supernet_exits(ee_supernet):
    from hwnat.finetune.api import _load_supernet
    from hwnat.finetune.student import JointExits, build_student, exit_stages, subnet_of
    from hwnat.space.genome import parse_arch_id
    from hwnat.training.checkpoint import load_file

    net = _load_supernet(ee_supernet, load_file(ee_supernet))
    arch = parse_arch_id(net.space, EE_ARCH)
    student = build_student(net, arch, joint_exits=True).eval()
    assert isinstance(student, JointExits) and exit_stages(student, 3) == (1, 2, 3)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad(), net.active(arch):
        expected = net.forward_exits(x)[:3]
        outputs = student(x)
        plain = subnet_of(student)(x)
    assert len(outputs) == 3
    for got, want in zip(outputs, expected):  # (torch.testing.assert_close imports torch.distributed: seconds)
        assert float((got - want).abs().max()) <= 1e-5
    assert torch.equal(plain, outputs[-1])
    assert not isinstance(build_student(net, arch, joint_exits=False), JointExits)
