"""The registry of cell kinds: one module per kind, one line here.

A kind module has ``KIND`` (its name), a frozen dataclass of typed parameters, ``expand(study,
grid)`` (its cells; ``grid.cells`` holds those of the kinds listed before it, e.g. the
fine-tuning cells a measuring kind depends on) and ``run(params, workdir)``. The order below is
the order of expansion; a test may register a fake kind here.
"""

from __future__ import annotations

from crossling.experiments.cell import CellKind
from crossling.experiments.kinds import (
    finetune,
    probe,
    retrieval,
    similarity,
    similarity_ft,
    similarity_seeds,
)

KINDS: dict[str, CellKind] = {
    similarity.KIND: similarity,
    finetune.KIND: finetune,
    similarity_ft.KIND: similarity_ft,
    similarity_seeds.KIND: similarity_seeds,
    retrieval.KIND: retrieval,
    probe.KIND: probe,
}
