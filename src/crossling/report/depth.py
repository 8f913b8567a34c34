"""Models of different depth side by side: rows split by model, layers and re-init groups on
a relative-depth axis (0 = embeddings, 1 = the top block; `crossling.models.reinit.
relative_depth`). Frames only: this module draws nothing (`crossling.report.figures` does).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from crossling.analysis.controls import control_of, split_control_rows
from crossling.analysis.deltas import deltas, summarize
from crossling.analysis.frames import finetuning_of, scores_frame
from crossling.analysis.probing import split_probe_rows
from crossling.models.reinit import relative_depth
from crossling.results import ScoreRow, SimilarityRow

__all__ = ["DepthComparison", "base_model", "compare_depths", "split_by_model"]


def base_model(row: ScoreRow | SimilarityRow) -> str:
    """The pretrained model a row belongs to: a score row's ``model``; a fine-tuned model's
    similarity row names it ``<model>+<task>...`` (`tuned_name`), so its base is the part
    before the last ``+``; a comparison row of a pretrained and a tuned model: the pretrained;
    a random-weights control's row: the model whose architecture it has."""
    control = control_of(row)
    if control is not None:
        return str(control["of"])
    if isinstance(row, ScoreRow):
        return row.model
    compare = getattr(row, "compare_model", None)
    if compare and "+" not in compare:
        return str(compare)
    if row.task is not None and "+" in row.model:
        return row.model.rpartition("+")[0]
    return row.model


def split_by_model(scores: Sequence[ScoreRow], sims: Sequence[SimilarityRow],
                   ) -> dict[str, tuple[list[ScoreRow], list[SimilarityRow]]]:
    """The rows of each pretrained model (`base_model`), models in order of first row."""
    out: dict[str, tuple[list[ScoreRow], list[SimilarityRow]]] = {}
    for s in scores:
        out.setdefault(base_model(s), ([], []))[0].append(s)
    for r in sims:
        out.setdefault(base_model(r), ([], []))[1].append(r)
    return out


def model_depth(sims: Sequence[SimilarityRow]) -> int | None:
    """A model's transformer blocks: the highest layer of its similarity rows (layers run from
    0, the embeddings, to L; weight-change rows of fine-tuning cover every block), None
    without rows."""
    layers = [r.layer for r in sims]
    return max(layers) if layers and max(layers) > 0 else None


@dataclass(frozen=True)
class DepthComparison:
    """Every model's numbers on the relative-depth axis."""

    depths: pd.DataFrame
    """Per model: its blocks (L)."""
    similarity: pd.DataFrame
    """Per model, measure and layer: relative depth, mean cross-lingual similarity of the
    pretrained model over targets and the mean shuffled-pairs null (depth-similarity.csv)."""
    deltas: pd.DataFrame
    """Per model, task, metric and re-init group: the group's relative depth and the source and
    mean-target Δ vs REF with their t-intervals across seeds (depth-deltas.csv)."""


def compare_depths(by_model: dict[str, tuple[list[ScoreRow], list[SimilarityRow]]],
                   ) -> DepthComparison:
    """The relative-depth frames of ``by_model`` (`split_by_model`): the pretrained and
    fine-tuned models' rows (a random-weights control's are in each model's own report)."""
    depth_rows, sim_parts, delta_parts = [], [], []
    for model, (all_scores, all_sims) in by_model.items():
        scores, sims = split_control_rows(all_scores)[1], split_control_rows(all_sims)[1]
        blocks = model_depth(sims)
        depth_rows.append({"model": model, "blocks": blocks})
        pre = [r for r in sims if r.kind == "cross-lingual" and finetuning_of(r)[0] is None]
        if pre and blocks:
            f = pd.DataFrame([{"metric": r.metric, "layer": r.layer, "target": r.target,
                               "value": r.value, "null_mean": getattr(r, "null_mean", math.nan)}
                              for r in pre])
            g = f.groupby(["metric", "layer"], as_index=False).agg(
                value=("value", "mean"), null_mean=("null_mean", "mean"),
                targets=("target", "nunique"))
            g.insert(0, "model", model)
            g.insert(3, "relative_depth", g["layer"] / blocks)
            sim_parts.append(g)
        _, tuned = split_probe_rows(scores)
        d = deltas(scores_frame(tuned)) if tuned else pd.DataFrame()
        if not d.empty:
            s = summarize(d)
            s.insert(0, "model", model)
            s.insert(4, "relative_depth", [
                relative_depth(str(g), blocks) if blocks else math.nan for g in s["reinit"]])
            delta_parts.append(s)
    sim = pd.concat(sim_parts, ignore_index=True) if sim_parts else pd.DataFrame()
    dl = pd.concat(delta_parts, ignore_index=True) if delta_parts else pd.DataFrame()
    return DepthComparison(depths=pd.DataFrame(depth_rows), similarity=sim, deltas=dl)


def similarity_table(sim: pd.DataFrame, measure: str) -> pd.DataFrame:
    """``measure``'s curves as one table: relative depth, then per model its layer and value
    (rows: every model's layers, ordered by relative depth)."""
    if sim.empty:
        return pd.DataFrame()
    t = sim[sim["metric"] == measure]
    return t[["relative_depth", "model", "layer", "value", "null_mean"]].sort_values(
        ["relative_depth", "model"]).reset_index(drop=True)


def delta_table(dl: pd.DataFrame) -> pd.DataFrame:
    """Δ vs REF per model and group, ordered by task, metric and relative depth."""
    if dl.empty:
        return pd.DataFrame()
    cols = ["task", "metric", "relative_depth", "model", "reinit", "seeds", "source_delta",
            "target_delta", "gap"]
    return dl[dl["relative_depth"].notna()][cols].sort_values(
        ["task", "metric", "relative_depth", "model"]).reset_index(drop=True)
