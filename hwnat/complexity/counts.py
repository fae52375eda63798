"""Complexity: the MACs and parameter count of one network."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Complexity:
    """Multiply-accumulates of one forward pass of one image, and the number of parameters."""

    macs: int
    params: int

    def __add__(self, other: Complexity) -> Complexity:
        return Complexity(self.macs + other.macs, self.params + other.params)

    def to_dict(self) -> dict[str, int]:
        return {"macs": self.macs, "params": self.params}
