"""Tables of results as pandas DataFrames (printed by the CLI, rendered by the report)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from crossling.report.plots import rows_frame
from crossling.results import SimilarityRow


def similarity_table(rows: Sequence[SimilarityRow], measure: str) -> pd.DataFrame:
    """Layers x targets table of one measure; a last row gives each target's shuffled null."""
    df = rows_frame(rows)
    df = df[df["metric"] == measure]
    table = df.pivot_table(index="layer", columns="target", values="value", aggfunc="first")
    null = df.pivot_table(index="layer", columns="target", values="null_mean", aggfunc="first")
    table.loc["null (mean)"] = null.mean(axis=0)
    table.columns.name = None
    return table
