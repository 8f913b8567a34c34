"""Confounds of P6: does similarity still predict transfer once the obvious covariates are out?

Targets that are syntactically close to English, share its sub-words or its script may be both
similar to it and easy to transfer to. Per task and layer this module gives, on the languages
that have every covariate:

- the partial Spearman ρ given each covariate alone and given all at once, with Freedman-Lane
  permutation p (`crossling.analysis.permutation.partial_permutation_spearman`) and, for the
  joint one, the layer-corrected max-T p;
- how much of the ranks of similarity and of score the covariates explain (R²): a partial ρ on
  what little is left is fragile however small its p;
- leave-one-family-out ρ: ρ recomputed without each language family (and each branch) in turn,
  min and max, so that one family cannot carry the correlation;
- the smallest |ρ| the test detects with 80% power, without and with the covariates.

The tokenizer covariates (``subword_overlap``, ``same_script``) come from
`crossling.workflows.covariates` as a frame; syntax distance and families from URIEL
(`crossling.analysis.typology`). `survives_confounds` says whether a layer's correlation
survives all of them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from crossling.analysis.permutation import partial_permutation_spearman, permutation_spearman
from crossling.core.errors import ConfigError

COVARIATES = ("syntax_distance", "subword_overlap", "same_script")
"""The covariates of the joint partial, in column order."""
LEVELS = ("family", "branch")
"""Groupings of the leave-one-out ρ (`crossling.analysis.typology.families` levels)."""
ALPHA = 0.05
POWER = 0.8


def covariate_table(languages: list[str], tokenizer_covariates: pd.DataFrame | None
                    ) -> tuple[pd.DataFrame, str]:
    """Per language code: `COVARIATES` and the family levels, with a note of what is missing.

    ``tokenizer_covariates`` is `crossling.workflows.covariates.language_covariates` (indexed
    by its ``language`` column); without it, or without lang2vec, those columns are NaN and the
    note says why."""
    from crossling.analysis.typology import distance_to, families

    out = pd.DataFrame(index=pd.Index(sorted(languages), name="language"))
    notes = []
    try:
        out["syntax_distance"] = distance_to(out.index)
        for level in LEVELS:
            out[level] = families(out.index, level=level)
    except (ConfigError, ImportError) as exc:
        out["syntax_distance"] = math.nan
        for level in LEVELS:
            out[level] = None
        notes.append(f"no URIEL covariates: {exc}")
    if tokenizer_covariates is not None and not tokenizer_covariates.empty:
        tok = tokenizer_covariates.set_index("language")
        out["subword_overlap"] = tok["subword_overlap"].reindex(out.index).astype(float)
        out["same_script"] = tok["same_script"].reindex(out.index).map(
            lambda v: math.nan if pd.isna(v) else float(bool(v)))
    else:
        out["subword_overlap"] = out["same_script"] = math.nan
        why = tokenizer_covariates.attrs.get("error") if tokenizer_covariates is not None \
            else None
        notes.append("no tokenizer covariates (sub-word overlap, script)"
                     + (f": {why}" if why else ""))
    return out, "; ".join(notes)


def min_detectable_rho(n: int, k: int = 0, alpha: float = ALPHA, power: float = POWER) -> float:
    """Smallest |ρ| (partial, given ``k`` covariates) a two-sided level-``alpha`` test on ``n``
    languages detects with probability ``power``: Fisher z with the Bonett-Wright variance
    of Spearman's ρ, (1 + ρ²/2) / (n - k - 3). An approximation, and per layer: the
    layer-corrected test needs more. NaN when n - k - 3 < 1."""
    df = n - k - 3
    if df < 1:
        return math.nan
    need = float(stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power))
    lo, hi = 0.0, 0.999999
    for _ in range(60):  # bisection: the left side grows faster than the right in rho
        mid = (lo + hi) / 2
        if math.atanh(mid) < need * math.sqrt((1 + mid * mid / 2) / df):
            lo = mid
        else:
            hi = mid
    return hi if hi < 0.999999 else math.nan


def _rank_r2(values: np.ndarray, z: np.ndarray) -> float:
    """R² of the OLS regression (with intercept) of rank(values) on the ranks of z's columns."""
    y = stats.rankdata(values)
    design = np.column_stack([np.ones(len(y)), stats.rankdata(z, axis=0)])
    fitted = design @ np.linalg.lstsq(design, y, rcond=None)[0]
    total = float(((y - y.mean()) ** 2).sum())
    return 1.0 - float(((y - fitted) ** 2).sum()) / total if total > 0 else math.nan


