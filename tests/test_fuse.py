"""Folding batch norm into convolutions: same outputs, every BN gone, the super-network untouched."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from hwnat.models.fuse import fold_batchnorm
from hwnat.space import get_space, sample_arch
from hwnat.supernet import OFAMobileNetV3, extract


@pytest.mark.parametrize("variant", ["base", "ee-dense-parallel"])
def test_folded_subnet_matches_and_leaves_the_supernet_alone(variant: str) -> None:
    torch.manual_seed(0)
    space = get_space("mbv3-small-input", variant=variant)
    net = OFAMobileNetV3(space, width_mult=0.5)
    for m in net.modules():  # non-trivial running statistics and affine parameters
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            nn.init.uniform_(m.weight, 0.5, 1.5)
            nn.init.uniform_(m.bias, -0.2, 0.2)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    arch = sample_arch(space, np.random.default_rng(3), width_mult=0.5)
    model = extract(net, arch).eval()
    x = torch.randn(4, 3, arch.resolution, arch.resolution)
    with torch.no_grad():
        expected = model(x)
        folded = fold_batchnorm(model)
        got = folded(x)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    assert torch.allclose(got, expected, atol=1e-4, rtol=1e-4)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
