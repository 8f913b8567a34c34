"""The Ray executor on a local Ray cluster: dynamic scheduling against the critical-path
bound and against the waves it replaced, and a worker killed mid-cell."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from crossling.experiments.cell import Cell
from crossling.experiments.executors import RunSettings, run_ray
from crossling.experiments.kinds import KINDS
from crossling.experiments.resources import Resources
from crossling.experiments.schedule import list_schedule, wave_schedule
from crossling.experiments.store import ResultStore
from tests.experiments.fakes import Sleepy, fake_kind, sleepy

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.ray
ROOT = Path(__file__).resolve().parents[2]
UNIT = 2.5  # seconds of one chain cell


def _warm() -> int:
    import torch  # noqa: F401  (what a cell's task imports)

    import crossling.experiments.cluster  # noqa: F401
    import tests.experiments.fakes  # noqa: F401

    time.sleep(1.0)  # both workers busy at once: two processes started and warmed
    return os.getpid()


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """A fresh two-CPU Ray instance (never one another session started: ``local``) whose two
    workers have imported crossling already, so start-up is not mistaken for scheduling."""
    temp = tempfile.mkdtemp(prefix="rt", dir="/tmp")  # short: Ray's socket paths
    ray.init(address="local", num_cpus=2, include_dashboard=False, _temp_dir=temp,
             log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": f"{ROOT}:{ROOT / 'src'}"}})
    try:
        pids = ray.get([ray.remote(_warm).remote() for _ in range(2)])
        assert len(set(pids)) == 2
        yield
    finally:
        ray.shutdown()
        shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture(autouse=True)
def _register(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(KINDS, "sleepy", fake_kind(sleepy, "sleepy"))


def _chain_and_long() -> list[Cell]:
    """A chain of four cells next to one cell as long as the chain: on two workers the bound
    is the chain (4 units); waves make the chain wait for the long cell at every step."""
    chain = [Cell(f"a{i}", "sleepy", Sleepy(name=f"a{i}", seconds=UNIT),
                  depends_on=(f"a{i - 1}",) if i else ()) for i in range(4)]
    return [*chain, Cell("long", "sleepy", Sleepy(name="long", seconds=4 * UNIT))]


def _makespan(store: ResultStore) -> float:
    cells = store.cells()
    return max(c["finished"] for c in cells) - min(c["started"] for c in cells)


def _run(tmp: Path, schedule: str) -> float:
    cells = _chain_and_long()
    store = ResultStore(tmp / f"{schedule}.sqlite")
    store.add_cells("s", cells)
    counts = run_ray(cells, store, tmp / schedule, RunSettings(
        executor="ray", progress=False, schedule=schedule, poll_s=0.5,
        resources={"sleepy": Resources(cpus=1)}))
    assert counts == {"done": 5}
    return _makespan(store)


def test_dynamic_scheduling_meets_the_critical_path_bound_where_waves_do_not(
        local_ray: None, tmp_path: Path) -> None:
    cells = _chain_and_long()
    costs = {c.key: c.params.cost() for c in cells}
    deps = {c.key: c.depends_on for c in cells}
    bound = list_schedule(costs, deps, 2).bound
    assert bound == 4 * UNIT and wave_schedule(costs, deps, 2) == 7 * UNIT
    dynamic = _run(tmp_path, "dynamic")
    waves = _run(tmp_path, "waves")
    assert bound <= dynamic <= 1.10 * bound, (dynamic, bound)
    assert waves >= 1.5 * bound, (waves, bound)  # the old executor: 7 units


def _kill_first(pids: Path, name: str, stop: threading.Event) -> None:
    """Kill the worker running ``name``'s first attempt, once it has started."""
    first = pids / f"{name}.0"
    while not stop.is_set():
        if first.is_file() and first.read_text():
            time.sleep(0.5)  # mid-cell
            os.kill(int(first.read_text()), signal.SIGKILL)
            return
        time.sleep(0.05)


def _run_killing_k(cells: list[Cell], store: ResultStore, tmp_path: Path,
                   settings: RunSettings) -> dict[str, int]:
    """Run ``cells`` on Ray while a thread kills the first worker that starts cell ``k``."""
    store.add_cells("s", cells)
    stop = threading.Event()
    killer = threading.Thread(target=_kill_first, args=(tmp_path / "pids", "k", stop),
                              daemon=True)
    killer.start()
    try:
        return run_ray(cells, store, tmp_path / "w", settings)
    finally:
        stop.set()
        killer.join()


def test_a_worker_killed_mid_cell_is_retried_and_every_row_is_written_once(
        local_ray: None, tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    cells = [Cell("k", "sleepy", Sleepy(name="k", seconds=3.0, pids=str(pids))),
             Cell("after", "sleepy", Sleepy(name="after", seconds=0.2, pids=str(pids)),
                  depends_on=("k",)),
             Cell("other", "sleepy", Sleepy(name="other", seconds=1.0, pids=str(pids)))]
    store = ResultStore(tmp_path / "s.sqlite")
    counts = _run_killing_k(cells, store, tmp_path, RunSettings(
        executor="ray", progress=False, poll_s=0.5, max_retries=2,
        resources={"sleepy": Resources(cpus=1)}))
    assert counts == {"done": 3}
    assert sorted(p.name for p in pids.iterdir()) == ["after.0", "k.0", "k.1", "other.0"]
    assert (pids / "k.0").read_text() != (pids / "k.1").read_text()  # another process
    assert sorted(r.language for r in store.score_rows()) == ["after", "k", "other"]
    assert store.provenance("k") == {"name": "k", "pid": int((pids / "k.1").read_text())}
    assert all(c["attempts"] == 1 for c in store.cells())  # claimed once, by the driver


def test_a_cell_whose_worker_keeps_dying_fails_with_one_line(local_ray: None,
                                                            tmp_path: Path) -> None:
    """With no retries left the cell is failed (one line), the others still finish, and
    the cell waiting on it is left pending."""
    pids = tmp_path / "pids"
    cells = [Cell("k", "sleepy", Sleepy(name="k", seconds=3.0, pids=str(pids))),
             Cell("after", "sleepy", Sleepy(name="after"), depends_on=("k",)),
             Cell("other", "sleepy", Sleepy(name="other", seconds=0.5))]
    store = ResultStore(tmp_path / "s.sqlite")
    counts = _run_killing_k(cells, store, tmp_path, RunSettings(
        executor="ray", progress=False, poll_s=0.5, max_retries=0))
    assert counts == {"done": 1, "failed": 1, "pending": 1}
    (failed,) = [c for c in store.cells() if c["status"] == "failed"]
    assert failed["key"] == "k" and "\n" not in failed["error"]
    assert "died" in failed["error"].lower() or "crash" in failed["error"].lower()