def leave_one_group_out(similarity: pd.DataFrame, score: pd.Series, groups: pd.Series
                        ) -> pd.DataFrame:
    """Per layer: Spearman ρ without each group of ``groups`` (language -> group) in turn;
    min and max over the leave-outs with the group left out, and how many were defined (fewer
    than 3 languages left, or a constant side: undefined). Languages as `permutation_spearman`
    takes them (finite at every layer), and only those with a group."""
    table = similarity.astype(float)
    finite = [c for c in table.columns if np.isfinite(table[c].to_numpy()).all()]
    langs = sorted(set(finite) & set(score.dropna().index) & set(groups.dropna().index))
    rows = []
    for layer in table.index:
        x = table.loc[layer, langs].to_numpy(dtype=float)
        y = score.reindex(langs).to_numpy(dtype=float)
        g = groups.reindex(langs).to_numpy()
        rhos = {}
        for group in sorted(set(g)):
            keep = g != group
            if keep.sum() >= 3 and np.ptp(x[keep]) > 0 and np.ptp(y[keep]) > 0:
                rhos[group] = float(stats.spearmanr(x[keep], y[keep]).statistic)
        lo = min(rhos, key=lambda k: (rhos[k], k)) if rhos else None
        hi = max(rhos, key=lambda k: (rhos[k], k)) if rhos else None
        rows.append({"layer": int(layer), "min": rhos[lo] if lo else math.nan,
                     "min_left_out": lo, "max": rhos[hi] if hi else math.nan,
                     "max_left_out": hi, "n_groups": len(set(g)), "n_defined": len(rhos)})
    return pd.DataFrame(rows, columns=["layer", "min", "min_left_out", "max", "max_left_out",
                                       "n_groups", "n_defined"])


@dataclass(frozen=True)
class ConfoundInputs:
    """What `confounds` needs besides the similarity table and the scores."""

    covariates: pd.DataFrame
    """`covariate_table`'s frame (per language: `COVARIATES` and the family levels)."""
    note: str = ""
    n_perm: int = 100_000
    seed: int = 0


def confounds(table: pd.DataFrame, score: pd.Series, inputs: ConfoundInputs) -> pd.DataFrame:
    """Per layer: ρ (on every language, as the P6 table), partial ρ and p given each of
    `COVARIATES` and all at once (p_max of the joint one corrected for the layer), R² of the
    covariates for similarity and score ranks, leave-one-family-out and leave-one-branch-out
    min/max ρ, and the 80%-power |ρ| without and with the covariates. The partials and R² are
    on the languages that have every covariate (``n_partial`` of them), the leave-outs on
    every language with a family."""
    cov = inputs.covariates
    kw = {"n_perm": inputs.n_perm, "seed": inputs.seed}
    have = cov[list(COVARIATES)].astype(float)
    langs = [c for c in have.index[np.isfinite(have.to_numpy()).all(axis=1)]]
    base = permutation_spearman(table, score, n_perm=1, seed=inputs.seed)  # rho and n
    out = base[["layer", "rho", "n_languages"]].copy()
    for name in COVARIATES:
        part = partial_permutation_spearman(table, score, have[name].reindex(langs), **kw)
        out[f"partial_rho_{name}"] = part["rho"].to_numpy()
        out[f"partial_p_{name}"] = part["p_raw"].to_numpy()
    joint = partial_permutation_spearman(table, score, have.loc[langs], **kw)
    out["n_partial"] = joint["n_languages"].to_numpy()
    out["partial_rho_all"] = joint["rho"].to_numpy()
    out["partial_p_all"] = joint["p_raw"].to_numpy()
    out["partial_p_all_max"] = joint["p_max"].to_numpy()
    out["r2_similarity"], out["r2_score"] = _r2s(table, score, have.loc[langs])
    for level in LEVELS:
        groups = cov[level] if level in cov else pd.Series(dtype=object)
        lofo = leave_one_group_out(table, score, groups.dropna())
        lofo = lofo.set_index("layer").reindex(out["layer"])
        for col in ("min", "min_left_out", "max", "max_left_out", "n_groups"):
            out[f"lo_{level}_{col}"] = lofo[col].to_numpy()
    out["mdr80_raw"] = [min_detectable_rho(int(n)) for n in out["n_languages"]]
    out["mdr80_all"] = [min_detectable_rho(int(n), len(COVARIATES)) for n in out["n_partial"]]
    out["note"] = inputs.note
    return out


