"""Executors run a study's cells against the results store: ``local`` (default) and ``ray``.

Both skip finished cells, start a cell once its dependencies are done, store each cell's rows
and status in one transaction, and record a failing cell's one-line error without stopping the
others. A heartbeat thread renews the claims of running cells, so a long cell is never taken
over while its worker lives; cells another worker holds are waited for, and taken over once it
dies. Under Ray the workers only compute and the driver alone writes the store.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from crossling.core.errors import ConfigError, CrosslingError
from crossling.core.settings import Settings, count, flag, one_of, positive, setting
from crossling.experiments.cell import Cell
from crossling.experiments.cluster import CellTask, check_nodes, execute
from crossling.experiments.kinds import KINDS
from crossling.experiments.resources import ClusterShape, Resources, ray_request, threads_of
from crossling.experiments.schedule import bottom_levels
from crossling.experiments.store import ResultStore

log = logging.getLogger(__name__)


def _error_line(exc: BaseException) -> str:
    if isinstance(exc, CrosslingError):
        return str(exc)
    last = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    where = f" ({Path(last.filename).name}:{last.lineno})" if last else ""
    return f"{type(exc).__name__}: {exc}{where}".replace("\n", " ")


@dataclass(frozen=True)
class RunSettings(Settings):
    """How a study's cells are run: ``executor`` (``local`` or ``ray``), failed cells retried
    or not, progress bars, and the seconds between polls while another worker holds a cell.
    ``ray`` only: the cluster's ``address`` and ``ray_init`` arguments, each kind's
    ``resources`` (else `crossling.experiments.resources.DEFAULTS`), the ``artifacts``
    store's URL (outputs travel through it instead of a shared disk), ``max_retries`` of a
    cell whose worker dies, and the ``schedule`` (``dynamic``; ``waves`` is the executor
    before 0.5, kept for comparison)."""

    executor: str = setting("local", rule=one_of(("local", "ray")))
    retry_failed: bool = setting(False, rule=flag)
    address: str | None = None
    progress: bool = setting(True, rule=flag)
    poll_s: float = setting(10.0, rule=positive)
    ray_init: dict[str, Any] | None = None
    resources: dict[str, Resources] | None = None
    artifacts: str | None = None
    max_retries: int = setting(2, rule=count(0))
    schedule: str = setting("dynamic", rule=one_of(("dynamic", "waves")))


def runner_of(kind: str) -> Callable[..., Any]:
    if kind not in KINDS:
        raise ConfigError(f"unknown cell kind {kind!r} (available: {', '.join(KINDS)})")
    return KINDS[kind].run


def invoke(runner: Callable[..., Any], params: Any, workdir: str,
           ) -> tuple[list[Any], dict[str, Any]]:
    """Run a cell's runner in ``workdir``."""
    rows, prov = runner(params, Path(workdir))
    return list(rows), prov


class Heartbeat:
    """Renews the claims of the cells this process is running, from a daemon thread.

    A claim whose heartbeat is older than the store's ``stale_after`` may be taken by another
    worker (that is how a crashed worker on another host is detected), so a live worker must
    beat well within it: every ``stale_after / 4`` seconds by default. The thread beats for
    every key between `add` and `discard`, and stops when the ``with`` block ends.
    A failed beat (say, the store locked for a minute) is logged, not fatal: the next one may
    succeed, and the cell's result is still committed by ``finish``.
    """

    def __init__(self, store: ResultStore, interval: float | None = None) -> None:
        self.store = store
        self.interval = store.stale_after / 4 if interval is None else interval
        if not self.interval > 0:
            raise ValueError(f"heartbeat interval must be > 0, got {self.interval}")
        self._keys: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="crossling-heartbeat",
                                        daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def add(self, key: str) -> None:
        with self._lock:
            self._keys.add(key)

    def discard(self, key: str) -> None:
        with self._lock:
            self._keys.discard(key)

    @contextmanager
    def holding(self, key: str) -> Iterator[None]:
        """Beat for ``key`` while the block runs."""
        self.add(key)
        try:
            yield
        finally:
            self.discard(key)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            with self._lock:
                keys = sorted(self._keys)
            for key in keys:
                try:
                    if not self.store.heartbeat(key):
                        log.warning("cell %s is no longer claimed by this worker", key)
                except sqlite3.Error as exc:
                    log.warning("heartbeat of cell %s failed: %s", key, exc)


