"""``similarity_ft`` cells: similarity of a fine-tuned encoder, cross-lingual and against the
pretrained model, for the ``similarity.after`` groups and ``after_seeds``."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from crossling.experiments.cell import Cell, Grid, Outcome, pud_roles
from crossling.experiments.config import SimilaritySpec, Study, group_id
from crossling.experiments.kinds import finetune
from crossling.experiments.kinds.common import (
    MeasuredParams,
    load_tuned,
    resolve_frozen,
    tuned_name,
)

KIND = "similarity_ft"


@dataclass(frozen=True)
class Params(MeasuredParams):
    task: str
    seed: int
    finetune: str
    """The key of the fine-tuning cell whose encoder is measured."""
    reinit: str = "REF"

    def identity(self) -> dict[str, Any]:
        out = {**self.measured_identity(), "task": self.task, "seed": self.seed,
               "finetune": self.finetune}
        if self.reinit.upper() != "REF":  # not in a REF cell's key, as in older stores
            out["reinit"] = self.reinit
        return out

    def to_dict(self) -> dict[str, Any]:
        return {**self.identity(), "reinit": self.reinit, "model": self.model, "ud": self.ud}

    def label(self) -> str:
        group = "" if self.reinit.upper() == "REF" else f" reinit={self.reinit}"
        return f"similarity after {self.task}{group} seed={self.seed}"

    def cost(self) -> float:
        return self.passes(encoders=2)  # the tuned and the pretrained encoder


def measured(study: Study, sim: SimilaritySpec, **fields: Any) -> dict[str, Any]:
    """The settings of a cell measuring fine-tuned encoders (``after_n``,
    ``after_languages``, ``after_measures``), with ``fields``."""
    return {"model": study.model, "ud": study.ud, "source": study.source,
            "languages": sim.ft_languages, "measures": sim.ft_measures, "pooling": sim.pooling,
            "n": sim.ft_n, "n_boot": sim.n_boot, "n_null": sim.n_null,
            "precision": resolve_frozen(sim.precision), **fields}


def expand(study: Study, grid: Grid) -> list[Cell]:
    sim = study.similarity
    if sim is None:
        return []
    groups = {group_id(g) for g in sim.after_groups}
    seeds = sim.after_seeds or study.seeds
    files = pud_roles(grid.ud, study.source, sim.ft_languages)
    cells = []
    for tuned in grid.of_kind(finetune.KIND):
        ft = tuned.params
        assert isinstance(ft, finetune.Params)
        if group_id(ft.reinit) in groups and ft.seed in seeds:
            params = Params(**measured(study, sim, task=ft.task, seed=ft.seed,
                                       finetune=tuned.key, reinit=ft.reinit))
            cells.append(Cell(grid.key(KIND, params, files), KIND, params,
                              depends_on=(tuned.key,), reads=(tuned.key,)))
    return cells


def run(params: Params, workdir: Path) -> Outcome:
    """Cross-lingual similarity of the fine-tuned encoder, and pretrained vs fine-tuned."""
    from crossling.workflows.similarity import Models

    tuned = load_tuned(workdir, params.finetune,
                       tuned_name(params.model, params.task, params.seed, params.reinit))
    rows = params.run_similarity(workdir, Models(tuned, compare=params.model, compare_side="a"))
    # the rows say which fine-tuning they come from (the report groups by task and seed), as
    # fields and in the provenance
    tag: dict[str, Any] = {"task": params.task, "seed": params.seed,
                           "finetune_cell": params.finetune}
    rows = [replace(r, **tag, reinit=params.reinit, provenance={**r.provenance, **tag})
            for r in rows]
    return rows, {**rows[0].provenance} if rows else tag
