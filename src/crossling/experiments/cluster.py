"""What runs on a cluster node: one cell (`execute`) and the check at start
(`check_nodes`, one small task per node).

A cell runs in its node's cells folder: the driver's (``runs/<study>/cells``, which needs a
shared disk for cells that read another cell's output), or ``$CROSSLING_NODE_WORKDIR`` where a
node sets it. With an artifact store (`crossling.experiments.artifacts`) the outputs later
cells read travel through the store, and no disk need be shared.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crossling.core.errors import ConfigError, CrosslingError
from crossling.experiments.artifacts import ArtifactStore
from crossling.experiments.cell import Cell

NODE_WORKDIR = "CROSSLING_NODE_WORKDIR"
"""Set on a node (in the environment of ``ray start``): its own cells folder."""


def cells_folder(driver_folder: str) -> Path:
    """This node's cells folder: ``$CROSSLING_NODE_WORKDIR``, else the driver's."""
    return Path(os.environ.get(NODE_WORKDIR) or driver_folder)


@dataclass(frozen=True)
class CellTask:
    """Everything a worker needs to run one cell (the runner is resolved by the driver, so
    kinds registered at run time need no registry on the workers)."""

    runner: Callable[..., Any]
    params: Any
    key: str
    workdir: str
    """The driver's cells folder (see `cells_folder`)."""
    threads: int = 1
    fetch: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """(key, output names) of the cells whose outputs this cell reads, fetched from
    ``artifacts``; each key must have at least one of its names there."""
    outputs: tuple[str, ...] = ()
    """Folders of this cell that later cells may read (uploaded to ``artifacts``)."""
    artifacts: str | None = None


def execute(task: CellTask) -> tuple[list[Any], dict[str, Any]]:
    """Run one cell on this node with ``task.threads`` torch threads: fetch the outputs it
    reads, run it, upload its outputs (before it counts as done)."""
    import torch

    torch.set_num_threads(task.threads)
    folder = cells_folder(task.workdir)
    store = ArtifactStore(task.artifacts) if task.artifacts else None
    if store is not None:
        for key, names in task.fetch:
            got = [store.get(key, name, folder / key / name) for name in names]
            if not any(got):
                raise CrosslingError(f"artifact store {task.artifacts}: no complete output of "
                                     f"cell {key} ({', '.join(names)}); run it again")
    rows, prov = task.runner(task.params, folder / task.key)
    if store is not None:
        for name in task.outputs:
            if (folder / task.key / name).is_dir():
                store.put(task.key, name, folder / task.key / name)
    return list(rows), prov


# --- the check at start ----------------------------------------------------------------------


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _strings(v)


def inputs_of(cells: Sequence[Cell]) -> dict[str, int | None]:
    """The files (with their sizes) and folders (None) the cells read, as their parameters
    name them (data files, ``ud`` folders, a local model folder): every string parameter that
    is an existing path on the driver. A Hub model name is not a path; each node fetches it."""
    out: dict[str, int | None] = {}
    for c in cells:
        for s in _strings(c.params.to_dict()):
            if s in out or ("/" not in s and os.sep not in s):
                continue
            p = Path(s)
            if p.is_file():
                out[s] = p.stat().st_size
            elif p.is_dir():
                out[s] = None
    return out


@dataclass(frozen=True)
class NodeCheck:
    """What every node must see: the inputs, the driver's cells folder (a marker the driver
    wrote there) unless an artifact store carries outputs, and the artifact store."""

    inputs: dict[str, int | None]
    marker: str | None = None
    artifacts: str | None = None
    artifact_marker: str | None = None
    driver_folder: str = ""
    needs_shared: bool = False


def check_node(check: NodeCheck) -> list[str]:
    """Run on one node: what it lacks, as short phrases (empty: all well)."""
    problems = []
    missing = [p for p, size in check.inputs.items()
               if not (Path(p).is_dir() if size is None else
                       Path(p).is_file() and Path(p).stat().st_size == size)]
    if missing:
        problems.append(f"{len(missing)} of {len(check.inputs)} data/model paths missing or "
                        f"different, e.g. {missing[0]}")
    own = os.environ.get(NODE_WORKDIR)
    if check.needs_shared and (not (check.marker and Path(check.marker).is_file()) or (
            own and Path(own).resolve() != Path(check.driver_folder).resolve())):
        where = f"has its own cells folder {own}" if own else \
            f"does not see the driver's cells folder {check.driver_folder}"
        problems.append(f"{where}, but cells read other cells' outputs: share one folder or "
                        "name an artifact store (`artifacts:` in the study)")
    folder = Path(own or check.driver_folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".crossling-write-{uuid.uuid4().hex}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        problems.append(f"cannot write its cells folder {folder} ({exc.strerror})")
    if check.artifacts and check.artifact_marker:
        try:
            if not ArtifactStore(check.artifacts).fs.exists(check.artifact_marker):
                problems.append(f"does not see the artifact store {check.artifacts}")
        except Exception as exc:  # any backend's error: the node cannot use the store
            problems.append(f"cannot reach the artifact store {check.artifacts} ({exc})")
    return problems


@dataclass
class _Markers:
    cells: Path
    store: ArtifactStore | None
    name: str = field(default_factory=lambda: f".crossling-node-check-{uuid.uuid4().hex}")

    def __enter__(self) -> _Markers:
        self.cells.mkdir(parents=True, exist_ok=True)
        (self.cells / self.name).write_bytes(b"")
        if self.store is not None:
            self.store.fs.makedirs(self.store.root, exist_ok=True)
            self.store.fs.pipe_file(self.store_path, b"")
        return self

    @property
    def store_path(self) -> str:
        return f"{self.store.root}/{self.name}" if self.store else ""

    def __exit__(self, *exc: object) -> None:
        (self.cells / self.name).unlink(missing_ok=True)
        if self.store is not None and self.store.fs.exists(self.store_path):
            self.store.fs.rm(self.store_path)


def check_nodes(cells: Sequence[Cell], workdir: Path, artifacts: str | None,
                timeout_s: float = 300.0) -> None:
    """One small task per alive node checks that it sees what the cells need; the first
    node that does not is a one-line ConfigError naming it and what it lacks."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    store = ArtifactStore(artifacts) if artifacts else None
    with _Markers(workdir, store) as marks:
        check = NodeCheck(inputs_of(cells), marker=str(workdir / marks.name),
                          artifacts=artifacts, artifact_marker=marks.store_path or None,
                          driver_folder=str(workdir),
                          needs_shared=store is None and any(c.reads for c in cells))
        remote = ray.remote(check_node)
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        futures = [remote.options(num_cpus=0, scheduling_strategy=NodeAffinitySchedulingStrategy(
            n["NodeID"], soft=False)).remote(check) for n in nodes]
        ready, _ = ray.wait(futures, num_returns=len(futures), timeout=timeout_s)
        for node, fut in zip(nodes, futures, strict=True):
            name = f"{node.get('NodeManagerHostname')} ({node.get('NodeManagerAddress')})"
            if fut not in ready:
                raise ConfigError(f"node {name}: its check did not finish in {timeout_s:g} s")
            problems = ray.get(fut)
            if problems:
                raise ConfigError(f"node {name}: " + "; ".join(problems))