def _ready(cells: Sequence[Cell], store: ResultStore) -> tuple[list[Cell], list[Cell]]:
    """(cells whose dependencies are done, cells still waiting on a pending dependency)."""
    ready, waiting = [], []
    for c in cells:
        deps = [store.status(d) for d in c.depends_on]
        if all(s == "done" for s in deps):
            ready.append(c)
        elif not any(s == "failed" for s in deps):
            waiting.append(c)
    return ready, waiting


def _still_open(cells: Sequence[Cell], store: ResultStore, tried: set[str],
                retry_failed: bool) -> list[Cell]:
    """The cells this worker may still run or must wait for: not done, not tried by this
    worker in this run, and not failed (unless ``retry_failed``)."""
    out = []
    for c in cells:
        status = store.status(c.key)
        if c.key in tried or status == "done" or (status == "failed" and not retry_failed):
            continue
        out.append(c)
    return out


def _running_elsewhere(cells: Sequence[Cell], store: ResultStore) -> list[str]:
    """Keys of ``cells`` (and of their dependencies) another worker holds as ``running``: live
    claims, and claims of a worker that stopped beating but is not yet ``stale_after`` old
    (a killed worker on another host is only known dead then; its cells are then taken over)."""
    keys = {k for c in cells for k in (c.key, *c.depends_on)}
    return sorted(k for k in keys if store.status(k) == "running" and store.held_elsewhere(k))


def run_local(cells: Sequence[Cell], store: ResultStore, workdir: Path,
              settings: RunSettings | None = None) -> dict[str, int]:
    """Run cells sequentially in dependency order; returns counts per final status.

    Several ``crossling run`` processes may share one store (e.g. two single-threaded workers on
    a 2-core machine, which train faster together than one two-threaded worker): each claims the
    cells it runs and skips cells another worker holds. It returns only when no cell it could
    run is left: while another worker runs a cell of this grid (or one a cell of this grid
    depends on), it polls every ``poll_s`` seconds, and takes the cell over if that worker
    dies (its process is gone on this host, or its heartbeat is older than the store's
    ``stale_after``). Each cell is tried at most once per call.
    """
    opts = settings or RunSettings()
    retry_failed, poll_s = opts.retry_failed, opts.poll_s
    tried: set[str] = set()
    todo = _still_open(cells, store, tried, retry_failed)
    bar = tqdm(total=len(todo), desc="cells", unit="cell", disable=not opts.progress)
    said: list[str] = []
    rechecked = False
    with Heartbeat(store) as beat:
        while todo:
            ready, waiting = _ready(todo, store)
            ran = False
            for cell in ready:
                if not store.claim(cell.key, retry_failed=retry_failed):
                    continue  # done meanwhile, failed, or held by another worker
                ran = True
                tried.add(cell.key)
                bar.set_postfix_str(cell.label)
                try:
                    with beat.holding(cell.key):
                        rows, prov = invoke(runner_of(cell.kind), cell.params,
                                            str(workdir / cell.key))
                    store.finish(cell.key, rows, prov)
                except Exception as exc:  # a failing cell must not stop the others
                    store.fail(cell.key, _error_line(exc))
                    log.error("%s failed: %s", cell.label, _error_line(exc))
                bar.update(1)
            todo = _still_open([*ready, *waiting], store, tried, retry_failed)
            if ran or not todo:
                rechecked = False
                continue
            others = _running_elsewhere(todo, store)
            if not others:
                # a worker that died since this pass's claims makes its cell claimable: one
                # more pass takes it over; a second pass with nothing to run or wait for ends
                if rechecked:
                    break  # what is left waits on cells no worker runs (failed, or outside)
                rechecked = True
                continue
            rechecked = False
            if others != said:
                log.warning("waiting for %d cell(s) another worker is running (%s); a dead "
                            "worker's cell is taken over once its heartbeat is %g s old",
                            len(others), ", ".join(others), store.stale_after)
                said = others
            time.sleep(poll_s)
    bar.close()
    return _summary(cells, store)


