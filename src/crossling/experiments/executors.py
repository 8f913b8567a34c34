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
from crossling.core.settings import Settings, flag, one_of, positive, setting
from crossling.experiments.cell import Cell
from crossling.experiments.kinds import KINDS
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
    or not, the Ray cluster's ``address`` and ``ray_init`` arguments (``ray`` only), progress
    bars, and the seconds between polls while another worker holds a cell."""

    executor: str = setting("local", rule=one_of(("local", "ray")))
    retry_failed: bool = setting(False, rule=flag)
    address: str | None = None
    progress: bool = setting(True, rule=flag)
    poll_s: float = setting(10.0, rule=positive)
    ray_init: dict[str, Any] | None = None


def runner_of(kind: str) -> Callable[..., Any]:
    if kind not in KINDS:
        raise ConfigError(f"unknown cell kind {kind!r} (available: {', '.join(KINDS)})")
    return KINDS[kind].run


def invoke(runner: Callable[..., Any], params: Any, workdir: str,
           ) -> tuple[list[Any], dict[str, Any]]:
    """Run a cell's runner. The runner is resolved by the driver and shipped with the task, so
    workers need no registry state (kinds registered at run time work too)."""
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
                continue
            others = _running_elsewhere(todo, store)
            if not others:
                break  # what is left waits on cells no worker runs (failed, or outside cells)
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
    """Run cells as Ray tasks, waves of ready cells; the driver writes the store. Cells another
    worker runs are waited for and taken over if it dies, as in `run_local`."""
    try:
        import ray
    except ImportError:
        raise ConfigError("the ray executor needs Ray: pip install 'crossling[ray]'") from None
    opts = settings or RunSettings(executor="ray")
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=opts.address, **(opts.ray_init or {}))
    try:
        # every kind runs a model: a GPU each when the cluster has them
        request = {"num_gpus": 1} if ray.cluster_resources().get("GPU", 0) else {"num_cpus": 1}
        remote = ray.remote(invoke).options(**request)
        tried: set[str] = set()
        todo = _still_open(cells, store, tried, opts.retry_failed)
        bar = tqdm(total=len(todo), desc="cells (ray)", unit="cell", disable=not opts.progress)
        # The driver holds the claims, so the driver beats for every submitted cell (queued or
        # running on a worker) until its result is written.
        with Heartbeat(store) as beat:
            while todo:
                ready, waiting = _ready(todo, store)
                claimed = [c for c in ready if store.claim(c.key, retry_failed=opts.retry_failed)]
                for c in claimed:
                    beat.add(c.key)
                    tried.add(c.key)
                if claimed:
                    _ray_wave(remote, claimed, store, workdir, beat, bar)
                todo = _still_open([*ready, *waiting], store, tried, opts.retry_failed)
                if not claimed and todo:
                    if not _running_elsewhere(todo, store):
                        break
                    time.sleep(opts.poll_s)  # another worker runs what is left; see run_local
        bar.close()
    finally:
        if started_here:
            ray.shutdown()
    return _summary(cells, store)


def _ray_wave(remote: Any, cells: list[Cell], store: ResultStore, workdir: Path,
              beat: Heartbeat, bar: Any) -> None:
    """Submit the claimed ``cells`` and store each result (or failure) as it arrives."""
    import ray

    futures = {remote.remote(runner_of(c.kind), c.params, str(workdir / c.key)): c
               for c in cells}
    pending = list(futures)
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        cell = futures[done[0]]
        try:
            rows, prov = ray.get(done[0])
            store.finish(cell.key, rows, prov)
        except Exception as exc:
            cause = getattr(exc, "cause", None) or exc
            store.fail(cell.key, _error_line(cause))
        finally:
            beat.discard(cell.key)
        bar.update(1)


Executor = Callable[[Sequence[Cell], ResultStore, Path, RunSettings | None], dict[str, int]]
EXECUTORS: dict[str, Executor] = {"local": run_local, "ray": run_ray}
