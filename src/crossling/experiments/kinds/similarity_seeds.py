"""``similarity_seeds`` cells (``similarity.seed_pairs``): similarity between the REF models of
two consecutive ``after_seeds`` of a task, the seed-vs-seed baseline."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crossling.experiments.cell import Cell, Grid, Outcome, pud_roles
from crossling.experiments.config import Study
from crossling.experiments.kinds import finetune, similarity_ft
from crossling.experiments.kinds.common import MeasuredParams, load_tuned, tuned_name

KIND = "similarity_seeds"


@dataclass(frozen=True)
class Params(MeasuredParams):
    task: str
    seeds: list[int]
    finetune: list[str]
    """The keys of the two fine-tuning cells, in the order of ``seeds``."""

    def identity(self) -> dict[str, Any]:
        return {**self.measured_identity(), "task": self.task, "seeds": self.seeds,
                "finetune": self.finetune}

    def to_dict(self) -> dict[str, Any]:
        return {**self.identity(), "model": self.model, "ud": self.ud}

    def label(self) -> str:
        return f"similarity {self.task} seed={self.seeds[0]} vs seed={self.seeds[1]}"

    def cost(self) -> float:
        return self.passes(encoders=2)


def _ref_keys(grid: Grid, kind: str, task: str) -> dict[int, str]:
    """seed -> key of the cell of ``kind`` for ``task``'s REF model."""
    out = {}
    for c in grid.of_kind(kind):
        p = c.params
        assert isinstance(p, finetune.Params | similarity_ft.Params)
        if p.task == task and p.reinit.upper() == "REF":
            out[p.seed] = c.key
    return out


def expand(study: Study, grid: Grid) -> list[Cell]:
    sim = study.similarity
    if sim is None or not sim.seed_pairs:
        return []
    files = pud_roles(grid.ud, study.source, sim.ft_languages)
    cells = []
    for task in study.tasks:
        tuned = _ref_keys(grid, finetune.KIND, task.name)
        measured = _ref_keys(grid, similarity_ft.KIND, task.name)
        pairs = [s for s in (sim.after_seeds or study.seeds) if s in tuned]
        for a, b in itertools.pairwise(pairs):
            params = Params(**similarity_ft.measured(
                study, sim, task=task.name, seeds=[a, b], finetune=[tuned[a], tuned[b]]))
            # after the models' similarity_ft cells (if any): their vectors are cached then
            cells.append(Cell(grid.key(KIND, params, files), KIND, params,
                              depends_on=(tuned[a], tuned[b],
                                          *(measured[x] for x in (a, b) if x in measured)),
                              reads=(tuned[a], tuned[b])))
    return cells


def run(params: Params, workdir: Path) -> Outcome:
    """Model-model similarity per layer between two REF models of one task that differ only in
    their fine-tuning seed (rows of kind ``seed-seed``; ``seed`` the first, ``compare_seed``
    the second). Their vectors come from the shared cache when ``similarity_ft`` computed
    them (the cache key covers the weights, not the name)."""
    from crossling.results import SeedSeedRow
    from crossling.workflows.similarity import Models

    (seed_a, seed_b), (cell_a, cell_b) = params.seeds, params.finetune
    a = load_tuned(workdir, cell_a, tuned_name(params.model, params.task, seed_a))
    b = load_tuned(workdir, cell_b, tuned_name(params.model, params.task, seed_b))
    rows = params.run_similarity(workdir, Models(a, compare=b, cross_lingual=False))
    tag: dict[str, Any] = {"task": params.task, "seed": seed_a, "finetune_cell": cell_a,
           "compare_seed": seed_b, "reinit": "REF"}
    rows = [SeedSeedRow.from_record({**r.record(), "kind": SeedSeedRow.kind, **tag, "provenance":
                                     {**r.provenance, **tag, "compare_finetune_cell": cell_b}})
            for r in rows]
    return rows, {**rows[0].provenance} if rows else tag