def _summary(cells: Sequence[Cell], store: ResultStore) -> dict[str, int]:
    counts: dict[str, int] = {}
    for c in cells:
        s = store.status(c.key) or "missing"
        counts[s] = counts.get(s, 0) + 1
    return counts


def run_ray(cells: Sequence[Cell], store: ResultStore, workdir: Path,
            settings: RunSettings | None = None) -> dict[str, int]:
    """Run cells as Ray tasks; the driver writes the store. A cell is submitted as soon as its
    dependencies are done and the cluster has room for its kind's request (the cell heading
    the longest chain of remaining work first), and its result is stored as it arrives. A
    task whose worker dies is retried ``max_retries`` times. Every node is checked at start
    (`crossling.experiments.cluster.check_nodes`). Cells another worker runs are waited
    for and taken over if it dies, as in `run_local`."""
    try:
        import ray
    except ImportError:
        raise ConfigError("the ray executor needs Ray: pip install 'crossling[ray]'") from None
    opts = settings or RunSettings(executor="ray")
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=opts.address, **(opts.ray_init or {}))
    try:
        check_nodes(cells, workdir, opts.artifacts)
        run = _RayRun(cells, store, workdir, opts)
        todo = _still_open(cells, store, set(), opts.retry_failed)
        run.bar = tqdm(total=len(todo), desc="cells (ray)", unit="cell",
                       disable=not opts.progress)
        # The driver holds the claims, so it beats for every submitted cell (queued or
        # running on a worker) until its result is written.
        with Heartbeat(store) as run.beat:
            (_waves if opts.schedule == "waves" else _dynamic)(run, todo)
        run.bar.close()
    finally:
        if started_here:
            ray.shutdown()
    return _summary(cells, store)


class _RayRun:
    """The driver's side of a Ray run: requests per kind, tasks in flight, what they hold."""

    def __init__(self, cells: Sequence[Cell], store: ResultStore, workdir: Path,
                 opts: RunSettings) -> None:
        import ray

        self.ray, self.store, self.workdir, self.opts = ray, store, workdir, opts
        self.cluster = cluster_shape()
        specs = opts.resources or {}
        self.requests = {k: ray_request(k, specs.get(k), self.cluster)
                         for k in sorted({c.kind for c in cells})}
        self.kind_of = {c.key: c.kind for c in cells}
        # what a read cell of no known kind may have left: every kind's outputs
        self.any_outputs = tuple(sorted({n for k in KINDS.values()
                                         for n in getattr(k, "OUTPUTS", ())}))
        self.priority = bottom_levels({c.key: max(c.params.cost(), 1.0) for c in cells},
                                      {c.key: c.depends_on for c in cells})
        self.remote = ray.remote(execute)
        self.running: dict[Any, Cell] = {}
        self.used: dict[str, float] = {}
        self.tried: set[str] = set()
        self.beat: Heartbeat
        self.bar: Any = None

    def fits(self, cell: Cell) -> bool:
        """The cluster has room for the cell next to those in flight (always, when none is)."""
        need = _amounts(self.requests[cell.kind])
        return not self.running or all(self.used.get(r, 0.0) + v <= self.cluster.total.get(
            r, 0.0) + 1e-9 for r, v in need.items())

    def submit(self, cell: Cell) -> bool:
        """Claim and submit ``cell``; False if another worker has it (or it is done)."""
        if not self.store.claim(cell.key, retry_failed=self.opts.retry_failed):
            return False
        self.tried.add(cell.key)
        self.beat.add(cell.key)
        request = self.requests[cell.kind]
        task = CellTask(runner_of(cell.kind), cell.params, cell.key, str(self.workdir),
                        threads=threads_of(request),
                        fetch=tuple((k, _outputs(self.kind_of.get(k)) or self.any_outputs)
                                    for k in cell.reads),
                        outputs=_outputs(cell.kind), artifacts=self.opts.artifacts)
        ref = self.remote.options(**request, max_retries=self.opts.max_retries).remote(task)
        self.running[ref] = cell
        for r, v in _amounts(request).items():
            self.used[r] = self.used.get(r, 0.0) + v
        return True

    def collect(self, timeout: float | None) -> int:
        """Store the results of the tasks that finished (waiting up to ``timeout`` s for
        one); returns how many."""
        done, _ = self.ray.wait(list(self.running), num_returns=1, timeout=timeout)
        for ref in done:
            cell = self.running.pop(ref)
            for r, v in _amounts(self.requests[cell.kind]).items():
                self.used[r] -= v
            try:
                rows, prov = self.ray.get(ref)
                self.store.finish(cell.key, rows, prov)
            except Exception as exc:  # the cell's error, or its worker died max_retries times
                cause = getattr(exc, "cause", None) or exc
                self.store.fail(cell.key, _error_line(cause))
                log.error("%s failed: %s", cell.label, _error_line(cause))
            finally:
                self.beat.discard(cell.key)
            self.bar.update(1)
        return len(done)


