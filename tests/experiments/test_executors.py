from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from crossling.experiments import cells
from crossling.experiments.executors import run_local, run_ray
from crossling.experiments.store import ResultStore
from crossling.experiments.study import Cell
from crossling.results import ScoreRow


def _fake(params: dict[str, Any], workdir: Path) -> tuple[list[ScoreRow], dict[str, Any]]:
    if params.get("fail"):
        raise ValueError("boom")
    row = ScoreRow("pos", params["name"], "test", "upos_acc", 50.0, 40.0, 60.0, 1, 1, "m",
                   "REF", 0, {})
    return [row], {"name": params["name"]}


@pytest.fixture(autouse=True)
def _register_fake(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(cells.RUNNERS, "fake", _fake)


def _grid() -> list[Cell]:
    return [Cell("a", "fake", {"name": "a"}), Cell("b", "fake", {"name": "b", "fail": True}),
            Cell("c", "fake", {"name": "c"}, depends_on=("a",)),
            Cell("d", "fake", {"name": "d"}, depends_on=("b",))]


def test_local_executor_dependencies_and_failures(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "s.sqlite")
    grid = _grid()
    store.add_cells("s", grid)
    counts = run_local(grid, store, tmp_path / "w", progress=False)
    assert counts == {"done": 2, "failed": 1, "pending": 1}  # d waits on failed b
    failed = next(c for c in store.cells() if c["status"] == "failed")
    assert failed["error"].startswith("ValueError: boom")
    assert run_local(grid, store, tmp_path / "w", progress=False) == counts  # nothing redone


@pytest.mark.slow
def test_ray_executor_on_a_local_instance(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    store = ResultStore(tmp_path / "s.sqlite")
    grid = [c for c in _grid() if c.key in ("a", "c")] + [Cell("e", "fake", {"name": "e"})]
    store.add_cells("s", grid)
    counts = run_ray(grid, store, tmp_path / "w", progress=False,
                     init_kwargs={"num_cpus": 2, "include_dashboard": False,
                                  "runtime_env": {"env_vars": {"PYTHONPATH": str(
                                      Path(__file__).resolve().parents[2])}}})
    assert counts == {"done": 3}
    assert sorted(r.language for r in store.score_rows()) == ["a", "c", "e"]
