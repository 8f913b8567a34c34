"""Executors run a study's cells against the results store: ``local`` (default) and ``ray``.

Both skip finished cells, respect dependencies (a cell starts once the cells it depends on are
done), and write every cell's rows and ``done`` status in one store transaction. A failing cell
is marked ``failed`` with its one-line error and does not stop independent cells.

- ``local`` runs cells one after another in this process.
- ``ray`` submits one Ray task per ready cell with its resource request (``num_gpus=1`` when
  the cluster has GPUs, since every cell kind runs a model; else ``num_cpus=1``); workers only
  compute, the driver alone writes the store (one writer, no cross-node SQLite locking).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from crossling.errors import ConfigError, CrosslingError
from crossling.experiments.cells import RUNNERS
from crossling.experiments.store import ResultStore
from crossling.experiments.study import Cell

log = logging.getLogger(__name__)


def _error_line(exc: BaseException) -> str:
    if isinstance(exc, CrosslingError):
        return str(exc)
    last = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    where = f" ({Path(last.filename).name}:{last.lineno})" if last else ""
    return f"{type(exc).__name__}: {exc}{where}".replace("\n", " ")


def runner_of(kind: str) -> Callable[..., Any]:
    if kind not in RUNNERS:
        raise ConfigError(f"unknown cell kind {kind!r} (available: {', '.join(RUNNERS)})")
    return RUNNERS[kind]


def invoke(runner: Callable[..., Any], params: dict[str, Any], workdir: str,
           ) -> tuple[list[Any], dict[str, Any]]:
    """Run a cell's runner. The runner is resolved by the driver and shipped with the task, so
    workers need no registry state (kinds registered at run time work too)."""
    rows, prov = runner(params, Path(workdir))
    return list(rows), prov


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


def run_local(cells: Sequence[Cell], store: ResultStore, workdir: Path,
              retry_failed: bool = False, progress: bool = True) -> dict[str, int]:
    """Run cells sequentially in dependency order; returns counts per final status."""
    todo = [c for c in cells if store.status(c.key) != "done"]
    bar = tqdm(total=len(todo), desc="cells", unit="cell", disable=not progress)
    while todo:
        ready, waiting = _ready(todo, store)
        if not ready:
            break
        for cell in ready:
            bar.set_postfix_str(cell.label)
            if store.claim(cell.key, retry_failed=retry_failed):
                try:
                    rows, prov = invoke(runner_of(cell.kind), cell.params,
                                        str(workdir / cell.key))
                    store.finish(cell.key, rows, prov)
                except Exception as exc:  # a failing cell must not stop the others
                    store.fail(cell.key, _error_line(exc))
                    log.error("%s failed: %s", cell.label, _error_line(exc))
            bar.update(1)
        todo = [c for c in waiting if store.status(c.key) != "done"]
    bar.close()
    return _summary(cells, store)


def _summary(cells: Sequence[Cell], store: ResultStore) -> dict[str, int]:
    counts: dict[str, int] = {}
    for c in cells:
        s = store.status(c.key) or "missing"
        counts[s] = counts.get(s, 0) + 1
    return counts


def run_ray(cells: Sequence[Cell], store: ResultStore, workdir: Path, address: str | None = None,
            retry_failed: bool = False, progress: bool = True,
            init_kwargs: dict[str, Any] | None = None) -> dict[str, int]:
    """Run cells as Ray tasks, waves of ready cells; the driver writes the store."""
    try:
        import ray
    except ImportError:
        raise ConfigError("the ray executor needs Ray: pip install 'crossling[ray]'") from None
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, **(init_kwargs or {}))
    try:
        gpus = ray.cluster_resources().get("GPU", 0)
        remote = ray.remote(invoke)
        todo = [c for c in cells if store.status(c.key) != "done"]
        bar = tqdm(total=len(todo), desc="cells (ray)", unit="cell", disable=not progress)
        while todo:
            ready, waiting = _ready(todo, store)
            claimed = [c for c in ready if store.claim(c.key, retry_failed=retry_failed)]
            if not claimed:
                break
            futures = {}
            for cell in claimed:
                opts = {"num_gpus": 1} if gpus else {"num_cpus": 1}  # every kind runs a model
                futures[remote.options(**opts).remote(runner_of(cell.kind), cell.params,
                                                      str(workdir / cell.key))] = cell
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
                bar.update(1)
            todo = [c for c in waiting if store.status(c.key) != "done"]
        bar.close()
    finally:
        if started_here:
            ray.shutdown()
    return _summary(cells, store)


Executor = Callable[..., dict[str, int]]
EXECUTORS: dict[str, Executor] = {"local": run_local, "ray": run_ray}
