"""Similarity vs transfer across languages (P6): which layer a task's scatter shows, and its
points.

The layer is the pretrained one with the largest |ρ|, a *selected* layer: its ρ is optimistic,
so the points carry both intervals and the choice carries ρ's bootstrap interval.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from crossling.analysis.correlate import MAIN_METRIC, transfer_rows
from crossling.analysis.frames import language_code


@dataclass(frozen=True)
class ScatterChoice:
    """A task's scatter: the metric, the selected ``layer``, that layer's row of the
    correlations (ρ, CI, p, n) and the plotted ``points`` (`scatter_points`)."""

    task: str
    metric: str
    layer: int
    row: pd.Series
    points: pd.DataFrame


def scatter_choices(corr: pd.DataFrame, sim: pd.DataFrame, scores: pd.DataFrame,
                    measure: str) -> tuple[ScatterChoice, ...]:
    """Per task of ``corr`` (one measure's correlations; main metric, else the first): the
    pretrained layer with the largest |ρ| and the points of its scatter."""
    out = []
    for task in sorted(set(corr["task"])):
        metrics = sorted(set(corr[corr["task"] == task]["metric"]))
        metric = MAIN_METRIC.get(str(task), metrics[0])
        metric = metric if metric in metrics else metrics[0]
        pre = corr[(corr["task"] == task) & (corr["metric"] == metric) &
                   ~corr["finetuned"]].dropna(subset=["rho"])
        if pre.empty:
            continue
        best = pre.loc[pre["rho"].abs().idxmax()]
        layer = int(best["layer"])
        points = scatter_points(sim, scores, measure, layer, str(task), str(metric))
        out.append(ScatterChoice(str(task), str(metric), layer, best, points))
    return tuple(out)


def scatter_points(sim: pd.DataFrame, scores: pd.DataFrame, measure: str, layer: int,
                   task: str, metric: str) -> pd.DataFrame:
    """One row per language with both: the target's pretrained similarity with the source at
    ``layer`` (mean of its rows, with its bootstrap CI over sentences) and its REF zero-shot
    score of ``task``/``metric`` (mean over seeds, per-seed bootstrap bounds averaged)."""
    cross = sim[(sim["kind"] == "cross-lingual") & (sim["metric"] == measure) &
                (sim["layer"] == layer) & ~sim["finetuned"]]
    x = cross.groupby(cross["target"].map(language_code))[["value", "ci_low", "ci_high"]].mean()
    ref = transfer_rows(scores, task, metric)  # one test set: never WikiANN de + UNER de_pud
    y = ref.groupby(ref["language"].map(language_code))[["value", "ci_low", "ci_high"]].mean()
    langs = sorted(set(x.index) & set(y.index))
    x, y = x.loc[langs], y.loc[langs]
    return pd.DataFrame({"language": langs, "layer": layer, "measure": measure,
                         "similarity": x["value"].to_numpy(), "similarity_ci_low":
                         x["ci_low"].to_numpy(), "similarity_ci_high": x["ci_high"].to_numpy(),
                         "task": task, "metric": metric, "score": y["value"].to_numpy(),
                         "score_ci_low": y["ci_low"].to_numpy(),
                         "score_ci_high": y["ci_high"].to_numpy()})
