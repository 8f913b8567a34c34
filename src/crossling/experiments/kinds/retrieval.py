"""``retrieval`` cells: parallel sentence retrieval of the pretrained model (one per study)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crossling.experiments.cell import Cell, Grid, Outcome, pud_roles, vector_cache
from crossling.experiments.config import Study
from crossling.experiments.kinds.common import PudParams, resolve_frozen

KIND = "retrieval"


@dataclass(frozen=True)
class Params(PudParams):
    variants: list[str]

    def identity(self) -> dict[str, Any]:
        return {**self.pud_identity(), "variants": self.variants}

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "ud": self.ud, **self.identity()}

    def label(self) -> str:
        return "retrieval (pretrained)"

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
    # after the pretrained similarity when both encode the same sentences the same way: its
    # vectors are then in the shared cache (two workers on one store would otherwise both
    # encode them at once)
    after = tuple(c.key for c in grid.of_kind("similarity") if isinstance(c.params, PudParams)
                  and (c.params.pooling, c.params.n, c.params.precision) ==
                  (params.pooling, params.n, params.precision)
                  and set(ret.languages) <= set(c.params.languages))
    files = pud_roles(grid.ud, study.source, ret.languages)
    return [Cell(grid.key(KIND, params, files), KIND, params, depends_on=after)]


def run(params: Params, workdir: Path) -> Outcome:
    """Parallel sentence retrieval per layer of the pretrained model (P@1, both directions)."""
    from crossling.retrieval.settings import RetrievalSettings
    from crossling.workflows.retrieval import run_retrieval

    settings = RetrievalSettings(n=params.n, variants=tuple(params.variants),
                                 pooling=params.pooling, n_boot=params.n_boot,
                                 n_null=params.n_null, seed=0, progress=False,
                                 precision=params.precision)
    rows = run_retrieval(params.model, params.ud, params.source, targets=params.languages,
                         settings=settings, cache_dir=vector_cache(workdir))
    return rows, rows[0].provenance if rows else {}
