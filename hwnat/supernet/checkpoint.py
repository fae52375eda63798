"""Load OFA's released super-network checkpoints (and hwnat's own) strictly, without executing code."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import torch

from hwnat.errors import CheckpointError, unknown_name
from hwnat.space.presets import get_space
from hwnat.supernet.ofa_mbv3 import OFAMobileNetV3

OFA_SUPERNETS: dict[str, tuple[str, float]] = {
    "ofa_mbv3_d234_e346_k357_w1.0": ("ofa-mbv3", 1.0),
    "ofa_mbv3_d234_e346_k357_w1.2": ("ofa-mbv3", 1.2),
}


def ofa_supernet(name: str, num_classes: int = 1000) -> OFAMobileNetV3:
    """An empty super-network with the layout of one of OFA's released checkpoints."""
    if name not in OFA_SUPERNETS:
        raise CheckpointError(unknown_name("OFA super-network", name, OFA_SUPERNETS))
    space, width = OFA_SUPERNETS[name]
    return OFAMobileNetV3(get_space(space), width, num_classes=num_classes)


def read_state_dict(source: str | os.PathLike[str] | Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A state dict from a file (`weights_only=True`; OFA's {'state_dict': ...} wrapper accepted) or a mapping."""
    if isinstance(source, Mapping):
        state = dict(source)
    else:
        path = Path(source)
        if not path.is_file():
            raise CheckpointError(f"checkpoint {str(path)!r} does not exist")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises many types for corrupt or unsafe files
            raise CheckpointError(f"checkpoint {str(path)!r} cannot be read: {exc}") from exc
    if "state_dict" in state and isinstance(state["state_dict"], Mapping):
        state = dict(state["state_dict"])
    return {k.removeprefix("module."): v for k, v in state.items()}


def load_supernet_weights(net: OFAMobileNetV3, source: str | os.PathLike[str] | Mapping[str, torch.Tensor]) -> None:
    """Load strictly: every key present, none extra, every shape equal, else CheckpointError naming them."""
    state = read_state_dict(source)
    expected = net.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [(k, tuple(state[k].shape), tuple(v.shape)) for k, v in expected.items()
             if k in state and tuple(state[k].shape) != tuple(v.shape)]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing key(s), e.g. {', '.join(missing[:3])}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected key(s), e.g. {', '.join(unexpected[:3])}")
    if wrong:
        k, got, want = wrong[0]
        problems.append(f"{len(wrong)} shape mismatch(es), e.g. {k}: checkpoint {got}, network {want}")
    if problems:
        raise CheckpointError(
            f"checkpoint does not fit the {net.space.name} w{net.width_mult} super-network "
            f"(variant {net.space.variant.name}, {net.space.num_classes} classes): " + "; ".join(problems)
        )
    net.load_state_dict(state, strict=True)
