"""A study's grid: its cells, kind by kind, dependencies before dependents, and their cost.

Each kind (`crossling.experiments.kinds`) expands its own cells; the grid only chains
them, in the registry's order, and marks the cells whose output a later cell reads.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from crossling.core.errors import ConfigError
from crossling.experiments.cell import Cell, Grid, model_key
from crossling.experiments.config import Study
from crossling.experiments.kinds import KINDS


def expand(study: Study) -> list[Cell]:
    """All cells of a study, dependencies before dependents."""
    for name in study.resources:
        if name not in KINDS:
            raise ConfigError(f"{study.path}: resources.{name}: unknown cell kind (available: "
                              f"{', '.join(KINDS)})")
    cells: list[Cell] = []
    for model in study.all_models:  # each model's cells on their own (the key has the model)
        own = study.for_model(model)
        grid = Grid(ud=Path(study.ud), ner=Path(study.ner) if study.ner else None,
                    model_id=model_key(model), cells=[])
        for kind in KINDS.values():
            grid.cells.extend(kind.expand(own, grid))
        cells.extend(grid.cells)
    read = {key for c in cells for key in c.reads}
    return [replace(c, params=c.params.output_read()) if c.key in read else c for c in cells]


def estimate_cost(cells: list[Cell], tokens_per_s: float | None = None,
                  ) -> dict[str, float]:
    """Rough cost in sentence passes and, with a measured throughput, in seconds per kind.

    Each kind's parameters estimate their forward passes; ``tokens_per_s`` (forward tokens per
    second, e.g. from a finished cell) converts passes to seconds at ~30 tokens per sentence.
    """
    passes: dict[str, float] = {}
    for c in cells:
        passes[c.kind] = passes.get(c.kind, 0.0) + c.params.cost()
    if tokens_per_s:
        return {k: v * 30 / tokens_per_s for k, v in passes.items()}
    return passes
