"""Does per-layer similarity predict zero-shot transfer across languages? (the paper's P6)

For a task, a metric and a similarity measure: at each layer, the Spearman correlation across
target languages between the similarity source<->target and the REF zero-shot score on that
target (mean over seeds), with a 95% bootstrap interval that resamples *languages*.
Languages are joined on their code (``fr`` matches ``fr``, ``fr_pud``).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from crossling.analysis.frames import language_code


def transfer_scores(scores: pd.DataFrame, task: str, metric: str) -> pd.Series:
    """REF zero-shot score per target language code (mean over seeds)."""
    sub = scores[(scores["task"] == task) & (scores["metric"] == metric) &
                 (scores["reinit"].str.upper() == "REF") & ~scores["is_source"]]
    return sub.groupby(sub["language"].map(language_code))["value"].mean()


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    if len(x) < 3 or np.all(x == x[0]) or np.all(y == y[0]):
        return math.nan
    return float(stats.spearmanr(x, y).statistic)


def correlations(similarity: pd.DataFrame, scores: pd.DataFrame, task: str, metric: str,
                 measure: str, finetuned: bool = False, n_boot: int = 1000,
                 seed: int = 0) -> pd.DataFrame:
    """Per layer: Spearman rho (similarity vs score across languages), CI, p-value, n."""
    score = transfer_scores(scores, task, metric)
    sim = similarity[(similarity["kind"] == "cross-lingual") & (similarity["metric"] == measure)]
    sim = sim[sim["task"] == task] if finetuned else sim[sim["task"].isna()]
    rng = np.random.default_rng(seed)
    rows = []
    for layer, sub in sim.groupby("layer"):
        per_lang = sub.groupby(sub["target"].map(language_code))["value"].mean()
        langs = sorted(set(per_lang.index) & set(score.index))
        x = per_lang.loc[langs].to_numpy()
        y = score.loc[langs].to_numpy()
        rho = _spearman(x, y)
        p = float(stats.spearmanr(x, y).pvalue) if not math.isnan(rho) else math.nan
        lo = hi = math.nan
        if len(langs) >= 3 and n_boot > 0:
            boots = []
            for _ in range(n_boot):
                idx = rng.integers(0, len(langs), len(langs))
                boots.append(_spearman(x[idx], y[idx]))
            arr = np.array(boots)
            arr = arr[np.isfinite(arr)]
            if arr.size:
                lo, hi = (float(v) for v in np.percentile(arr, [2.5, 97.5]))
        rows.append({"task": task, "metric": metric, "measure": measure,
                     "finetuned": finetuned, "layer": int(str(layer)), "rho": rho, "ci_low": lo,
                     "ci_high": hi, "p_value": p, "n_languages": len(langs)})
    return pd.DataFrame(rows)


def pretrained_vs_finetuned(similarity: pd.DataFrame, measure: str) -> pd.DataFrame:
    """Per task and layer: CKA(pretrained, fine-tuned) on the same sentences, mean over
    languages and seeds (with min and max over them)."""
    sub = similarity[(similarity["kind"] == "model-model") & (similarity["metric"] == measure)]
    if sub.empty:
        return pd.DataFrame(columns=["task", "layer", "mean", "min", "max"])
    out = sub.groupby(["task", "layer"])["value"].agg(["mean", "min", "max"]).reset_index()
    return out
