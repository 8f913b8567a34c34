"""Waves vs dynamic scheduling of the Ray executor, on a study of known per-cell cost.

Run: ``python bench/ray_schedule.py`` (``--unit`` seconds per cost unit, ``--workers``).

The study's shape is the paper's grid in small: fine-tuning cells of unequal cost, each read by
a short fine-tuned-similarity cell, beside one long pretrained-similarity cell. Each cell sleeps
for its cost (no CPU: the numbers measure scheduling, not compute, and hold on a busy machine).
Both schedules run it side by side, one after the other, on one local Ray instance of
``--workers`` CPUs with one CPU per cell, from fresh stores; the script prints each measured
makespan (first cell's start to last cell's end, from the store), the list-scheduling
simulation of each (:mod:`crossling.experiments.schedule`), the critical-path bound, and the
ratio waves / dynamic.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from crossling.experiments.cell import Cell, CellParams  # noqa: E402
from crossling.experiments.executors import RunSettings, run_ray  # noqa: E402
from crossling.experiments.kinds import KINDS  # noqa: E402
from crossling.experiments.resources import Resources  # noqa: E402
from crossling.experiments.schedule import list_schedule, wave_schedule  # noqa: E402
from crossling.experiments.store import ResultStore  # noqa: E402
from crossling.results import ScoreRow  # noqa: E402

FINETUNE_UNITS = [4.0, 1.0, 3.0, 1.0, 2.0, 1.0]  # unequal, as tasks and re-init groups are
SIMILARITY_FT_UNITS = 0.5
PRETRAINED_UNITS = 5.0


@dataclass(frozen=True)
class Sleep(CellParams):
    name: str
    seconds: float

    def cost(self) -> float:
        return self.seconds


def sleep(params: Sleep, workdir: Path) -> tuple[list[ScoreRow], dict[str, Any]]:
    time.sleep(params.seconds)
    return [ScoreRow("pos", params.name, "test", "upos_acc", 1.0, 0.0, 2.0, 1, 1, "m", "REF", 0,
                     {})], {}


def study(unit: float) -> list[Cell]:
    cells = [Cell("pre", "sleep", Sleep("pre", PRETRAINED_UNITS * unit))]
    for i, units in enumerate(FINETUNE_UNITS):
        cells.append(Cell(f"ft{i}", "sleep", Sleep(f"ft{i}", units * unit)))
        cells.append(Cell(f"sim{i}", "sleep", Sleep(f"sim{i}", SIMILARITY_FT_UNITS * unit),
                          depends_on=(f"ft{i}",)))
    return cells


def measure(cells: list[Cell], folder: Path, schedule: str) -> float:
    store = ResultStore(folder / f"{schedule}.sqlite")
    store.add_cells("bench", cells)
    counts = run_ray(cells, store, folder / schedule, RunSettings(
        executor="ray", progress=False, schedule=schedule, poll_s=0.5,
        resources={"sleep": Resources(cpus=1)}))
    assert counts == {"done": len(cells)}, counts
    rows = store.cells()
    return max(c["finished"] for c in rows) - min(c["started"] for c in rows)


def _warm(_: int) -> int:
    import torch  # noqa: F401  (what a cell's task imports: neither schedule pays for it)

    import crossling.experiments.cluster  # noqa: F401

    time.sleep(1.0)
    return os.getpid()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--unit", type=float, default=2.0, help="seconds per cost unit")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    import ray

    KINDS["sleep"] = SimpleNamespace(KIND="sleep", expand=None, run=sleep)  # type: ignore[assignment]
    cells = study(args.unit)
    costs = {c.key: c.params.cost() for c in cells}
    deps = {c.key: c.depends_on for c in cells}
    sim = list_schedule(costs, deps, args.workers)
    temp = tempfile.mkdtemp(prefix="rtb", dir="/tmp")
    ray.init(address="local", num_cpus=args.workers, include_dashboard=False, _temp_dir=temp,
             log_to_driver=False, runtime_env={"env_vars": {"PYTHONPATH": str(REPO / "src")}})
    try:
        ray.get([ray.remote(_warm).remote(i) for i in range(args.workers)])
        with tempfile.TemporaryDirectory() as tmp:
            waves = measure(cells, Path(tmp), "waves")
            dynamic = measure(cells, Path(tmp), "dynamic")
    finally:
        ray.shutdown()
        shutil.rmtree(temp, ignore_errors=True)
    print(f"known-cost study: {len(cells)} cells, {sim.work:.1f} s of work, "
          f"{args.workers} workers (1 CPU per cell), Ray {ray.__version__}, "
          f"Python {platform.python_version()}")
    print(f"critical path: {' > '.join(sim.critical_path)} = {sim.critical_length:.1f} s; "
          f"bound max(critical path, work / workers) = {sim.bound:.1f} s")
    print(f"{'schedule':<10}{'measured s':>12}{'simulated s':>13}{'/ bound':>9}")
    print(f"{'waves':<10}{waves:>12.2f}{wave_schedule(costs, deps, args.workers):>13.2f}"
          f"{waves / sim.bound:>9.3f}")
    print(f"{'dynamic':<10}{dynamic:>12.2f}{sim.makespan:>13.2f}{dynamic / sim.bound:>9.3f}")
    print(f"makespan ratio waves / dynamic: {waves / dynamic:.2f}x")


if __name__ == "__main__":
    main()
