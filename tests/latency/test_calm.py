"""Waiting for a calm host: a measurement at the table's speed is repeated while the host runs slow."""

from __future__ import annotations

import pytest

from hwnat.latency.calm import CalmPolicy, host_slowdown, measure_when_calm, slowdown_record
from hwnat.latency.networks import Interleaved


def timed(slowdown: float | None, scale_ms: float = 2.0) -> Interleaved:
    return Interleaved([], [], scale_ms, None if slowdown is None else scale_ms * slowdown)


class Host:
    """Measurements in turn at the given slowdowns; records attempts and waits."""

    def __init__(self, *slowdowns: float | None) -> None:
        self.slowdowns, self.attempts, self.waits, self.lines = slowdowns, [], [], []

    def measure(self, attempt: int) -> Interleaved:
        self.attempts.append(attempt)
        return timed(self.slowdowns[attempt])

    def run(self, policy: CalmPolicy) -> tuple[Interleaved, list[float]]:
        return measure_when_calm(self.measure, policy, sleep=self.waits.append, notify=self.lines.append)


def test_the_host_slowdown_is_the_references_window_over_the_tables_speed() -> None:
    assert host_slowdown(timed(1.5)) == pytest.approx(1.5)
    assert host_slowdown(timed(None)) is None
    assert host_slowdown(Interleaved([], [], None, 3.0)) is None


def test_a_paired_rows_record_keeps_the_kept_and_every_tries_slowdown() -> None:
    measured, slowdowns = Host(1.6, 1.2).run(CalmPolicy(1.25, 3, 60.0))
    record = slowdown_record(measured, slowdowns)
    assert record["host_slowdown"] == pytest.approx(1.2) and record["host_slowdowns"] == pytest.approx([1.6, 1.2])
    assert slowdown_record(timed(None), []) == {}


def test_a_calm_host_is_measured_once() -> None:
    host = Host(1.1, 2.0)
    measured, slowdowns = host.run(CalmPolicy(1.25, 3, 60.0))
    assert host.attempts == [0] and host.waits == [] and host.lines == []
    assert host_slowdown(measured) == pytest.approx(1.1) and slowdowns == pytest.approx([1.1])


def test_a_slow_host_is_measured_again_after_a_wait_until_calm() -> None:
    host = Host(1.9, 1.5, 1.2, 1.0)
    measured, slowdowns = host.run(CalmPolicy(1.25, 5, 30.0))
    assert host.attempts == [0, 1, 2] and host.waits == [30.0, 30.0]
    assert slowdowns == pytest.approx([1.9, 1.5, 1.2]) and host_slowdown(measured) == pytest.approx(1.2)
    assert "1.90x slower" in host.lines[0] and "measuring again in 30 s" in host.lines[0]


def test_a_host_that_stays_slow_gives_the_calmest_of_the_tries() -> None:
    host = Host(1.9, 1.4, 1.6)
    measured, slowdowns = host.run(CalmPolicy(1.25, 3, 10.0))
    assert host.attempts == [0, 1, 2] and host.waits == [10.0, 10.0]
    assert host_slowdown(measured) == pytest.approx(1.4) and slowdowns == pytest.approx([1.9, 1.4, 1.6])
    assert "keeping the calmest of 3 tries (1.40x)" in host.lines[-1]


def test_an_unpaired_measurement_is_not_repeated() -> None:
    host = Host(None, 1.0)
    measured, slowdowns = host.run(CalmPolicy(1.25, 3, 10.0))
    assert host.attempts == [0] and slowdowns == [] and measured.reference_window_ms is None
