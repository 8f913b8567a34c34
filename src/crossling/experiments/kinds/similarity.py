"""``similarity`` cells: cross-lingual similarity of the pretrained model (one per study), and
of each random-weights control (``controls.random_weights``)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from crossling.experiments.cell import Cell, Grid, Outcome, pud_roles
from crossling.experiments.config import Study
from crossling.experiments.kinds.common import (
    MeasuredParams,
    control_identity,
    control_label,
    frozen_model,
    resolve_frozen,
    with_control,
)

KIND = "similarity"


@dataclass(frozen=True)
class Params(MeasuredParams):
    layer_difference: bool = False
    """Also the peak-minus-top rows (in the key only when set: other studies' keys kept)."""
    random_weights: int | None = None
    """The init seed of the random-weights control measured instead of the pretrained model;
    None: the pretrained model (in the key only when set)."""

    def identity(self) -> dict[str, Any]:
        out = self.measured_identity()
        if self.layer_difference:
            out["layer_difference"] = True
        return {**out, **control_identity(self.random_weights)}

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "ud": self.ud, **self.identity()}

    def label(self) -> str:
        return f"similarity ({control_label(self.random_weights)})"

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
    return [Cell(grid.key(KIND, p, files), KIND, p) for p in
            [params, *(replace(params, random_weights=k) for k in study.random_weights)]]


def run(params: Params, workdir: Path) -> Outcome:
    """Cross-lingual similarity of the pretrained model, or of a random-weights control."""
    model = frozen_model(params.model, params.random_weights)
    rows = with_control(params.run_similarity(workdir, model, params.layer_difference), model)
    return rows, rows[0].provenance if rows else {}
