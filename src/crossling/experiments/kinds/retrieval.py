"""``retrieval`` cells: parallel sentence retrieval of the pretrained model (one per study),
and of each random-weights control (``controls.random_weights``)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from crossling.experiments.cell import Cell, Grid, Outcome, pud_roles, vector_cache
from crossling.experiments.config import Study
from crossling.experiments.kinds.common import (
    PudParams,
    control_identity,
    control_label,
    frozen_model,
    resolve_frozen,
    with_control,
)

KIND = "retrieval"


@dataclass(frozen=True)
class Params(PudParams):
    variants: list[str]
    random_weights: int | None = None
    """The init seed of the random-weights control scored instead of the pretrained model;
    None: the pretrained model (in the key only when set)."""

    def identity(self) -> dict[str, Any]:
        return {**self.pud_identity(), "variants": self.variants,
                **control_identity(self.random_weights)}

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "ud": self.ud, **self.identity()}

    def label(self) -> str:
        return f"retrieval ({control_label(self.random_weights)})"

    def cost(self) -> float:
        return self.passes()


def expand(study: Study, grid: Grid) -> list[Cell]:
    ret = study.retrieval
    if ret is None:
        return []
    params = Params(model=study.model, ud=study.ud, source=study.source,
                    languages=ret.languages, variants=ret.variants, pooling=ret.pooling,
                    n=ret.n, n_boot=ret.n_boot, n_null=ret.n_null,
                    precision=resolve_frozen(ret.precision))
    files = pud_roles(grid.ud, study.source, ret.languages)
    cells = []
    for p in [params, *(replace(params, random_weights=k) for k in study.random_weights)]:
        cells.append(Cell(grid.key(KIND, p, files), KIND, p, depends_on=_after(grid, p)))
    return cells


def _after(grid: Grid, params: Params) -> tuple[str, ...]:
    """The similarity cell of the same model (pretrained, or the same control) when both
    encode the same sentences the same way: its vectors are then in the shared cache (two
    workers on one store would otherwise both encode them at once)."""
    return tuple(c.key for c in grid.of_kind("similarity") if isinstance(c.params, PudParams)
                 and (c.params.pooling, c.params.n, c.params.precision) ==
                 (params.pooling, params.n, params.precision)
                 and getattr(c.params, "random_weights", None) == params.random_weights
                 and set(params.languages) <= set(c.params.languages))


def run(params: Params, workdir: Path) -> Outcome:
    """Parallel sentence retrieval per layer (P@1, both directions) of the pretrained model,
    or of a random-weights control."""
    from crossling.retrieval.settings import RetrievalSettings
    from crossling.workflows.retrieval import run_retrieval

    settings = RetrievalSettings(n=params.n, variants=tuple(params.variants),
                                 pooling=params.pooling, n_boot=params.n_boot,
                                 n_null=params.n_null, seed=0, progress=False,
                                 precision=params.precision)
    model = frozen_model(params.model, params.random_weights)
    rows = run_retrieval(model, params.ud, params.source, targets=params.languages,
                         settings=settings, cache_dir=vector_cache(workdir))
    rows = with_control(rows, model)
    return rows, rows[0].provenance if rows else {}
