"""RANDOM-INIT effects: the change of each score when a layer group is re-initialised.

For every task, metric, seed and language, Δ = score(group) - score(REF) with the same seed.
The summary per (task, metric, group) gives the source Δ and the mean Δ over target languages,
each as a mean over seeds with a 95% t-interval across seeds (none with one seed), the gap
(target Δ - source Δ; negative = the targets lose more, the paper's P2), and a paired test.

The test: for each target language, d = Δ_target - Δ_source (averaged over seeds); a two-sided
Wilcoxon signed-rank test of d against 0 across target languages (scipy.stats.wilcoxon). Targets
are the natural replication unit of "transfer hurts more than the source"; Wilcoxon avoids a
normality assumption on a handful of languages. With fewer than 6 targets, no p-value below 0.05
is possible; the table reports n so readers can judge.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats


def group_order(group: str) -> tuple[int, str]:
    """REF first, then groups by their first block number (1-2, 3-4, ..., 11-12)."""
    if group.upper() == "REF":
        return (-1, group)
    digits = "".join(ch if ch.isdigit() else " " for ch in group).split()
    return (int(digits[0]) if digits else 99, group)


def deltas(scores: pd.DataFrame) -> pd.DataFrame:
    """Per (task, metric, seed, group, language): Δ vs REF with the same seed."""
    ref = scores[scores["reinit"].str.upper() == "REF"]
    other = scores[scores["reinit"].str.upper() != "REF"]
    keys = ["task", "metric", "seed", "language"]
    merged = other.merge(ref[[*keys, "value"]], on=keys, suffixes=("", "_ref"))
    merged["delta"] = merged["value"] - merged["value_ref"]
    return merged[["task", "metric", "seed", "reinit", "language", "is_source", "value",
                   "value_ref", "delta"]]


def _mean_ci(values: np.ndarray) -> tuple[float, float, float]:
    values = values[np.isfinite(values)]
    if values.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(values.mean())
    if values.size < 2:
        return mean, math.nan, math.nan
    half = float(stats.t.ppf(0.975, values.size - 1) * values.std(ddof=1) / math.sqrt(values.size))
    return mean, mean - half, mean + half


def summarize(d: pd.DataFrame) -> pd.DataFrame:
    """Source vs mean-of-targets Δ per (task, metric, group), with CIs across seeds and a test."""
    rows = []
    for (task, metric, group), sub in d.groupby(["task", "metric", "reinit"]):
        src = sub[sub["is_source"]].groupby("seed")["delta"].mean()
        tgt = sub[~sub["is_source"]].groupby("seed")["delta"].mean()
        seeds = sorted(set(src.index) & set(tgt.index))
        s_mean, s_lo, s_hi = _mean_ci(src.loc[seeds].to_numpy())
        t_mean, t_lo, t_hi = _mean_ci(tgt.loc[seeds].to_numpy())
        gap_mean, gap_lo, gap_hi = _mean_ci((tgt.loc[seeds] - src.loc[seeds]).to_numpy())
        per_lang = sub[~sub["is_source"]].groupby("language")["delta"].mean()
        src_mean = sub[sub["is_source"]]["delta"].mean()
        diffs = (per_lang - src_mean).to_numpy()
        stat, p = math.nan, math.nan
        if diffs.size >= 2 and np.any(diffs != 0):
            res = stats.wilcoxon(diffs)
            stat, p = float(res.statistic), float(res.pvalue)
        rows.append({"task": task, "metric": metric, "reinit": group, "seeds": len(seeds),
                     "source_delta": s_mean, "source_ci_low": s_lo, "source_ci_high": s_hi,
                     "target_delta": t_mean, "target_ci_low": t_lo, "target_ci_high": t_hi,
                     "gap": gap_mean, "gap_ci_low": gap_lo, "gap_ci_high": gap_hi,
                     "n_targets": int(diffs.size), "wilcoxon_stat": stat, "p_value": p})
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    out["_order"] = out["reinit"].map(group_order)
    return out.sort_values(["task", "metric", "_order"]).drop(columns="_order")
