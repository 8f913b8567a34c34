"""How long a study takes on W workers: list scheduling of cells with known costs.

`list_schedule` simulates what the dynamic Ray executor does (a cell starts as soon as its
dependencies are done and a worker is free; among ready cells the one heading the longest
remaining chain first), `wave_schedule` what the executor did before 0.5 (all ready cells
as one wave, the next wave only once the whole wave has finished). `critical_path` is the
bound no number of workers beats. Costs are in any unit (seconds in docs/scaling.md).
"""

from __future__ import annotations

import csv
import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

Deps = Mapping[str, Sequence[str]]


def _order(costs: Mapping[str, float], deps: Deps) -> list[str]:
    """The cells in dependency order (dependencies outside ``costs`` count as done)."""
    state: dict[str, int] = {}
    out: list[str] = []
    for root in costs:
        if state.get(root):
            continue
        state[root] = 1
        stack = [(root, iter(deps.get(root, ())))]
        while stack:
            node, it = stack[-1]
            nxt = next((d for d in it if d in costs), None)
            if nxt is None:
                stack.pop()
                state[node] = 2
                out.append(node)
            elif state.get(nxt) == 1:
                raise ValueError(f"dependency cycle through cell {nxt}")
            elif not state.get(nxt):
                state[nxt] = 1
                stack.append((nxt, iter(deps.get(nxt, ()))))
    return out


def bottom_levels(costs: Mapping[str, float], deps: Deps) -> dict[str, float]:
    """Each cell's cost plus the longest chain of cells that wait on it: the time from its
    start to the end of the study on unlimited workers (the priority of list scheduling)."""
    users: dict[str, list[str]] = {k: [] for k in costs}
    for k in costs:
        for d in deps.get(k, ()):
            if d in costs:
                users[d].append(k)
    level: dict[str, float] = {}
    for k in reversed(_order(costs, deps)):
        level[k] = costs[k] + max((level[u] for u in users[k]), default=0.0)
    return level


def critical_path(costs: Mapping[str, float], deps: Deps) -> tuple[list[str], float]:
    """The longest chain of dependent cells and its summed cost."""
    level = bottom_levels(costs, deps)
    if not level:
        return [], 0.0
    users: dict[str, list[str]] = {k: [] for k in costs}
    for k in costs:
        for d in deps.get(k, ()):
            if d in costs:
                users[d].append(k)
    head = max(costs, key=lambda k: level[k])  # ties: the cell listed first
    path = [head]
    while users[path[-1]]:
        path.append(max(users[path[-1]], key=lambda u: level[u]))
    return path, level[head]


@dataclass(frozen=True)
class Schedule:
    """A simulated run: each cell's start and end, the makespan and the bounds."""

    workers: int
    start: dict[str, float]
    end: dict[str, float]
    critical_path: list[str]
    critical_length: float
    work: float
    """The summed cost of all cells."""

    @property
    def makespan(self) -> float:
        return max(self.end.values(), default=0.0)

    @property
    def bound(self) -> float:
        """No schedule on ``workers`` is shorter: the critical path, or the work spread
        evenly over the workers."""
        return max(self.critical_length, self.work / self.workers)


def list_schedule(costs: Mapping[str, float], deps: Deps, workers: int) -> Schedule:
    """Simulate ``workers`` identical workers: whenever one is free it starts the ready cell
    with the longest remaining chain (ties: the cell listed first)."""
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    level = bottom_levels(costs, deps)
    rank = {k: i for i, k in enumerate(costs)}
    waiting = {k: {d for d in deps.get(k, ()) if d in costs} for k in costs}
    ready = [(-level[k], rank[k], k) for k, w in waiting.items() if not w]
    heapq.heapify(ready)
    running: list[tuple[float, int, str]] = []
    start: dict[str, float] = {}
    end: dict[str, float] = {}
    now = 0.0
    while ready or running:
        while ready and len(running) < workers:
            _, _, k = heapq.heappop(ready)
            start[k] = now
            heapq.heappush(running, (now + costs[k], rank[k], k))
        now, _, k = heapq.heappop(running)
        end[k] = now
        for u, w in waiting.items():
            if k in w:
                w.discard(k)
                if not w and u not in start:
                    heapq.heappush(ready, (-level[u], rank[u], u))
    path, length = critical_path(costs, deps)
    return Schedule(workers, start, end, path, length, sum(costs.values()))


def wave_schedule(costs: Mapping[str, float], deps: Deps, workers: int) -> float:
    """The makespan of the pre-0.5 Ray executor: the ready cells as one wave, run on the
    workers in order, the next wave only after the wave's last cell."""
    done: set[str] = set()
    now = 0.0
    while len(done) < len(costs):
        wave = [k for k in costs if k not in done and
                all(d in done or d not in costs for d in deps.get(k, ()))]
        if not wave:
            raise ValueError("dependency cycle among cells " + ", ".join(sorted(
                set(costs) - done)))
        free = [now] * workers  # the wave's cells in submission order, each on the first
        for k in wave:          # free worker (what Ray does with a queue of equal tasks)
            heapq.heapreplace(free, free[0] + costs[k])
        now = max(free)
        done.update(wave)
    return now


def write_makespans(path: Path, costs: Mapping[str, float], deps: Deps,
                    workers: Sequence[int]) -> list[dict[str, str]]:
    """One CSV row per worker count: dynamic and wave makespans, the bound, the critical
    path's length, its share of the bound, and the critical path's cells."""
    rows = []
    for w in workers:
        s = list_schedule(costs, deps, w)
        rows.append({"workers": str(w), "makespan_s": f"{s.makespan:.0f}",
                     "waves_s": f"{wave_schedule(costs, deps, w):.0f}",
                     "bound_s": f"{s.bound:.0f}", "critical_path_s": f"{s.critical_length:.0f}",
                     "work_s": f"{s.work:.0f}", "critical_path": " > ".join(s.critical_path)})
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["workers"])
        out.writeheader()
        out.writerows(rows)
    return rows
