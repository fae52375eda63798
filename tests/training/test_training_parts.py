"""Optimiser groups, the warm-up cosine schedule, distillation losses, ENS-KD weights and the frozen teacher."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from hwnat.space.arch import max_arch
from hwnat.supernet import OFAMobileNetV3
from hwnat.training.batches import ShardedLoader
from hwnat.training.distill import (
    build_teacher,
    distillation_loss,
    ens_weights,
    ensemble_target,
    soft_cross_entropy,
)
from hwnat.training.optim import WarmupCosine, make_optimizer


def test_no_weight_decay_on_bn_and_bias(tiny_space):
    net = OFAMobileNetV3(tiny_space)
    opt = make_optimizer(net, 0.1, 0.9, True, 1e-4)
    decay, no_decay = opt.param_groups
    assert decay["weight_decay"] == 1e-4 and no_decay["weight_decay"] == 0.0 and opt.defaults["nesterov"]
    names = {id(p): n for n, p in net.named_parameters()}
    assert all(names[id(p)].endswith(".weight") or "matrix" in names[id(p)] for p in decay["params"])
    assert any(names[id(p)].endswith("bn.bn.weight") for p in no_decay["params"])
    assert all(not names[id(p)].endswith("bias") for p in decay["params"])
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(net.parameters()))


def test_warmup_cosine_per_step():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = WarmupCosine(opt, 0.4, total_steps=10, warmup_steps=2)
    lrs = []
    for _ in range(10):
        lrs.append(opt.param_groups[0]["lr"])
        sched.step()
    assert lrs[:2] == pytest.approx([0.2, 0.4])
    assert lrs[2] == pytest.approx(0.4) and lrs[-1] == pytest.approx(0.2 * (1 + math.cos(math.pi * 7 / 8)))
    again = WarmupCosine(opt, 0.4, 10, 2)
    again.load_state_dict(sched.state_dict())
    assert opt.param_groups[0]["lr"] == pytest.approx(0.0)


def test_losses():
    logits, labels = torch.randn(4, 5), torch.tensor([0, 1, 2, 3])
    one_hot = F.one_hot(labels, 5).float()
    assert soft_cross_entropy(logits, one_hot) == pytest.approx(float(F.cross_entropy(logits, labels)), rel=1e-6)
    soft = F.softmax(torch.randn(4, 5), 1)
    expected = F.cross_entropy(logits, labels, label_smoothing=0.1) + 0.5 * soft_cross_entropy(logits, soft)
    assert distillation_loss(logits, labels, soft, 0.5, 0.1) == pytest.approx(float(expected))
    assert distillation_loss(logits, labels, None, 0.5, 0.0) == pytest.approx(float(F.cross_entropy(logits, labels)))


def test_ens_kd_weights():
    assert ens_weights("uniform", (3, 4, 5), 1) == pytest.approx({3: 1 / 3, 4: 1 / 3, 5: 1 / 3})
    assert ens_weights("up-to-student", (3, 4, 5), 4) == pytest.approx({3: 0.5, 4: 0.5})
    assert ens_weights("up-to-student", (3, 4, 5), 2) == {3: 1.0}
    assert ens_weights("linear", (4, 5), 5) == pytest.approx({4: 4 / 9, 5: 5 / 9})
    assert ens_weights("uniform", (5,), 2) == {5: 1.0}
    a, b = torch.randn(2, 3), torch.randn(2, 3)
    assert torch.allclose(ensemble_target({1: a, 2: b}, {1: 0.25, 2: 0.75}), F.softmax(0.25 * a + 0.75 * b, 1))


@pytest.mark.parametrize("variant, exits, all_exits", [("base", (3,), False), ("ee-base", (2, 3), True)])
def test_teacher_is_frozen_max_subnet(tiny_space, variant, exits, all_exits):
    sp = tiny_space.with_variant(variant)
    net = OFAMobileNetV3(sp)
    batches = [torch.rand(8, 3, 24, 24) for _ in range(2)]
    teacher = build_teacher(sp, 1.0, net.state_dict(), exits, batches, torch.device("cpu"))
    assert not teacher.module.training and not any(p.requires_grad for p in teacher.module.parameters())
    x = torch.rand(4, 3, 24, 24)
    out = teacher.exit_logits(x)
    assert sorted(out) == sorted(exits if all_exits else (3,))
    assert all(v.shape == (4, 10) for v in out.values())
    net.eval()
    with net.active(max_arch(sp)):
        assert not torch.allclose(net(x), out[3])  # BN statistics were recalibrated, not the supernet's own
    target = teacher.soft_target(out, "uniform", 3)
    assert torch.allclose(target.sum(1), torch.ones(4))


def test_sharded_loader_partitions_by_rank():
    from hwnat.data import digits_dataset

    ds = digits_dataset(8).subset(range(50))
    shards = [ShardedLoader(ds, batch_size=5, transform=None, seed=1, rank=r, world_size=2) for r in (0, 1)]
    a, b = shards[0].indices(3), shards[1].indices(3)
    assert len(a) == len(b) == 25 and not set(a) & set(b) and set(a) | set(b) == set(range(50))
    assert list(shards[0].indices(3)) == list(a) and list(shards[0].indices(4)) != list(a)
    assert len(shards[0]) == 5
