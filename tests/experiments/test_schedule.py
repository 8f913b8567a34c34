"""List scheduling against hand-computed schedules, bounds and the waves it replaced."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest

from crossling.experiments.schedule import (
    bottom_levels,
    critical_path,
    list_schedule,
    wave_schedule,
    write_makespans,
)

# a chain a0 > a1 > a2 > a3 (1 each) beside one cell "long" of 4
CHAIN = {"a0": 1.0, "a1": 1.0, "a2": 1.0, "a3": 1.0, "long": 4.0}
CHAIN_DEPS = {"a1": ["a0"], "a2": ["a1"], "a3": ["a2"]}


def test_the_chain_beside_a_long_cell() -> None:
    s = list_schedule(CHAIN, CHAIN_DEPS, 2)
    assert s.makespan == 4.0 == s.bound == s.critical_length
    assert s.start == {"a0": 0.0, "long": 0.0, "a1": 1.0, "a2": 2.0, "a3": 3.0}
    assert wave_schedule(CHAIN, CHAIN_DEPS, 2) == 7.0  # every wave waits for "long"
    assert list_schedule(CHAIN, CHAIN_DEPS, 1).makespan == 8.0 == wave_schedule(
        CHAIN, CHAIN_DEPS, 1)


def test_the_longest_remaining_chain_goes_first() -> None:
    """Two workers, a short independent cell listed first: starting it first would delay the
    chain b0 > b1 by one unit."""
    costs = {"x": 1.0, "y": 1.0, "b0": 2.0, "b1": 2.0}
    s = list_schedule(costs, {"b1": ["b0"]}, 2)
    assert s.start["b0"] == 0.0 and s.makespan == 4.0
    assert bottom_levels(costs, {"b1": ["b0"]}) == {"x": 1.0, "y": 1.0, "b0": 4.0, "b1": 2.0}


def test_critical_path_and_outside_dependencies() -> None:
    costs = {"ft": 5.0, "sim": 1.0, "pre": 3.0}
    deps = {"sim": ["ft", "outside"]}  # a cell not in the set counts as done
    assert critical_path(costs, deps) == (["ft", "sim"], 6.0)
    assert list_schedule(costs, deps, 4).makespan == 6.0


def test_a_cycle_is_refused() -> None:
    with pytest.raises(ValueError, match="cycle"):
        list_schedule({"a": 1.0, "b": 1.0}, {"a": ["b"], "b": ["a"]}, 2)
    with pytest.raises(ValueError, match="workers"):
        list_schedule({"a": 1.0}, {}, 0)


def test_random_graphs_respect_dependencies_bounds_and_capacity() -> None:
    rng = random.Random(0)
    for _ in range(50):
        n = rng.randint(1, 30)
        costs = {f"c{i}": rng.uniform(0.1, 5) for i in range(n)}
        deps = {f"c{i}": [f"c{j}" for j in range(i) if rng.random() < 0.15] for i in range(n)}
        for w in (1, 2, 5):
            s = list_schedule(costs, deps, w)
            for k, ds in deps.items():
                assert all(s.start[k] >= s.end[d] - 1e-9 for d in ds)
            events = sorted({*s.start.values()})
            for t in events:  # never more than w cells at once
                assert sum(s.start[k] <= t < s.end[k] for k in costs) <= w
            # Graham: list scheduling is within 2x of the bound
            assert s.bound - 1e-9 <= s.makespan <= 2 * s.bound + 1e-9
            if w == 1:
                assert s.makespan == pytest.approx(s.work)


def test_write_makespans(tmp_path: Path) -> None:
    rows = write_makespans(tmp_path / "m.csv", CHAIN, CHAIN_DEPS, [1, 2])
    with (tmp_path / "m.csv").open(encoding="utf-8") as fh:
        assert list(csv.DictReader(fh)) == rows
    assert [(r["workers"], r["makespan_s"], r["waves_s"], r["bound_s"]) for r in rows] == [
        ("1", "8", "8", "8"), ("2", "4", "7", "4")]
    assert rows[0]["critical_path"] == "a0 > a1 > a2 > a3"


DOCS = Path(__file__).resolve().parents[2] / "docs"


def _read(name: str) -> list[dict[str, str]]:
    with (DOCS / name).open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_the_scaling_doc_quotes_the_simulation_of_the_gpu_studys_cells() -> None:
    """docs/scaling.md's table is scaling.csv, and scaling.csv is what list scheduling gives
    for the per-cell costs and dependencies in scaling-cells.csv (bench/scaling.py wrote
    both)."""
    cells = _read("scaling-cells.csv")
    costs = {c["key"]: float(c["seconds"]) for c in cells}
    deps = {c["key"]: c["depends_on"].split() for c in cells}
    quoted = _read("scaling.csv")
    assert [r["workers"] for r in quoted] == ["1", "4", "16"]
    for row in quoted:
        w = int(row["workers"])
        s = list_schedule(costs, deps, w)
        assert abs(s.makespan - float(row["makespan_s"])) <= 1  # costs rounded to 0.1 s
        assert abs(wave_schedule(costs, deps, w) - float(row["waves_s"])) <= 1
        assert abs(s.bound - float(row["bound_s"])) <= 1
        assert abs(s.critical_length - float(row["critical_path_s"])) <= 1
        assert " > ".join(s.critical_path) == row["critical_path"]
    text = (DOCS / "scaling.md").read_text(encoding="utf-8")
    table = text.split("<!-- scaling.csv -->")[1].split("<!-- /scaling.csv -->")[0]
    lines = [line for line in table.splitlines() if line.startswith("| ") and
             line[2].isdigit()]
    assert lines == [f"| {r['workers']} | {r['makespan_s']} | {r['waves_s']} | {r['bound_s']} "
                     f"| {r['critical_path_s']} |" for r in quoted]
    labels = {c["key"]: c["label"] for c in cells}
    path = [labels[k] for k in quoted[0]["critical_path"].split(" > ")]
    assert path == ["finetune pos reinit=REF seed=0", "similarity after pos seed=0",
                    "similarity pos seed=0 vs seed=1"]
    assert "critical path** is `finetune pos REF seed 0` (140 s)" in text
