"""What a report's numbers depend on besides its rows: the reported measure and the sizes of
its resampling (bootstrap over languages and targets, permutations of P6)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crossling.core.settings import Settings, count, one_of, setting
from crossling.similarity.measures import HEADLINE_MEASURE, measure_ids


def registered_measure(name: str, value: Any) -> str:
    """A registered similarity measure (a typo must not silently report another one)."""
    return str(one_of(measure_ids())(name, value))


@dataclass(frozen=True)
class ReportSettings(Settings):
    """``measure``: the similarity measure of the tables and single-measure figures (when the
    rows lack it the headline measure is reported, and the report says so); ``n_boot``: the
    seeded bootstraps of Spearman's ρ over languages and of the robustness fall over targets;
    ``n_perm``: language permutations of the P6 test (exact when fewer suffice)."""

    measure: str = setting(HEADLINE_MEASURE, rule=registered_measure)
    n_boot: int = setting(1000, rule=count(0))
    n_perm: int = setting(100_000, rule=count(1))
