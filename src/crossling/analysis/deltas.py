"""RANDOM-INIT effects: the change of each score when a layer group is re-initialised.

For every task, metric, model, seed and language, Δ = score(group) - score(REF) with the *same*
seed (the seed fixes head init, data order and the re-init draw, so the pairing removes the
seed-to-seed variance that the paper's single runs could not separate from the effect).

:func:`summarize` gives, per (task, metric, group), the source Δ and the mean Δ over target
languages, each as a mean over seeds with a 95% t-interval across seeds (``scipy.stats.t``; with
one seed there is no interval and the ``note`` column says so), the gap (target Δ - source Δ;
negative = the targets lose more, the paper's P2) and a paired test.

The paired test of a group: for each target language, d = Δ_target - Δ_source (both averaged over
seeds); a two-sided Wilcoxon signed-rank test of d against 0 across target languages
(``scipy.stats.wilcoxon``, exact null distribution for small n). Targets are the natural
replication unit of "transfer suffers more than the source"; the signed-rank test needs no
normality assumption, which a handful of languages could not check. With fewer than 6 targets no
two-sided p below 0.05 is possible, so the table reports n beside p.

:func:`pooled_test` asks the same question once per task and metric across all (seed x group)
pairs: d = mean target Δ - source Δ, Wilcoxon signed-rank across pairs.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

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

    ``scores`` is :func:`crossling.analysis.frames.scores_frame` output. Scores without a
    matching REF run (same task, metric, model, seed, language) are dropped: a Δ against another
    seed's REF would mix seed variance into the effect.
    """
    is_ref = scores["reinit"].str.upper() == "REF"
    keys = ["task", "metric", "model", "seed", "language"]
    ref = scores[is_ref].groupby(keys, as_index=False)["value"].mean()
    merged = scores[~is_ref].merge(ref, on=keys, suffixes=("", "_ref"))
    merged["delta"] = merged["value"] - merged["value_ref"]
    return merged[DELTA_COLUMNS].reset_index(drop=True)


def mean_ci(values: np.ndarray) -> tuple[float, float, float]:
    """Mean and 95% t-interval of finite ``values``; NaN bounds with fewer than 2 values."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(values.mean())
    if values.size < 2:
        return mean, math.nan, math.nan
    sem = float(stats.sem(values))
    if sem == 0.0:
        return mean, mean, mean
    lo, hi = stats.t.interval(0.95, values.size - 1, loc=mean, scale=sem)
    return mean, float(lo), float(hi)


def _wilcoxon(diffs: np.ndarray) -> tuple[float, float]:
    """Two-sided signed-rank statistic and p; NaN when undefined (n < 2 or all d = 0)."""
    diffs = diffs[np.isfinite(diffs)]
    if diffs.size < 2 or not np.any(diffs != 0):
        return math.nan, math.nan
    res = stats.wilcoxon(diffs)
    return float(res.statistic), float(res.pvalue)


def summarize(d: pd.DataFrame) -> pd.DataFrame:
    """Source vs mean-of-targets Δ per (task, metric, group), CIs across seeds, paired test."""
    rows = []
    for (task, metric, group), sub in d.groupby(["task", "metric", "reinit"]):
        src = sub[sub["is_source"]].groupby("seed")["delta"].mean()
        tgt = sub[~sub["is_source"]].groupby("seed")["delta"].mean()
        seeds = sorted(set(src.index) & set(tgt.index)) if len(src) else sorted(tgt.index)
        s_mean, s_lo, s_hi = mean_ci(src.reindex(seeds).to_numpy())
        t_mean, t_lo, t_hi = mean_ci(tgt.reindex(seeds).to_numpy())
        gap_mean, gap_lo, gap_hi = mean_ci((tgt.reindex(seeds) - src.reindex(seeds)).to_numpy())
        per_lang = sub[~sub["is_source"]].groupby("language")["delta"].mean()
        diffs = (per_lang - src.reindex(seeds).mean()).to_numpy()
        stat, p = _wilcoxon(diffs)
        notes = []
        if len(seeds) < 2:
            notes.append(f"{len(seeds)} seed: no CI")
        if src.empty:
            notes.append("no source score (the rows lack 'source')")
        rows.append({"task": task, "metric": metric, "reinit": group, "seeds": len(seeds),
                     "source_delta": s_mean, "source_ci_low": s_lo, "source_ci_high": s_hi,
                     "target_delta": t_mean, "target_ci_low": t_lo, "target_ci_high": t_hi,
                     "gap": gap_mean, "gap_ci_low": gap_lo, "gap_ci_high": gap_hi,
                     "n_targets": int(np.isfinite(diffs).sum()), "wilcoxon_stat": stat,
                     "p_value": p, "note": "; ".join(notes)})
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    out["_order"] = out["reinit"].map(group_order)
    return out.sort_values(["task", "metric", "_order"]).drop(columns="_order").reset_index(
        drop=True)


def pooled_test(d: pd.DataFrame) -> pd.DataFrame:
    """Per (task, metric): Wilcoxon signed-rank of (mean target Δ - source Δ) across all
    (seed x group) pairs; ``n`` pairs, ``median_gap`` (negative: targets lose more)."""
    rows = []
    for (task, metric), sub in d.groupby(["task", "metric"]):
        src = sub[sub["is_source"]].groupby(["seed", "reinit"])["delta"].mean()
        tgt = sub[~sub["is_source"]].groupby(["seed", "reinit"])["delta"].mean()
        gap = (tgt - src).dropna().to_numpy()
        stat, p = _wilcoxon(gap)
        rows.append({"task": task, "metric": metric, "n": int(gap.size),
                     "median_gap": float(np.median(gap)) if gap.size else math.nan,
                     "wilcoxon_stat": stat, "p_value": p})
    return pd.DataFrame(rows, columns=["task", "metric", "n", "median_gap", "wilcoxon_stat",
                                       "p_value"])
