"""A fake cell kind for the store and executor tests: no model, no data."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from crossling.experiments.cell import CellKind, CellParams


@dataclass(frozen=True)
class Fake(CellParams):
    name: str = ""
    fail: bool = False
    sleep: float = 0.0

    def label(self) -> str:
        return f"fake {self.name}"


def fake_kind(run: Callable[..., Any], kind: str = "fake") -> CellKind:
    """A kind that expands to nothing (tests build its cells) and runs ``run``."""
    out: Any = SimpleNamespace(KIND=kind, expand=lambda study, grid: [], run=run)
    return out  # type: ignore[no-any-return]
