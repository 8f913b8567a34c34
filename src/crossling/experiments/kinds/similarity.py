"""``similarity`` cells: cross-lingual similarity of the pretrained model (one per study)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crossling.experiments.cell import Cell, Grid, Outcome, pud_roles
from crossling.experiments.config import Study
from crossling.experiments.kinds.common import MeasuredParams, resolve_frozen

KIND = "similarity"


@dataclass(frozen=True)
class Params(MeasuredParams):
    layer_difference: bool = False
    """Also the peak-minus-top rows (in the key only when set: other studies' keys kept)."""

    def identity(self) -> dict[str, Any]:
        out = self.measured_identity()
        if self.layer_difference:
            out["layer_difference"] = True
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "ud": self.ud, **self.identity()}

    def label(self) -> str:
        return "similarity (pretrained)"

    def cost(self) -> float:
        return self.passes()


def expand(study: Study, grid: Grid) -> list[Cell]:
    sim = study.similarity
    if sim is None or not sim.before:
        return []
    params = Params(model=study.model, ud=study.ud, source=study.source,
                    languages=sim.languages, measures=sim.measures, pooling=sim.pooling,
                    n=sim.n, n_boot=sim.n_boot, n_null=sim.n_null,
                    layer_difference=sim.layer_difference,
                    precision=resolve_frozen(sim.precision))
    files = pud_roles(grid.ud, study.source, sim.languages)
    return [Cell(grid.key(KIND, params, files), KIND, params)]


def run(params: Params, workdir: Path) -> Outcome:
    """Cross-lingual similarity of the pretrained model."""
    rows = params.run_similarity(workdir, params.model, params.layer_difference)
    return rows, rows[0].provenance if rows else {}