def _r2s(table: pd.DataFrame, score: pd.Series, cov: pd.DataFrame
         ) -> tuple[list[float], list[float]]:
    """Per layer: R² of the covariates' ranks for rank(similarity) and for rank(score)."""
    langs = [c for c in cov.index if c in table.columns and c in score.index
             and math.isfinite(float(score[c]))]
    finite = [c for c in langs if np.isfinite(table[c].to_numpy(dtype=float)).all()]
    if len(finite) < len(COVARIATES) + 2:
        return [math.nan] * len(table), [math.nan] * len(table)
    z = cov.loc[finite].to_numpy(dtype=float)
    r2_score = _rank_r2(score.reindex(finite).to_numpy(dtype=float), z)
    sims = [_rank_r2(table.loc[layer, finite].to_numpy(dtype=float), z) for layer in table.index]
    return sims, [r2_score] * len(table)


def confound_table(similarity: pd.DataFrame, scores: pd.DataFrame, tasks: Mapping[str, str],
                   measure: str, covariates: pd.DataFrame | None = None, *,
                   n_perm: int = 100_000) -> pd.DataFrame:
    """`confounds` per task (its main metric) of the pretrained model's ``measure``, the
    P6 table's inputs (`crossling.analysis.verdicts.p6_table`); ``covariates``: the tokenizer
    covariates of `crossling.workflows.covariates` (None: those columns NaN). Rows start with
    ``task``, ``metric``, ``measure``; empty when no task has both sides."""
    from crossling.analysis.correlate import cross_similarity, transfer_scores

    table = cross_similarity(similarity, measure) if not similarity.empty else pd.DataFrame()
    parts = []
    for task, metric in tasks.items():
        score = transfer_scores(scores, task, metric)
        if table.empty or score.empty:
            continue
        langs = sorted(set(score.index) & set(table.columns))
        cov, note = covariate_table(langs, covariates)
        out = confounds(table, score, ConfoundInputs(cov, note, n_perm))
        out.insert(0, "measure", measure)
        out.insert(0, "metric", metric)
        out.insert(0, "task", task)
        parts.append(out)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def confound_failures(row: Mapping[Any, Any], alpha: float = ALPHA,
                      corrected: bool = False) -> list[str] | None:
    """What a P6 row of `confounds` fails: ``all covariates`` (the joint partial ρ is not of
    ρ's sign with p < ``alpha``; the layer-corrected p when ``corrected``) and ``family``
    (leaving some family out flips ρ's sign or zeroes it). None when ρ, the joint partial or
    the family leave-outs are undefined."""
    def num(key: str) -> float:
        value = row.get(key)
        return float(value) if isinstance(value, (int, float, np.number)) else math.nan

    rho, part = num("rho"), num("partial_rho_all")
    p = num("partial_p_all_max" if corrected else "partial_p_all")
    lo, hi = num("lo_family_min"), num("lo_family_max")
    if not all(math.isfinite(v) for v in (rho, part, p, lo, hi)) or rho == 0:
        return None
    failed = []
    if not (np.sign(part) == np.sign(rho) and p < alpha):
        failed.append("all covariates")
    if not (np.sign(lo) == np.sign(rho) and np.sign(hi) == np.sign(rho)):
        failed.append("family")
    return failed


def survives_confounds(row: Mapping[Any, Any], alpha: float = ALPHA,
                       corrected: bool = False) -> bool | None:
    """Whether a layer's ρ survives every confound: the joint partial ρ (all covariates) keeps
    its sign with p < ``alpha`` (layer-corrected p when ``corrected``: for a layer chosen by
    its p) and no family left out flips or zeroes it. None: undefined."""
    failed = confound_failures(row, alpha, corrected)
    return None if failed is None else not failed
