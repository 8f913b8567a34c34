"""The per-sentence counts a score is the ratio of, and their compact text form."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class SentenceCounts:
    """One score's per-sentence numerators and denominators, in the evaluated set's order;
    ``value = scale * sum(num) / sum(den)``."""

    num: tuple[float, ...]
    den: tuple[float, ...]
    scale: float

    def __post_init__(self) -> None:
        if len(self.num) != len(self.den):
            raise ValueError(f"{len(self.num)} numerators but {len(self.den)} denominators")

    def value(self, zero_division: float = math.nan) -> float:
        """The corpus ratio, the way `crossling.training.metrics` computes it."""
        total = math.fsum(self.den)
        return self.scale * math.fsum(self.num) / total if total > 0 else zero_division


def pack_values(values: Sequence[float]) -> str:
    """``values`` as one compact line (shortest round-tripping form: ``3`` for 3.0)."""
    return ",".join(str(int(v)) if float(v).is_integer() else repr(float(v)) for v in values)


def unpack_values(text: str) -> tuple[float, ...]:
    """The values `pack_values` packed."""
    return tuple(float(v) for v in text.split(",")) if text else ()
