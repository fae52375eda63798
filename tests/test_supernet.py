"""The OFAv2 super-network: OFA layout, active-subnet context, extraction parity, sorting, BN recalibration."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from hwnat.errors import CheckpointError, SpaceError
from hwnat.space import Arch, get_space, max_arch, min_arch, sample_archs
from hwnat.space.spec import VARIANT_NAMES
from hwnat.supernet import OFAMobileNetV3, extract, load_supernet_weights, ofa_supernet, read_state_dict, recalibrate_bn
from hwnat.supernet.perturb import perturb_for_parity

SMALL = "mbv3-small-input"


def randomise(net: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    return perturb_for_parity(net, seed)


@pytest.fixture
def layout(shared_dir):
    return json.loads((shared_dir / "reference" / "ofa_mbv3_state_dict_layout.json").read_text())


@pytest.mark.parametrize("width", ["1.0", "1.2"])
def test_ofa_checkpoint_layout_loads_strictly(layout, width, tmp_path):
    name = f"ofa_mbv3_d234_e346_k357_w{width}"
    g = torch.Generator().manual_seed(1)
    synthetic = {
        key: (torch.randint(0, 100, shape, generator=g) if dtype == "int64" else torch.randn(shape, generator=g))
        for key, (shape, dtype) in layout[name].items()
    }
    path = tmp_path / "ofa.pth"
    torch.save({"state_dict": synthetic}, path)
    net = ofa_supernet(name)
    load_supernet_weights(net, path)
    loaded = net.state_dict()
    assert set(loaded) == set(synthetic)
    assert all(torch.equal(loaded[k], synthetic[k]) for k in synthetic)


def test_checkpoint_errors_name_the_problem(layout, tmp_path):
    net = ofa_supernet("ofa_mbv3_d234_e346_k357_w1.0")
    state = {k: torch.zeros(shape) for k, (shape, _) in layout["ofa_mbv3_d234_e346_k357_w1.0"].items()}
    state.pop("classifier.linear.bias")
    state["extra.weight"] = torch.zeros(1)
    state["first_conv.conv.weight"] = torch.zeros(1, 2, 3, 3)
    with pytest.raises(CheckpointError) as err:
        load_supernet_weights(net, state)
    msg = str(err.value)
    assert "classifier.linear.bias" in msg and "extra.weight" in msg and "first_conv.conv.weight" in msg
    with pytest.raises(CheckpointError, match="does not exist"):
        read_state_dict(tmp_path / "missing.pth")
    (tmp_path / "bad.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot be read"):
        read_state_dict(tmp_path / "bad.pth")
    with pytest.raises(CheckpointError, match="did you mean"):
        ofa_supernet("ofa_mbv3_d234_e346_k357_w1.1")


def test_checkpoint_loading_never_runs_code(tmp_path):
    class Payload:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"state_dict": {"x": Payload()}}, tmp_path / "evil.pth")
    with pytest.raises(CheckpointError):
        read_state_dict(tmp_path / "evil.pth")


@pytest.mark.parametrize("variant", list(VARIANT_NAMES))
def test_extract_matches_supernet(variant):
    """≥ 50 random archs per variant: the static subnet equals the super-network in eval mode (≤ 1e-5)."""
    space = get_space(SMALL, variant=variant)
    net = randomise(OFAMobileNetV3(space, 0.5)).eval()
    archs = sample_archs(space, 50, seed=7, width_mult=0.5) + [max_arch(space, 0.5), min_arch(space, 0.5)]
    g = torch.Generator().manual_seed(3)
    for arch in archs:
        x = torch.randn(2, 3, arch.resolution, arch.resolution, generator=g)
        with torch.no_grad(), net.active(arch):
            expected = net(x)
        static = extract(net, arch).eval()
        with torch.no_grad():
            got = static(x)
        assert got.shape == (2, space.num_classes)
        assert (got - expected).abs().max().item() <= 1e-5, arch
        assert not any(type(m).__name__.startswith("Dynamic") for m in static.modules())


def test_extract_on_ofa_space_at_imagenet_resolution():
    space = get_space("ofa-mbv3")
    net = randomise(OFAMobileNetV3(space, 1.2)).eval()
    for arch in sample_archs(space, 3, seed=1, width_mult=1.2):
        arch = replace(arch, resolution=128)
        x = torch.randn(1, 3, 128, 128)
        with torch.no_grad(), net.active(arch):
            expected = net(x)
        with torch.no_grad():
            assert (extract(net, arch).eval()(x) - expected).abs().max().item() <= 1e-5


def test_extract_is_pure():
    space = get_space(SMALL, variant="ee-dense-parallel")
    net = randomise(OFAMobileNetV3(space, 0.5))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    active_before = net.active_arch
    arch = sample_archs(space, 1, seed=5, width_mult=0.5)[0]
    static = extract(net, arch)
    assert net.active_arch == active_before
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    super_ptrs = {t.untyped_storage().data_ptr() for t in net.state_dict().values()}
    assert not any(t.untyped_storage().data_ptr() in super_ptrs for t in static.state_dict().values())
    with torch.no_grad():
        next(static.parameters()).add_(1.0)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


def test_active_context_restores_and_sampling_is_seeded():
    space = get_space(SMALL, variant="ee-base")
    net = OFAMobileNetV3(space, 0.5)
    start = net.active_arch
    arch = min_arch(space, 0.5)
    with net.active(arch):
        assert net.active_arch == arch
        with pytest.raises(RuntimeError):
            with net.active(max_arch(space, 0.5)):
                raise RuntimeError("boom")
        assert net.active_arch == arch
    assert net.active_arch == start
    a = [net.sample_active_subnet(np.random.default_rng(11)) for _ in range(2)]
    assert a[0] == a[1]
    many = {net.sample_active_subnet(np.random.default_rng(s)) for s in range(20)}
    assert len(many) > 15


def test_width_mismatch_and_invalid_arch_are_errors():
    space = get_space(SMALL)
    net = OFAMobileNetV3(space, 0.5)
    with pytest.raises(SpaceError, match="width multiplier 1.0"):
        net.set_active_subnet(max_arch(space, 1.0))
    bad = Arch(33, 0.5, ((3, 3),) * 5, ((3, 3),) * 5)
    with pytest.raises(SpaceError, match="resolution 33"):
        extract(net, bad)
    with pytest.raises(SpaceError, match="width multiplier 0.6"):
        OFAMobileNetV3(space, 0.6)


def test_kernel_transform_starts_as_centre_crop():
    space = get_space(SMALL)
    net = OFAMobileNetV3(space, 0.5)
    dw = net.blocks[1].conv.depth_conv.conv
    full = dw.conv.weight
    assert torch.equal(dw.active_filter(8, 3), full[:8, :, 2:5, 2:5])
    assert torch.equal(dw.active_filter(8, 5), full[:8, :, 1:6, 1:6])
    with torch.no_grad():
        getattr(dw, "5to3_matrix").mul_(2.0)
    assert torch.allclose(dw.active_filter(8, 3), 2 * full[:8, :, 2:5, 2:5])
    assert torch.equal(dw.active_filter(8, 5), full[:8, :, 1:6, 1:6])


@pytest.mark.parametrize("variant", ["base", "ee-dense-parallel"])
def test_channel_sorting_preserves_every_full_width_function(variant):
    torch.manual_seed(0)
    space = get_space(SMALL, variant=variant)
    net = randomise(OFAMobileNetV3(space, 0.5)).eval()
    arch = replace(max_arch(space, 0.5), resolution=32)
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad(), net.active(arch):
        before = net(x)
        net.sort_channels(expand_stage=0)
        after = net(x)
    assert (before - after).abs().max() <= 1e-4 * (1 + before.abs().max())  # summation order changes
    importance = net.blocks[1].conv.point_linear.conv.conv.weight.abs().sum(dim=(0, 2, 3))
    assert torch.all(importance[:-1] >= importance[1:])


def test_channel_sorting_keeps_expand_groups():
    space = get_space(SMALL)
    net = randomise(OFAMobileNetV3(space, 0.5))
    block = net.blocks[1].conv
    widths = [block.mid_channels(e) for e in space.expand_ratios]  # 3, 4, 6 → 48, 64, 96 mid channels at cin 16
    with torch.no_grad():
        block.point_linear.conv.conv.weight.copy_(torch.randn_like(block.point_linear.conv.conv.weight))
    weight = block.point_linear.conv.conv.weight.clone()
    net.sort_channels(expand_stage=1)  # keep the e ∈ {4, 6} groups apart
    sorted_w = block.point_linear.conv.conv.weight
    kept = {tuple(c.flatten().tolist()) for c in sorted_w[:, : widths[1]].transpose(0, 1)}
    original = {tuple(c.flatten().tolist()) for c in weight[:, : widths[1]].transpose(0, 1)}
    assert kept == original


def test_recalibrate_bn_estimates_exact_batch_statistics():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 1, bias=False), torch.nn.BatchNorm2d(4)).eval()
    batches = [torch.randn(8, 3, 4, 4) * 3 + 1 for _ in range(5)]
    used = recalibrate_bn(model, batches, max_batches=4)
    assert used == 4 and not model.training and model[1].momentum == 0.1
    with torch.no_grad():
        feats = torch.stack([model[0](b).mean(dim=(0, 2, 3)) for b in batches[:4]])
    assert torch.allclose(model[1].running_mean, feats.mean(0), atol=1e-5)


def test_recalibrated_subnet_of_supernet_differs_from_uncalibrated():
    space = get_space(SMALL)
    net = randomise(OFAMobileNetV3(space, 0.5))
    arch = replace(min_arch(space, 0.5), resolution=32)
    static = extract(net, arch)
    before = static.first_conv.bn.running_mean.clone()
    recalibrate_bn(static, [(torch.randn(4, 3, 32, 32), torch.zeros(4))])
    assert not torch.allclose(before, static.first_conv.bn.running_mean)
    assert torch.equal(net.first_conv.bn.running_mean, extract(net, arch).first_conv.bn.running_mean)


def test_forward_exits_gives_every_exit():
    space = get_space(SMALL, variant="ee-dense")
    net = randomise(OFAMobileNetV3(space, 0.5)).eval()
    arch = replace(max_arch(space, 0.5), resolution=32)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad(), net.active(arch):
        exits = net.forward_exits(x)
        last = net(x)
    assert len(exits) == space.num_stages
    assert torch.allclose(exits[-1], last)
    for stage in range(1, space.num_stages):
        with torch.no_grad(), net.active(replace(arch, exit=stage)):
            assert torch.allclose(net(x), exits[stage - 1], atol=1e-6)
