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


@dataclass(frozen=True)
class Sleepy(CellParams):
    """A cell of known cost: it sleeps ``seconds`` (no CPU), writing its pid to
    ``<pids>/<name>.<n>`` first (``n``: the attempt), so a test can kill its worker."""

    name: str = ""
    seconds: float = 0.0
    pids: str = ""

    def label(self) -> str:
        return f"sleepy {self.name}"

    def cost(self) -> float:
        return self.seconds


def sleepy(params: Sleepy, workdir: Any) -> tuple[list[Any], dict[str, Any]]:
    import os
    import time
    from pathlib import Path

    from crossling.results import ScoreRow

    if params.pids:
        folder = Path(params.pids)
        folder.mkdir(parents=True, exist_ok=True)
        attempt = len(list(folder.glob(f"{params.name}.*")))
        (folder / f"{params.name}.{attempt}").write_text(str(os.getpid()))
    time.sleep(params.seconds)
    row = ScoreRow("pos", params.name, "test", "upos_acc", 50.0, 40.0, 60.0, 1, 1, "m", "REF", 0,
                   {})
    return [row], {"name": params.name, "pid": os.getpid()}
