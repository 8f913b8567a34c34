"""Does per-layer similarity predict zero-shot transfer across languages? (the paper's P6)

Per layer: Spearman's rho across target languages between the source-target similarity (of the
pretrained model, or of the model fine-tuned on the task) and the REF zero-shot score. Its 95%
interval resamples *languages*, the units the claim generalises over: with a dozen of them
rho's sampling distribution is far from normal, so a Fisher-z interval would be too
optimistic. `pretrained_vs_finetuned` summarises the model-model rows (P4).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from crossling.analysis.frames import (
    judged_test_set,
    language_code,
    ref_models,
    test_set_of,
    without_other_source_sets,
)
from crossling.core.stats import percentile_interval

MAIN_METRIC = {"pos": "upos_acc", "parsing": "las", "ner": "span_f1"}
CORRELATION_COLUMNS = ["task", "metric", "measure", "finetuned", "layer", "rho", "ci_low",
                       "ci_high", "p_value", "n_languages", "n_boot_valid"]


def _ref_targets(scores: pd.DataFrame, task: str, metric: str) -> pd.DataFrame:
    """REF zero-shot target rows of ``task``/``metric``, every test set of the source language
    excluded (the source test set, and e.g. UNER en_pud beside WikiANN en)."""
    scores = without_other_source_sets(scores)
    return scores[(scores["task"] == task) & (scores["metric"] == metric) &
                  (scores["reinit"].str.upper() == "REF") & ~scores["is_source"]]


def transfer_rows(scores: pd.DataFrame, task: str, metric: str,
                  test_set: str | None = None) -> pd.DataFrame:
    """`_ref_targets` of one test set: ``test_set`` (a
    `crossling.analysis.frames.test_set_of` pattern), by default the judged one
    (`crossling.analysis.frames.judged_test_set`)."""
    sub = _ref_targets(scores, task, metric)
    chosen = judged_test_set(sub) if test_set is None else test_set
    return sub[sub["language"].map(test_set_of) == chosen]


def other_test_sets(scores: pd.DataFrame, task: str, metric: str) -> list[str]:
    """The target test sets of ``task``/``metric`` besides the judged one (side tables)."""
    sub = _ref_targets(scores, task, metric)
    return sorted(set(sub["language"].map(test_set_of)) - {judged_test_set(sub)})


def transfer_scores(scores: pd.DataFrame, task: str, metric: str,
                    test_set: str | None = None) -> pd.Series:
    """REF zero-shot score per target language code, mean over seeds of one test set
    (`transfer_rows`): never the mean of two test sets of a language (WikiANN de and UNER
    de_pud are different sentences, domains and annotations)."""
    sub = transfer_rows(scores, task, metric, test_set)
    return sub.groupby(sub["language"].map(language_code))["value"].mean()


def cross_similarity(similarity: pd.DataFrame, measure: str, task: str | None = None
                     ) -> pd.DataFrame:
    """Layers x target-language-code table of cross-lingual similarity (mean over seeds) of the
    pretrained model (``task=None``) or of the model fine-tuned on ``task``."""
    sim = ref_models(similarity)
    sim = sim[(sim["kind"] == "cross-lingual") & (sim["metric"] == measure)]
    sim = sim[sim["task"] == task] if task is not None else sim[~sim["finetuned"]]
    if sim.empty:
        return pd.DataFrame()
    return sim.assign(code=sim["target"].map(language_code)).pivot_table(
        index="layer", columns="code", values="value", aggfunc="mean")


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    if len(x) < 3 or np.all(x == x[0]) or np.all(y == y[0]):
        return math.nan
    return float(stats.spearmanr(x, y).statistic)


def _spearman_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman rho of each row pair (Pearson on average ranks, as spearmanr computes it);
    NaN for rows where either side is constant. Vectorised: the bootstrap needs thousands."""
    rx = stats.rankdata(x, axis=1)
    ry = stats.rankdata(y, axis=1)
    rx -= rx.mean(axis=1, keepdims=True)
    ry -= ry.mean(axis=1, keepdims=True)
    den = np.sqrt((rx * rx).sum(axis=1) * (ry * ry).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (rx * ry).sum(axis=1) / den
    out[den <= 1e-12] = np.nan
    return np.asarray(out, dtype=float)


@dataclass(frozen=True)
class Correlated:
    """What `correlations` relates: the REF zero-shot ``metric`` of ``task`` and the
    cross-lingual ``measure`` of the pretrained model, or (``finetuned``) of the model
    fine-tuned on ``task``."""

    task: str
    metric: str
    measure: str
    finetuned: bool = False


def correlations(similarity: pd.DataFrame, scores: pd.DataFrame, what: Correlated,
                 n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Per layer: Spearman rho (similarity vs score across languages), bootstrap CI, p, n.

    Scores and similarities are means over seeds, joined on the language code (``fr``
    matches ``fr_pud``). rho is NaN where it is undefined (fewer than 3 shared languages, or a
    constant side). The bootstrap over languages is seeded (``seed``); resamples in which
    either side is constant are skipped, ``n_boot_valid`` says how many were kept.
    """
    task, metric, measure, finetuned = what.task, what.metric, what.measure, what.finetuned
    score = transfer_scores(scores, task, metric)
    table = cross_similarity(similarity, measure, task if finetuned else None)
    rng = np.random.default_rng(seed)
    rows = []
    for layer in table.index:
        per_lang = table.loc[layer].dropna()
        langs = sorted(set(per_lang.index) & set(score.index))
        x = per_lang.reindex(langs).to_numpy(dtype=float)
        y = score.reindex(langs).to_numpy(dtype=float)
        rho = _spearman(x, y)
        p = float(stats.spearmanr(x, y).pvalue) if not math.isnan(rho) else math.nan
        lo = hi = math.nan
        valid = 0
        if not math.isnan(rho) and n_boot > 0:
            idx = rng.integers(0, len(langs), size=(n_boot, len(langs)))
            boots = _spearman_rows(x[idx], y[idx])
            boots = boots[np.isfinite(boots)]
            valid = int(boots.size)
            if valid:
                lo, hi = percentile_interval(boots)
        rows.append({"task": task, "metric": metric, "measure": measure,
                     "finetuned": finetuned, "layer": int(layer), "rho": rho, "ci_low": lo,
                     "ci_high": hi, "p_value": p, "n_languages": len(langs),
                     "n_boot_valid": valid})
    return pd.DataFrame(rows, columns=CORRELATION_COLUMNS)


def all_correlations(similarity: pd.DataFrame, scores: pd.DataFrame,
                     measures: Sequence[str] | None = None, n_boot: int = 1000,
                     seed: int = 0) -> pd.DataFrame:
    """`correlations` for every (task, metric) with REF scores, every measure, and both
    the pretrained and (where present) the task's fine-tuned similarity; one tidy frame."""
    ref = scores[scores["reinit"].str.upper() == "REF"]
    measures = list(measures) if measures else sorted(
        set(similarity[similarity["kind"] == "cross-lingual"]["metric"]))
    tuned_tasks = set(similarity[similarity["finetuned"]]["task"])
    parts = []
    for task, metric in sorted(set(zip(ref["task"], ref["metric"], strict=True))):
        for measure in measures:
            for finetuned in (False, True):
                if finetuned and task not in tuned_tasks:
                    continue
                what = Correlated(str(task), str(metric), measure, finetuned)
                parts.append(correlations(similarity, scores, what, n_boot, seed))
    parts = [p for p in parts if not p.empty]
    if not parts:
        return pd.DataFrame(columns=CORRELATION_COLUMNS)
    return pd.concat(parts, ignore_index=True)


def pretrained_vs_finetuned(similarity: pd.DataFrame, measure: str) -> pd.DataFrame:
    """Per task and layer: similarity(pretrained, fine-tuned) on the same sentences; mean, min
    and max over languages and seeds, and the mean shuffled-pairs null (``null_mean``,
    ``null_high``) it should be read against."""
    columns = ["task", "layer", "mean", "min", "max", "null_mean", "null_high", "n_values"]
    sim = ref_models(similarity)  # a re-init group's models have their own curves
    sub = sim[(sim["kind"] == "model-model") & (sim["metric"] == measure)]
    sub = sub[sub["task"].notna()]
    if sub.empty:
        return pd.DataFrame(columns=columns)
    out = sub.groupby(["task", "layer"]).agg(
        mean=("value", "mean"), min=("value", "min"), max=("value", "max"),
        null_mean=("null_mean", "mean"), null_high=("null_high", "mean"),
        n_values=("value", "size")).reset_index()
    return out[columns]