def _amounts(request: dict[str, Any]) -> dict[str, float]:
    out = {"CPU": float(request.get("num_cpus", 0)), "GPU": float(request.get("num_gpus", 0)),
           "memory": float(request.get("memory", 0)), **request.get("resources", {})}
    return {k: v for k, v in out.items() if v}


def _outputs(kind: str | None) -> tuple[str, ...]:
    return tuple(getattr(KINDS.get(kind or ""), "OUTPUTS", ()))


def _dynamic(run: _RayRun, todo: list[Cell]) -> None:
    """Submit each cell once its dependencies are done, while the cluster has room; store
    each result as it arrives."""
    rechecked = False  # one more pass before stopping, as in run_local
    while todo or run.running:
        status = run.store.statuses([k for c in todo for k in (c.key, *c.depends_on)])
        ready = [c for c in todo if all(status.get(d) == "done" for d in c.depends_on)]
        for cell in sorted(ready, key=lambda c: -run.priority[c.key]):
            if run.fits(cell):
                run.submit(cell)
        todo = _still_open(todo, run.store, run.tried, run.opts.retry_failed)
        todo = [c for c in todo if not any(status.get(d) == "failed" for d in c.depends_on)]
        if run.running:
            rechecked = False
            run.collect(timeout=run.opts.poll_s)
        elif todo:
            if not _running_elsewhere(todo, run.store):
                if rechecked:
                    break  # what is left waits on cells no worker runs
                rechecked = True
                continue
            rechecked = False
            time.sleep(run.opts.poll_s)  # another worker runs what is left; see run_local


def _waves(run: _RayRun, todo: list[Cell]) -> None:
    """The executor before 0.5, kept to measure against (bench/ray_schedule.py): submit every
    ready cell, wait for all of them, then look for newly ready cells."""
    while todo:
        ready, waiting = _ready(todo, run.store)
        claimed = [c for c in ready if run.submit(c)]
        while run.running:
            run.collect(timeout=None)
        todo = _still_open([*ready, *waiting], run.store, run.tried, run.opts.retry_failed)
        if not claimed and todo:
            if not _running_elsewhere(todo, run.store):
                break
            time.sleep(run.opts.poll_s)


def cluster_shape() -> ClusterShape:
    """The connected Ray cluster's totals and its largest node's resources."""
    import ray

    largest: dict[str, float] = {}
    for node in ray.nodes():
        if node.get("Alive"):
            for r, v in node.get("Resources", {}).items():
                largest[r] = max(largest.get(r, 0.0), float(v))
    return ClusterShape(total={k: float(v) for k, v in ray.cluster_resources().items()},
                        largest=largest)


Executor = Callable[[Sequence[Cell], ResultStore, Path, RunSettings | None], dict[str, int]]
EXECUTORS: dict[str, Executor] = {"local": run_local, "ray": run_ray}
