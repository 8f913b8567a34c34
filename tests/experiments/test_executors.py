from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from crossling.experiments.cell import Cell
from crossling.experiments.executors import RunSettings, run_local, run_ray
from crossling.experiments.kinds import KINDS
from crossling.experiments.store import ResultStore
from crossling.results import ScoreRow
from tests.experiments.fakes import Fake, fake_kind

QUIET = RunSettings(progress=False)
ROOT = Path(__file__).resolve().parents[2]  # Ray workers import this checkout's crossling


def _fake(params: Fake, workdir: Path) -> tuple[list[ScoreRow], dict[str, Any]]:
    if params.fail:
        raise ValueError("boom")
    time.sleep(params.sleep)
    row = ScoreRow("pos", params.name, "test", "upos_acc", 50.0, 40.0, 60.0, 1, 1, "m",
                   "REF", 0, {})
    return [row], {"name": params.name}


@pytest.fixture(autouse=True)
def _register_fake(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(KINDS, "fake", fake_kind(_fake))


def _grid() -> list[Cell]:
    return [Cell("a", "fake", Fake(name="a")), Cell("b", "fake", Fake(name="b", fail=True)),
            Cell("c", "fake", Fake(name="c"), depends_on=("a",)),
            Cell("d", "fake", Fake(name="d"), depends_on=("b",))]


def test_local_executor_dependencies_and_failures(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "s.sqlite")
    grid = _grid()
    store.add_cells("s", grid)
    counts = run_local(grid, store, tmp_path / "w", QUIET)
    assert counts == {"done": 2, "failed": 1, "pending": 1}  # d waits on failed b
    failed = next(c for c in store.cells() if c["status"] == "failed")
    assert failed["error"].startswith("ValueError: boom")
    assert run_local(grid, store, tmp_path / "w", QUIET) == counts  # nothing redone


class _Claimer(threading.Thread):
    """Another worker: keeps trying to take over every running cell (what a second
    ``crossling run`` does with a claim older than ``stale_after``)."""

    def __init__(self, path: Path, keys: list[str], stale_after: float) -> None:
        super().__init__(daemon=True)
        self.store = ResultStore(path, stale_after=stale_after)
        self.keys, self.stop, self.taken, self.tries = keys, threading.Event(), [], 0

    def run(self) -> None:
        while not self.stop.wait(0.1):
            for key in self.keys:
                if self.store.status(key) == "running":
                    self.tries += 1
                    if self.store.claim(key):
                        self.taken.append(key)


SLOW_CELL = """
import sys, time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from crossling.experiments.cell import Cell, CellParams
from crossling.experiments.executors import RunSettings, run_local
from crossling.experiments.kinds import KINDS
from crossling.experiments.store import ResultStore
from crossling.results import ScoreRow

@dataclass(frozen=True)
class Fake(CellParams):
    name: str
    sleep: float

def slow(params, workdir):
    with open(sys.argv[2], "a") as fh:
        fh.write(f"{params.name}\\n")
    time.sleep(params.sleep)
    return [ScoreRow("pos", params.name, "test", "upos_acc", 1.0, 0.0, 2.0, 1, 1, "m",
                     "REF", 0, {})], {}

KINDS["slow"] = SimpleNamespace(KIND="slow", expand=None, run=slow)
grid = [Cell("long", "slow", Fake(name="long", sleep=6.0))]
if sys.argv[3:] == ["chain"]:  # a second cell that needs the long one
    grid.append(Cell("after", "slow", Fake(name="after", sleep=0.0), depends_on=("long",)))
# 1 s makes a claim stale quickly (the first test needs that); the chain test needs no
# takeover, and on a loaded machine a 1 s heartbeat window can lapse
store = ResultStore(sys.argv[1], stale_after=30.0 if sys.argv[3:] == ["chain"] else 1.0)
store.add_cells("s", grid)
print("starting", flush=True)
print(run_local(grid, store, Path(sys.argv[1]).parent / "work",
                RunSettings(progress=False, poll_s=0.2)))
"""


def test_a_live_workers_long_cell_is_never_claimed_twice(tmp_path: Path) -> None:
    """A cell running longer than ``stale_after`` (1 s here, an hour by default) keeps its
    claim: the executor renews the heartbeat while the cell runs, so neither a second run nor
    another claimer takes it over. Without heartbeats both ran it."""
    script = tmp_path / "slow.py"
    script.write_text(SLOW_CELL, encoding="utf-8")
    db, log = tmp_path / "s.sqlite", tmp_path / "started.log"
    first = subprocess.Popen([sys.executable, str(script), str(db), str(log)])
    deadline = time.time() + 60
    while not (db.exists() and ResultStore(db).cells() and
               ResultStore(db).status("long") == "running"):
        assert time.time() < deadline and first.poll() is None
        time.sleep(0.05)
    claimer = _Claimer(db, ["long"], stale_after=1.0)
    claimer.start()
    time.sleep(1.5)  # the claim is now older than stale_after
    second = subprocess.run([sys.executable, str(script), str(db), str(log)], timeout=120,
                            capture_output=True, text=True, check=True)
    assert first.wait(timeout=120) == 0
    claimer.stop.set()
    claimer.join()
    assert claimer.tries > 10 and claimer.taken == []
    assert log.read_text().split() == ["long"]  # started once, by the first run
    assert "'done': 1" in second.stdout  # the second run waited for its live worker
    (cell,) = ResultStore(db).cells()
    assert cell["status"] == "done" and cell["attempts"] == 1


def test_a_second_worker_waits_for_a_dependency_the_first_is_running(tmp_path: Path) -> None:
    """Two ``crossling run`` processes on one store: the second finds the only ready cell held
    by the first and the other cell waiting on it. It must wait for the dependency rather than
    exit with work left (before ``held_elsewhere`` it stopped at once, ``after`` pending)."""
    script = tmp_path / "slow.py"
    script.write_text(SLOW_CELL, encoding="utf-8")
    db, log = tmp_path / "s.sqlite", tmp_path / "started.log"
    first = subprocess.Popen([sys.executable, str(script), str(db), str(log), "chain"],
                             stdout=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not (db.exists() and ResultStore(db).cells() and
               ResultStore(db).status("long") == "running"):
        assert time.time() < deadline and first.poll() is None
        time.sleep(0.05)
    second = subprocess.run([sys.executable, str(script), str(db), str(log), "chain"],
                            timeout=120, capture_output=True, text=True, check=True)
    out_first, _ = first.communicate(timeout=120)
    assert first.returncode == 0
    assert "pending" not in second.stdout and "pending" not in out_first
    assert sorted(log.read_text().split()) == ["after", "long"]  # each cell ran once
    assert {c["key"]: c["status"] for c in ResultStore(db).cells()} == {
        "long": "done", "after": "done"}


def _wait_running(db: Path, key: str, proc: subprocess.Popen) -> None:  # type: ignore[type-arg]
    deadline = time.time() + 60
    while not (db.exists() and ResultStore(db).cells() and ResultStore(db).status(key) ==
               "running"):
        assert time.time() < deadline and proc.poll() is None
        time.sleep(0.05)


def test_a_killed_workers_cell_is_taken_over_by_the_survivor(tmp_path: Path) -> None:
    """Two workers on one store; the one running the only cell is killed. The survivor, which
    found the cell taken, must not exit saying "1 running" (exit 0, the cell never finished):
    it waits, sees the worker gone, and runs the cell itself."""
    script = tmp_path / "slow.py"
    script.write_text(SLOW_CELL.replace("sleep=6.0", "sleep=float(sys.argv[4])"),
                      encoding="utf-8")
    db, log = tmp_path / "s.sqlite", tmp_path / "started.log"
    first = subprocess.Popen([sys.executable, str(script), str(db), str(log), "one", "60"])
    _wait_running(db, "long", first)
    second = subprocess.Popen([sys.executable, str(script), str(db), str(log), "one", "0"],
                              stdout=subprocess.PIPE, text=True)
    assert second.stdout is not None and second.stdout.readline() == "starting\n"
    time.sleep(1.0)  # the survivor has found the cell held by the first worker
    first.kill()
    first.wait()
    out, _ = second.communicate(timeout=120)
    assert second.returncode == 0 and "'done': 1" in out
    assert log.read_text().split() == ["long", "long"]  # started by each worker once
    (cell,) = ResultStore(db).cells()
    assert cell["status"] == "done" and cell["attempts"] == 2


def test_a_silent_remote_workers_cell_is_taken_over_after_the_heartbeat_timeout(
        tmp_path: Path) -> None:
    """A worker on another host cannot be probed: its cell is taken over once its heartbeat
    is older than ``stale_after`` (the run waits for that instead of stopping)."""
    store = ResultStore(tmp_path / "s.sqlite", stale_after=1.0)
    store.add_cells("s", [Cell("a", "fake", Fake(name="a")),
                          Cell("b", "fake", Fake(name="b"), depends_on=("a",))])
    with store._connect() as con:  # claimed a moment ago by a worker elsewhere, now silent
        con.execute("UPDATE cells SET status='running', worker='elsewhere.example:42', "
                    "heartbeat=? WHERE key='a'", (time.time(),))
    start = time.time()
    counts = run_local([Cell("a", "fake", Fake(name="a")),
                        Cell("b", "fake", Fake(name="b"), depends_on=("a",))], store,
                       tmp_path / "w", RunSettings(progress=False, poll_s=0.1))
    assert counts == {"done": 2} and time.time() - start >= 0.9


def test_a_worker_dying_between_a_failed_claim_and_the_wait_is_taken_over(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The race a loaded machine hit: this worker's claim fails while the other worker lives,
    the other dies before this one looks for cells running elsewhere, so none is. The run must
    try once more (and take the dead claim over), not stop with the cell left running."""
    store = ResultStore(tmp_path / "s.sqlite", stale_after=3600.0)
    store.add_cells("s", [Cell("a", "fake", Fake(name="a"))])
    with store._connect() as con:  # held by a worker of this host whose process is gone
        con.execute("UPDATE cells SET status='running', worker=?, heartbeat=? WHERE key='a'",
                    (f"{socket.gethostname()}:{2 ** 22 + 7}", time.time()))
    claim, attempts = store.claim, []

    def claim_lost_once(key: str, retry_failed: bool = False) -> bool:
        attempts.append(key)  # the first attempt meets the other worker still alive
        return len(attempts) > 1 and claim(key, retry_failed=retry_failed)

    monkeypatch.setattr(store, "claim", claim_lost_once)
    counts = run_local([Cell("a", "fake", Fake(name="a"))], store, tmp_path / "w",
                       RunSettings(progress=False, poll_s=0.05))
    assert counts == {"done": 1} and attempts == ["a", "a"]


def test_held_elsewhere_only_for_another_live_workers_fresh_claim(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "s.sqlite", stale_after=60.0)
    store.add_cells("s", [Cell("a", "fake", Fake(name="a"))])
    assert not store.held_elsewhere("a") and not store.held_elsewhere("missing")  # pending
    assert store.claim("a")
    assert not store.held_elsewhere("a")  # this worker's own claim
    other = ResultStore(tmp_path / "s.sqlite", stale_after=60.0)
    with other._connect() as con:  # the same claim as seen from a live other process
        con.execute("UPDATE cells SET worker=? WHERE key='a'",
                    (f"{socket.gethostname()}:{os.getppid()}",))
    assert store.held_elsewhere("a")  # the parent process is alive
    with other._connect() as con:  # its heartbeat stopped long ago
        con.execute("UPDATE cells SET heartbeat=? WHERE key='a'", (time.time() - 3600,))
    assert not store.held_elsewhere("a")


@pytest.mark.slow
@pytest.mark.ray
def test_ray_executor_on_a_local_instance(tmp_path: Path) -> None:
    """Cells run as Ray tasks; the driver keeps the claims of queued and running cells fresh
    (``s`` runs for 3 s with ``stale_after`` = 1 s and is never taken over)."""
    pytest.importorskip("ray")
    store = ResultStore(tmp_path / "s.sqlite", stale_after=1.0)
    grid = [c for c in _grid() if c.key in ("a", "c")] + [
        Cell("e", "fake", Fake(name="e")), Cell("s", "fake", Fake(name="s", sleep=3.0))]
    store.add_cells("s", grid)
    claimer = _Claimer(tmp_path / "s.sqlite", [c.key for c in grid], stale_after=1.0)
    claimer.start()
    counts = run_ray(grid, store, tmp_path / "w", RunSettings(
        executor="ray", progress=False, address="local",  # never another session's cluster
        ray_init={"num_cpus": 2, "include_dashboard": False,
                  "runtime_env": {"env_vars": {"PYTHONPATH": f"{ROOT}:{ROOT / 'src'}"}}}))
    claimer.stop.set()
    claimer.join()
    assert claimer.tries > 10 and claimer.taken == []
    assert counts == {"done": 4}
    assert sorted(r.language for r in store.score_rows()) == ["a", "c", "e", "s"]
    assert all(c["attempts"] == 1 for c in store.cells())


def test_cells_left_unfinished_are_named_with_the_reason(tmp_path: Path) -> None:
    """A run that ends with work left says which cells and why, instead of a bare count."""
    from crossling.experiments.workflows import unfinished_cells

    store = ResultStore(tmp_path / "s.sqlite")
    outside = Cell("x", "fake", Fake(name="x"))  # not in this run's cells (e.g. another kind)
    grid = [Cell("b", "fake", Fake(name="b", fail=True)),
            Cell("d", "fake", Fake(name="d"), depends_on=("b",)),
            Cell("e", "fake", Fake(name="e"), depends_on=("x",))]
    store.add_cells("s", [outside, *grid])
    assert run_local(grid, store, tmp_path / "w", QUIET) == {"failed": 1,
                                                                        "pending": 2}
    reasons = [r for _, r in unfinished_cells(grid, store)]
    assert reasons[0].startswith("waits on a failed cell")
    assert reasons[1].startswith("waits on a cell of a kind not selected")
