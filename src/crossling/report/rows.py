"""Result rows as a DataFrame, without matplotlib.

Kept apart from :mod:`crossling.report.plots` (which imports matplotlib) so that the report's
tables, and :func:`crossling.report.analyses.compute_report`, can be built by code that never
draws: a notebook or a test asking for the numbers should not pay for, or need, a plotting
backend.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from crossling.results import SimilarityRow, row_dict


def rows_frame(rows: Sequence[SimilarityRow]) -> pd.DataFrame:
    """Rows as a DataFrame without the (bulky) provenance column."""
    return pd.DataFrame([{k: v for k, v in row_dict(r).items() if k != "provenance"}
                         for r in rows])
