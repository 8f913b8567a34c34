"""Markdown tables of the report and of its generated README: one formatter for both, so a
number reads the same in README.md, report.md and the HTML tables."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd


def fmt_cell(v: Any) -> str:
    """One table cell as text: floats to 2 decimals (3 significant digits below 0.01), NaN as
    an en dash, booleans as True/False, anything else as ``str``."""
    if isinstance(v, bool | np.bool_):
        return str(bool(v))
    if isinstance(v, float | np.floating):
        v = float(v)
        if math.isnan(v):
            return "–"
        return f"{v:.3g}" if 0 < abs(v) < 0.01 else f"{v:.2f}"
    return str(v)


def markdown_table(df: pd.DataFrame) -> str:
    """A data frame as a GitHub Markdown table (pipes and newlines in cells escaped)."""
    def cell(v: Any) -> str:
        return fmt_cell(v).replace("|", "\\|").replace("\n", " ")

    cols = [cell(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    return "\n".join(lines)
