"""Retrieval rows as frames and tables: the numbers of the CLI printout and the report section.

Retrieval rows are `SimilarityRow`s with ``kind = "retrieval"`` (`crossling.retrieval`); the
variant and the direction are read back from the metric id. No drawing here (the figure:
`crossling.report.retrieval_plots`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeGuard

import pandas as pd

from crossling.results import RetrievalRow, SimilarityRow
from crossling.retrieval.metrics import RETRIEVAL_METRICS, VARIANTS

FRAME_COLUMNS = ["source", "target", "layer", "variant", "direction", "metric", "value",
                 "ci_low", "ci_high", "chance", "null_high", "n", "pooling", "model"]

MEAN_TARGET = "mean over targets"
"""The ``target`` label of the peak table's row for the curve averaged over targets."""


def is_retrieval(row: SimilarityRow) -> TypeGuard[RetrievalRow]:
    """Whether a similarity row is a retrieval row (kind and a known metric id)."""
    return isinstance(row, RetrievalRow) and row.metric in RETRIEVAL_METRICS


def retrieval_frame(rows: Sequence[SimilarityRow]) -> pd.DataFrame:
    """One row per P@1 value with its ``variant`` and ``direction``; ``chance`` is the row's
    ``null_mean`` (1/n). Non-retrieval rows are ignored."""
    records = []
    for r in rows:
        if not is_retrieval(r):
            continue
        variant, direction = RETRIEVAL_METRICS[r.metric]
        records.append({"source": r.source, "target": r.target, "layer": int(r.layer),
                        "variant": variant, "direction": direction, "metric": r.metric,
                        "value": r.value, "ci_low": r.ci_low, "ci_high": r.ci_high,
                        "chance": r.null_mean, "null_high": r.null_high, "n": r.n,
                        "pooling": r.pooling, "model": r.model})
    return pd.DataFrame.from_records(records, columns=FRAME_COLUMNS)


def variants_present(frame: pd.DataFrame) -> list[str]:
    """The variants of ``frame`` in display order (`VARIANTS`)."""
    present = set(frame["variant"])
    return [v for v in VARIANTS if v in present]


def layer_table(frame: pd.DataFrame, variant: str) -> pd.DataFrame:
    """Layers (rows) x targets (columns): P@1 of ``variant``, mean of the two directions; a
    last row ``chance (1/n)``."""
    sub = frame[frame["variant"] == variant]
    table = sub.pivot_table(index="layer", columns="target", values="value", aggfunc="mean")
    chance = sub.pivot_table(index="layer", columns="target", values="chance", aggfunc="mean")
    table.loc["chance (1/n)"] = chance.mean(axis=0)
    table.columns.name = None
    return table


def _fmt(value: float, low: float, high: float) -> str:
    if pd.isna(low) or pd.isna(high):
        return f"{value:.3f}"
    return f"{value:.3f} [{low:.3f}, {high:.3f}]"


def peak_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per target (and the mean over targets) and variant: the layer where P@1 peaks in each
    direction, P@1 there with its 95% bootstrap CI (over query sentences; none for the mean
    over targets), P@1 at the last layer, and chance (1/n).

    Ties go to the lowest layer. ``source→target`` is the ``s2t`` direction (source queries,
    target candidates), ``target→source`` the ``t2s`` one.
    """
    if frame.empty:
        return pd.DataFrame()
    records = []
    targets = sorted(set(frame["target"]))
    for variant in variants_present(frame):
        sub = frame[frame["variant"] == variant]
        groups = [(t, sub[sub["target"] == t], False) for t in targets]
        if len(targets) > 1:
            groups.append((MEAN_TARGET, sub, True))
        for target, g, averaged in groups:
            record: dict[str, object] = {"source": str(g["source"].iloc[0]), "target": target,
                                         "variant": variant}
            for direction, name in (("s2t", "source→target"), ("t2s", "target→source")):
                d = g[g["direction"] == direction]
                if d.empty:
                    continue
                curve = d.groupby("layer")[["value", "ci_low", "ci_high"]].mean().sort_index()
                peak = int(curve["value"].idxmax())
                at = curve.loc[peak]
                record[f"peak layer ({name})"] = peak
                record[f"P@1 at peak ({name})"] = (
                    f"{at['value']:.3f}" if averaged else
                    _fmt(float(at["value"]), float(at["ci_low"]), float(at["ci_high"])))
                record[f"P@1 last layer ({name})"] = f"{curve['value'].iloc[-1]:.3f}"
            record["chance"] = float(g["chance"].mean())
            records.append(record)
    return pd.DataFrame.from_records(records)
