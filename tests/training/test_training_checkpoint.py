"""Checkpoint files: atomic writes that keep the previous file, weights_only loading, identity checks, RNG state."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from hwnat.errors import CheckpointError
from hwnat.training import checkpoint as ckpt


def test_atomic_save_keeps_previous_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    ckpt.atomic_save({"a": torch.ones(2)}, path, keep_previous=True)
    ckpt.atomic_save({"a": torch.full((2,), 2.0)}, path, keep_previous=True)
    assert torch.equal(ckpt.load_file(tmp_path / "previous.pt")["a"], torch.ones(2))

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken)
    with pytest.raises(OSError, match="disk full"):
        ckpt.atomic_save({"a": torch.zeros(2)}, path, keep_previous=True)
    assert torch.equal(ckpt.load_file(path)["a"], torch.full((2,), 2.0))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt", "previous.pt"]


def test_corrupt_checkpoint_names_the_file_and_the_good_one(tmp_path):
    good = tmp_path / "previous.pt"
    ckpt.atomic_save({"a": torch.ones(1)}, good)
    bad = tmp_path / "last.pt"
    bad.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(CheckpointError) as err:
        ckpt.load_file(bad)
    assert str(bad) in str(err.value) and str(good) in str(err.value)
    assert good.exists() and bad.exists()


def test_loading_never_runs_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "evil.pt"
    torch.save({"x": Evil()}, path)
    with pytest.raises(CheckpointError, match="cannot be read"):
        ckpt.load_file(path)


def test_rng_state_round_trips_through_weights_only(tmp_path):
    state = ckpt.rng_state()
    expected = (random.random(), np.random.random(), torch.rand(1))
    ckpt.atomic_save({"rng": state}, tmp_path / "r.pt")
    ckpt.set_rng_state(ckpt.load_file(tmp_path / "r.pt")["rng"])
    assert (random.random(), np.random.random()) == expected[:2] and torch.equal(torch.rand(1), expected[2])


def test_identity_checks(tiny_space, tmp_path):
    path = tmp_path / "c.pt"
    data = ckpt.space_identity(tiny_space, 1.0)
    assert ckpt.check_identity(data, tiny_space, 1.0, path) is False
    other = tiny_space.with_variant("ee-dense")
    with pytest.raises(CheckpointError) as err:
        ckpt.check_identity(data, other, 1.0, path)
    assert tiny_space.fingerprint in str(err.value) and other.fingerprint in str(err.value)
    assert "ee-dense" in str(err.value)
    with pytest.raises(CheckpointError, match="10-class head but the dataset has 3 classes"):
        ckpt.check_identity(data, tiny_space.with_classes(3), 1.0, path)
    assert ckpt.check_identity(data, tiny_space.with_classes(3), 1.0, path, new_head=True) is True
    assert ckpt.is_head_key("classifier.linear.weight") and ckpt.is_head_key("exits.0.classifier.linear.bias")
    assert not ckpt.is_head_key("exits.0.feature_mix_layer.conv.weight")
