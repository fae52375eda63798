"""Whole-network timing: paired timing against a reference subnet cancels the host's speed regimes."""

from __future__ import annotations

import numpy as np
import pytest

from hwnat.backends.base import CompiledModel
from hwnat.config.targets import TimingSpec
from hwnat.latency import networks
from hwnat.latency.networks import NetworkTiming, time_interleaved, time_paired
from hwnat.space import get_space, mid_arch

TIMING = NetworkTiming(rounds=5, per_round=TimingSpec(warmup=2, min_runs=10, min_time_s=0.0))
X = np.zeros((1, 3, 8, 8), np.float32)


class Machine:
    """Each model call takes the model's time × the machine's current slowdown, which changes whenever a network
    is compiled (speed regimes that last one timing window); calls are logged as (model ms, timed)."""

    def __init__(self, slowdowns: list[float]) -> None:
        self.slowdowns, self.compiles, self.slowdown = slowdowns, 0, 1.0
        self.calls: list[tuple[float, bool]] = []

    def compiled(self, ms: float, network: bool = True) -> CompiledModel:
        if network:
            self.slowdown = self.slowdowns[self.compiles % len(self.slowdowns)]
            self.compiles += 1
        machine = self

        class Model(CompiledModel):
            input_shape = X.shape

            def run(self, x: np.ndarray) -> np.ndarray:
                return x

            def time_calls(self, x: np.ndarray, timing: TimingSpec) -> list[float]:
                machine.calls += [(ms, False)] * timing.warmup + [(ms, True)] * timing.min_runs
                return [ms * 1e-3 * machine.slowdown] * timing.min_runs

        return Model()


def test_time_paired_alternates_bursts_until_both_limits() -> None:
    machine = Machine([1.0])
    net, ref = machine.compiled(2.0, network=False), machine.compiled(1.0, network=False)
    samples, ref_samples = time_paired(net, X, ref, X, TimingSpec(warmup=3, min_runs=4, min_time_s=0.02))
    burst = networks.PAIRED_BURST
    assert sum(samples) >= 0.02 and len(samples) >= 4 and len(samples) == len(ref_samples)
    assert samples == pytest.approx([2e-3] * len(samples)) and ref_samples == pytest.approx([1e-3] * len(samples))
    assert machine.calls[:6] == [(1.0, False)] * 3 + [(2.0, False)] * 3
    one_pair = [(1.0, False)] + [(1.0, True)] * burst + [(2.0, False)] + [(2.0, True)] * burst
    assert machine.calls[6:] == one_pair * (len(samples) // burst)


def test_paired_timing_cancels_speed_regimes_that_plain_timing_keeps() -> None:
    machine = Machine([1.0, 3.0, 1.0, 1.5, 1.0, 2.0, 1.0])
    base = [0.5, 2.0, 4.0]
    loaders = [lambda ms=ms: machine.compiled(ms) for ms in base]
    shapes = [X.shape] * len(base)
    raw, scaled, _, _ = time_interleaved(loaders, shapes, TIMING, progress=False,
                                         reference=lambda: machine.compiled(1.0, network=False))
    plain, _, scale, reference_window = time_interleaved(loaders, shapes, TIMING, progress=False)
    assert scale is None and reference_window is None
    scaled_ms = np.array([s.p10_ms for s in scaled])
    # every window is scaled to the reference's fast-regime speed: exact ratios, one common scale
    assert scaled_ms / scaled_ms[0] == pytest.approx(np.array(base) / base[0])
    # without the reference the slowdowns of each network's windows stay in its numbers
    plain_ms = np.array([s.p10_ms for s in plain])
    assert not np.allclose(plain_ms / plain_ms[0], np.array(base) / base[0], rtol=0.05)
    assert [s.p10_ms for s in raw] != pytest.approx(list(scaled_ms))


def test_the_common_scale_is_the_reference_in_its_fast_regime() -> None:
    """Two fifths of the windows run at full speed, the rest 2× slower: scaled timings are the full-speed ones
    (the median window would have doubled them); the median window is kept as the host's speed."""
    machine = Machine([1.0, 2.0, 2.0, 1.0, 2.0])
    base = [0.5, 2.0, 4.0]
    _, scaled, scale, reference_window = time_interleaved([lambda ms=ms: machine.compiled(ms) for ms in base],
                                        [X.shape] * len(base), TIMING, progress=False,
                                        reference=lambda: machine.compiled(1.0, network=False))
    assert [s.p10_ms for s in scaled] == pytest.approx(base) and scale == pytest.approx(1.0)
    assert reference_window == pytest.approx(2.0)


def test_mid_arch_is_the_middle_of_every_choice() -> None:
    space = get_space("mbv3-small-input")
    arch = mid_arch(space).validate(space)
    assert arch.resolution == 48 and arch.width_mult == 0.75
    assert set(arch.depths) == {3} and {k for ks in arch.kernels for k in ks} == {5}
    assert {e for es in arch.expands for e in es} == {4} and arch.exit is None
