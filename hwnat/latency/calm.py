"""Waiting for a calm host: a measurement at the table's speed is repeated while the host runs much slower than
when the latency table was calibrated.

Paired timing scales a network by its reference subnet's speed in the same window, but on the 2-core VMs the
host has slow spells lasting minutes (1.4-2x slower than the table) in which the subnets slow down more than
the reference does, so even scaled timings come out high and a budget check chooses too small a subnet (README,
the CIFAR-10 headline). The reference's own speed says when that happens: its median window p10 over the table's
reference speed is the host's slowdown."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

log = logging.getLogger(__name__)


class ReferenceTimed(Protocol):
    """A paired measurement: the speed it was scaled to and the reference's median window p10, in ms."""

    @property
    def scale_ms(self) -> float | None: ...

    @property
    def reference_window_ms(self) -> float | None: ...


Measured = TypeVar("Measured", bound=ReferenceTimed)


@dataclass(frozen=True)
class CalmPolicy:
    """Accept a measurement whose host slowdown is at most `slowdown`; else wait `wait_s` seconds and measure
    again, at most `tries` measurements in all, keeping the calmest."""

    slowdown: float = 1.25
    tries: int = 3
    wait_s: float = 60.0


def host_slowdown(measured: ReferenceTimed) -> float | None:
    """How much slower than at the table's calibration the host ran during a paired measurement scaled to the
    table's speed (None when it was not paired)."""
    if measured.reference_window_ms is None or not measured.scale_ms:
        return None
    return measured.reference_window_ms / measured.scale_ms


def slowdown_record(measured: ReferenceTimed, slowdowns: list[float]) -> dict[str, Any]:
    """The fields a row of a paired measurement keeps about the host: the kept try's `host_slowdown` and every
    try's `host_slowdowns` (nothing when it was not paired)."""
    slowdown = host_slowdown(measured)
    return {} if slowdown is None else {"host_slowdown": slowdown, "host_slowdowns": list(slowdowns)}


def measure_when_calm(measure: Callable[[int], Measured], policy: CalmPolicy, *,
                      sleep: Callable[[float], None] = time.sleep,
                      notify: Callable[[str], None] | None = None) -> tuple[Measured, list[float]]:
    """Call `measure(attempt)` (attempt 0, 1, ...) until the host's slowdown is within the policy or its tries
    run out, waiting between tries; returns the calmest measurement and every attempt's slowdown (an unpaired
    measurement counts as calm)."""
    calmest: tuple[float, Measured] | None = None
    slowdowns: list[float] = []
    for attempt in range(policy.tries):
        if attempt:
            sleep(policy.wait_s)
        measured = measure(attempt)
        slowdown = host_slowdown(measured)
        if slowdown is None:
            return measured, slowdowns
        slowdowns.append(slowdown)
        if calmest is None or slowdown < calmest[0]:
            calmest = slowdown, measured
        if slowdown <= policy.slowdown:
            break
        line = (f"the host ran {slowdown:.2f}x slower than the table's calibration (more than {policy.slowdown:g}x)"
                + (f"; measuring again in {policy.wait_s:g} s" if attempt + 1 < policy.tries
                   else f"; keeping the calmest of {policy.tries} tries ({min(slowdowns):.2f}x)"))
        log.info(line)
        if notify is not None:
            notify(line)
    assert calmest is not None
    return calmest[1], slowdowns
