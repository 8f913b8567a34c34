"""RANDOM-INIT effects: the change of each score when a layer group is re-initialised.

Δ = score(group) - score(REF) of the *same* seed: the seed fixes head init, data order and the
re-init draw, so pairing removes the seed-to-seed variance. `summarize` gives per (task,
metric, group) the source Δ, the mean target Δ and their gap, each a mean over seeds with a
t-interval across seeds; seeds that agree exactly give no interval, never a zero-width one.
No significance test lives here: with seeds as the unit and languages and sentences nested
under them, that is `crossling.analysis.hierarchical.hierarchical_gaps`.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from crossling.analysis.frames import without_other_source_sets

DELTA_COLUMNS = ["task", "metric", "model", "seed", "reinit", "language", "is_source", "value",
                 "value_ref", "delta"]


def group_order(group: str) -> tuple[int, str]:
    """REF first, then groups by their first block number (1-2, 3-4, ..., 11-12), then others."""
    if group.upper() == "REF":
        return (-1, group)
    digits = "".join(ch if ch.isdigit() else " " for ch in group).split()
    return (int(digits[0]) if digits else 99, group)


def deltas(scores: pd.DataFrame) -> pd.DataFrame:
    """Per (task, metric, model, seed, group, language): Δ vs the REF run with the same seed.

    ``scores`` is `crossling.analysis.frames.scores_frame` output. Scores without a
    matching REF run (same task, metric, model, seed, language) are dropped: a Δ against another
    seed's REF would mix seed variance into the effect. So are other test sets *of the source
    language* (e.g. Universal NER's en_pud beside WikiANN en, the NER source): they are neither
    the source score nor a target, and would otherwise be averaged into "the targets".
    """
    scores = without_other_source_sets(scores)
    is_ref = scores["reinit"].str.upper() == "REF"
    keys = ["task", "metric", "model", "seed", "language"]
    ref = scores[is_ref].groupby(keys, as_index=False)["value"].mean()
    merged = scores[~is_ref].merge(ref, on=keys, suffixes=("", "_ref"))
    merged["delta"] = merged["value"] - merged["value_ref"]
    return merged[DELTA_COLUMNS].reset_index(drop=True)


def mean_ci(values: np.ndarray) -> tuple[float, float, float]:
    """Mean and 95% t-interval of finite ``values``; NaN bounds with fewer than 2 values, and
    when the values are all equal (a zero-width interval from a few seeds that happen to agree
    would read as certainty)."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(values.mean())
    if values.size < 2:
        return mean, math.nan, math.nan
    if _agree(values):
        return mean, math.nan, math.nan
    sem = float(stats.sem(values))
    lo, hi = stats.t.interval(0.95, values.size - 1, loc=mean, scale=sem)
    return mean, float(lo), float(hi)


def _agree(values: np.ndarray) -> bool:
    """All values equal up to floating-point rounding (scores of seeds that happen to agree)."""
    return bool(np.ptp(values) <= 1e-9 * max(1.0, float(np.abs(values).max())))


def summarize(d: pd.DataFrame) -> pd.DataFrame:
    """Source vs mean-of-targets Δ per (task, metric, group), each with a t-interval across seeds
    (descriptive; the test of P2 is `crossling.analysis.hierarchical.hierarchical_gaps`)."""
    rows = []
    for (task, metric, group), sub in d.groupby(["task", "metric", "reinit"]):
        src = sub[sub["is_source"]].groupby("seed")["delta"].mean()
        tgt = sub[~sub["is_source"]].groupby("seed")["delta"].mean()
        seeds = sorted(set(src.index) & set(tgt.index)) if len(src) else sorted(tgt.index)
        s_mean, s_lo, s_hi = mean_ci(src.reindex(seeds).to_numpy())
        t_mean, t_lo, t_hi = mean_ci(tgt.reindex(seeds).to_numpy())
        gap_mean, gap_lo, gap_hi = mean_ci((tgt.reindex(seeds) - src.reindex(seeds)).to_numpy())
        n_targets = sub[~sub["is_source"]]["language"].nunique()
        notes = []
        if len(seeds) < 2:
            notes.append(f"{len(seeds)} seed: no CI")
        elif any(_agree(v.reindex(seeds).to_numpy()) for v in (src, tgt) if len(v)):
            notes.append("seeds agree exactly: no spread estimate")
        if src.empty:
            notes.append("no source score (the rows lack 'source')")
        rows.append({"task": task, "metric": metric, "reinit": group, "seeds": len(seeds),
                     "source_delta": s_mean, "source_ci_low": s_lo, "source_ci_high": s_hi,
                     "target_delta": t_mean, "target_ci_low": t_lo, "target_ci_high": t_hi,
                     "gap": gap_mean, "gap_ci_low": gap_lo, "gap_ci_high": gap_hi,
                     "n_targets": int(n_targets), "note": "; ".join(notes)})
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    out["_order"] = out["reinit"].map(group_order)
    return out.sort_values(["task", "metric", "_order"]).drop(columns="_order").reset_index(
        drop=True)
