"""extract(supernet, arch): a pure function returning the static network of one subnet with copied weights."""

from __future__ import annotations

import torch
from torch import nn

from hwnat.models.config import BlockConfig, net_config
from hwnat.models.layers import MBConv
from hwnat.models.mobilenetv3 import MobileNetV3
from hwnat.space.arch import Arch
from hwnat.supernet.dynamic import DynamicBatchNorm2d, DynamicMBConv
from hwnat.supernet.ofa_mbv3 import DynamicBlock, OFAMobileNetV3


def extract(supernet: OFAMobileNetV3, arch: Arch) -> MobileNetV3:
    """Static MobileNetV3 for `arch` whose outputs equal the super-network's in that configuration.

    The super-network is not modified; the result shares no tensors with it and keeps its training mode.
    """
    space = supernet.space
    arch = arch.validate(space)
    with supernet.active(arch):  # validates the width against the super-network
        pass
    cfg = net_config(space, arch)
    model = MobileNetV3(cfg)
    with torch.no_grad():
        _copy_module(model.first_conv, supernet.first_conv)
        _copy_module(model.blocks[0], supernet.blocks[0])
        for s, (start, end) in enumerate(cfg.stage_ranges):
            for j, i in enumerate(range(start, end)):
                src: DynamicBlock = supernet.stage_blocks(s)[j]
                dst = model.blocks[i]
                _copy_mbconv(dst.conv, src.conv, cfg.blocks[i])
                if dst.pointwise is not None:
                    _copy_module(dst.pointwise, src.pointwise)
                if dst.pool_branch is not None:
                    _copy_module(dst.pool_branch, src.pool_branch)
        head = supernet._head(arch.exit_stage(space))
        for name in ("final_expand_layer", "feature_mix_layer", "classifier"):
            _copy_module(getattr(model, name), getattr(head, name))
    return model.train(supernet.training)


def _copy_module(dst: nn.Module, src: nn.Module) -> None:
    dst.load_state_dict({k: v.detach().clone() for k, v in src.state_dict().items()}, strict=True)


def _copy_bn(dst: nn.BatchNorm2d, src: DynamicBatchNorm2d) -> None:
    bn, c = src.bn, dst.num_features
    for name in ("weight", "bias", "running_mean", "running_var"):
        getattr(dst, name).copy_(getattr(bn, name)[:c])
    dst.num_batches_tracked.copy_(bn.num_batches_tracked)
    dst.eps, dst.momentum = bn.eps, bn.momentum


def _copy_mbconv(dst: MBConv, src: DynamicMBConv, cfg: BlockConfig) -> None:
    assert dst.inverted_bottleneck is not None
    ib, dw, pl = src.inverted_bottleneck, src.depth_conv, src.point_linear
    dst.inverted_bottleneck.conv.weight.copy_(ib.conv.active_weight(cfg.cin, cfg.mid))
    _copy_bn(dst.inverted_bottleneck.bn, ib.bn)
    dst.depth_conv.conv.weight.copy_(dw.conv.active_filter(cfg.mid, cfg.kernel))
    _copy_bn(dst.depth_conv.bn, dw.bn)
    if cfg.se:
        rw, rb, ew, eb = dw.se.active_params(cfg.mid)
        fc = dst.depth_conv.se.fc
        fc.reduce.weight.copy_(rw)
        fc.reduce.bias.copy_(rb)
        fc.expand.weight.copy_(ew)
        fc.expand.bias.copy_(eb)
    dst.point_linear.conv.weight.copy_(pl.conv.active_weight(cfg.mid, cfg.cout))
    _copy_bn(dst.point_linear.bn, pl.bn)
