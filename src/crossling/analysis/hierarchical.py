"""The pre-registered P2 estimate: does re-initialising low layers hurt transfer more?

Per (task, metric, model), re-init group g and seed s: gap_s(g) = mean target Δ_s(g) - source
Δ_s(g) (Δ as `crossling.analysis.deltas.deltas`), and the contrast gap_s(g) - gap_s(h)
against ``ref_group`` h; estimates are means over seeds. Two intervals, for two questions
(docs/reproduction/analysis-plan.md, P2): a nested bootstrap (seeds, target languages, each
score's sentence noise; a REF score's noise drawn once for the groups it is differenced with)
and a t-interval across seeds, the one to read with few seeds. Seeds that agree exactly give
no interval (never a certainty); p-values are Holm-corrected per family: the plan's family is
the two primary contrasts of a task and metric, the rest are descriptive families of their own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests

from crossling.analysis.deltas import group_order
from crossling.analysis.frames import without_other_source_sets
from crossling.core.stats import percentile_interval

HIERARCHICAL_COLUMNS = ["task", "metric", "model", "reinit", "kind", "versus", "estimate",
                        "boot_low", "boot_high", "t_low", "t_high", "p_value", "p_holm",
                        "holm_family", "n_seeds", "n_targets", "seed_values", "seeds", "n_boot",
                        "note"]
PRIMARY_GROUPS = ("1-2", "3-4")
"""The groups of P2's two primary contrasts (C1, C2), each against 11-12: the analysis plan's
Holm family, per task and metric."""
PRIMARY_FAMILY = "primary: C1, C2"
"""``holm_family`` of the two pre-registered contrasts (Holm over these two only)."""
OTHER_CONTRASTS = "descriptive: the other contrasts"
OTHER_GAPS = "descriptive: the gaps"
Z95 = 1.959963984540054
"""The normal 97.5% quantile: a 95% interval spans 2 * Z95 standard deviations."""
SAME = 1e-9
"""Per-seed values closer than this (relative) count as equal: seeds agree exactly."""
FEW_RESAMPLES = 1000
"""Below this many distinct seed resamples, the note points to the t-interval."""


def holm(p_values: Sequence[float] | np.ndarray | pd.Series) -> np.ndarray:
    """Holm step-down adjusted p-values (``statsmodels`` ``multipletests``, method "holm");
    NaN entries stay NaN and do not count towards the family size."""
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, math.nan)
    ok = np.isfinite(p)
    if ok.any():
        out[ok] = multipletests(p[ok], method="holm")[1]
    return out


def distinct_seed_resamples(n: int) -> int:
    """Distinct multisets of n seeds drawn with replacement from n: C(2n-1, n)."""
    return math.comb(2 * n - 1, n) if n > 0 else 0


class _Runs:
    """Scores of one (task, metric, model) as arrays: value and sentence-noise sd per
    (group, seed, language), and the seeds / target languages / source language."""

    def __init__(self, sub: pd.DataFrame) -> None:
        sub = sub.assign(sd=((sub["ci_high"] - sub["ci_low"]) / (2 * Z95)).fillna(0.0)
                         .clip(lower=0.0))
        src = sub.loc[sub["is_source"], "language"]
        self.source: str | None = str(src.iloc[0]) if len(src) else None
        key = ["reinit", "seed", "language"]
        self.value = sub.groupby(key)["value"].mean()
        self.sd = sub.groupby(key)["sd"].mean()
        self.targets = sorted(set(sub.loc[~sub["is_source"], "language"]))

    def complete(self, groups: Sequence[str]) -> tuple[list[int], list[str]]:
        """Seeds with REF, every group, and the source; and the targets present for all of
        them in every such seed (so each bootstrap array is complete)."""
        if self.source is None:
            return [], []
        have = set(self.value.index)
        seeds = sorted({int(s) for _, s, _ in have})
        seeds = [s for s in seeds
                 if all((g, s, self.source) in have for g in ("REF", *groups))]
        langs = [lang for lang in self.targets
                 if seeds and all((g, s, lang) in have for g in ("REF", *groups) for s in seeds)]
        return seeds, langs

    def arrays(self, group: str, seeds: list[int], langs: list[str]
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(target value [S, L], target sd [S, L], source value [S], source sd [S])."""
        tgt = pd.MultiIndex.from_product([[group], seeds, langs])
        src = pd.MultiIndex.from_product([[group], seeds, [self.source]])
        shape = (len(seeds), len(langs))
        return (self.value.reindex(tgt).to_numpy().reshape(shape),
                self.sd.reindex(tgt).to_numpy().reshape(shape),
                self.value.reindex(src).to_numpy(), self.sd.reindex(src).to_numpy())


def _point(group: tuple[np.ndarray, ...], ref: tuple[np.ndarray, ...]) -> np.ndarray:
    """Per-seed gap: mean target Δ - source Δ."""
    return np.asarray((group[0] - ref[0]).mean(axis=1) - (group[2] - ref[2]))


def _bootstrap(group: tuple[np.ndarray, ...], ref: tuple[np.ndarray, ...],
               other: tuple[np.ndarray, ...] | None, rng: np.random.Generator, n_boot: int,
               share_ref: bool = True) -> np.ndarray:
    """``n_boot`` nested-bootstrap replicates of mean-over-seeds gap(group) [- gap(other)].

    Each tuple is (target value [S, L], target sd [S, L], source value [S], source sd [S]);
    ``ref`` is the REF run. ``share_ref=False`` draws the REF noise independently for the two
    groups of a contrast: wrong for this design (one REF run), kept to test that it matters.
    """
    n_s, n_l = group[0].shape
    sidx = rng.integers(0, n_s, size=(n_boot, n_s))
    lidx = rng.integers(0, n_l, size=(n_boot, n_s, n_l))
    rows = sidx[:, :, None]

    def target(arrs: tuple[np.ndarray, ...]) -> np.ndarray:
        return arrs[0][rows, lidx] + arrs[1][rows, lidx] * rng.standard_normal(lidx.shape)

    def source(arrs: tuple[np.ndarray, ...]) -> np.ndarray:
        return arrs[2][sidx] + arrs[3][sidx] * rng.standard_normal(sidx.shape)

    ref_t, ref_s = target(ref), source(ref)
    gap = (target(group) - ref_t).mean(axis=2) - (source(group) - ref_s)
    if other is not None:
        if not share_ref:
            ref_t, ref_s = target(ref), source(ref)
        gap -= (target(other) - ref_t).mean(axis=2) - (source(other) - ref_s)
    return np.asarray(gap.mean(axis=1))


def seed_summary(values: np.ndarray, boots: np.ndarray | None, read: str = "the t-interval"
                 ) -> dict[str, object]:
    """Estimate, intervals, p and note from the per-seed values and bootstrap replicates;
    with few seeds the note says to ``read`` another interval than the seed bootstrap."""
    n = int(values.size)
    out: dict[str, object] = {"estimate": float(values.mean()) if n else math.nan,
                              "boot_low": math.nan, "boot_high": math.nan, "t_low": math.nan,
                              "t_high": math.nan, "p_value": math.nan}
    notes = []
    # "equal" up to float rounding: scores 0.1 apart differ by ~1e-14 after differencing
    spread = n >= 2 and float(np.ptp(values)) > SAME * (1.0 + float(np.abs(values).max()))
    if n >= 2 and not spread:
        notes.append("seeds agree exactly: no spread estimate")
    if spread:
        lo, hi = stats.t.interval(0.95, n - 1, loc=values.mean(), scale=stats.sem(values))
        out.update(t_low=float(lo), t_high=float(hi),
                   p_value=float(stats.ttest_1samp(values, 0.0).pvalue))
    if boots is not None and (spread or n == 1):
        lo, hi = percentile_interval(boots)
        if hi > lo:
            out.update(boot_low=lo, boot_high=hi)
        else:
            notes.append("no spread in the bootstrap: no interval")
    if n == 1:
        notes.append("1 seed: no seed-level spread; the bootstrap interval covers target "
                     "languages and test sentences only")
    elif n >= 2 and distinct_seed_resamples(n) < FEW_RESAMPLES:
        notes.append(f"{n} seeds: the seed-level bootstrap has {distinct_seed_resamples(n)} "
                     f"distinct resamples; read {read}")
    out["note"] = "; ".join(notes)
    return out


def hierarchical_gaps(scores: pd.DataFrame, *, ref_group: str = "11-12", n_boot: int = 10000,
                      seed: int = 0, primary: Sequence[str] = PRIMARY_GROUPS) -> pd.DataFrame:
    """Gap and contrast-vs-``ref_group`` per (task, metric, model, group), one row each.

    ``scores`` is `crossling.analysis.frames.scores_frame` output (its ``ci_low`` /
    ``ci_high`` give the sentence level: a normal sd = CI width / (2 * 1.96)); other test sets
    of the source language are left out. A seed enters when it has the REF run, the group (both
    groups for a contrast) and the source score; a target when it is scored in all those runs
    of every such seed. Columns (`HIERARCHICAL_COLUMNS`): ``kind`` ``gap`` or
    ``contrast`` (``versus`` h); ``boot_low``/``boot_high`` the bootstrap interval (``n_boot``
    resamples, seeded by ``seed``), ``t_low``/``t_high`` the t-interval across seeds,
    ``p_value`` a one-sample t-test of the per-seed values, ``p_holm`` Holm within one
    (task, metric, model) and ``holm_family``: `PRIMARY_FAMILY` (the contrasts of
    ``primary`` groups vs ``ref_group``, the plan's family), `OTHER_CONTRASTS` or
    `OTHER_GAPS` (descriptive); ``seed_values`` per seed in ``seeds`` order; ``note`` why an
    interval is missing or coarse.
    """
    rng = np.random.default_rng(seed)
    rows: list[dict[str, object]] = []
    scores = without_other_source_sets(scores)  # e.g. UNER en_pud beside WikiANN en
    for (task, metric, model), sub in scores.groupby(["task", "metric", "model"], sort=True):
        reinit = sub["reinit"].astype(str)
        sub = sub.assign(reinit=reinit.where(reinit.str.upper() != "REF", "REF"))
        runs = _Runs(sub)
        groups = sorted(set(sub["reinit"]) - {"REF"}, key=group_order)
        plans: list[tuple[str, str | None]] = [(g, None) for g in groups]
        if ref_group in groups:
            plans += [(g, ref_group) for g in groups if g != ref_group]
        for group, other in plans:
            used = [group] if other is None else [group, other]
            seeds, langs = runs.complete(used)
            base = {"task": task, "metric": metric, "model": model, "reinit": group,
                    "kind": "gap" if other is None else "contrast",
                    "versus": "" if other is None else other, "n_seeds": len(seeds),
                    "n_targets": len(langs), "seeds": tuple(seeds), "n_boot": n_boot}
            if not seeds or not langs:
                why = "no source score" if runs.source is None else "no complete seed"
                rows.append({**base, **seed_summary(np.array([]), None), "seed_values": (),
                             "note": why})
                continue
            ref = runs.arrays("REF", seeds, langs)
            arr = runs.arrays(group, seeds, langs)
            values = _point(arr, ref)
            oth = None
            if other is not None:
                oth = runs.arrays(other, seeds, langs)
                values = values - _point(oth, ref)
            boots = _bootstrap(arr, ref, oth, rng, n_boot) if n_boot > 0 else None
            rows.append({**base, **seed_summary(values, boots),
                         "seed_values": tuple(float(v) for v in values)})
    out = pd.DataFrame(rows, columns=HIERARCHICAL_COLUMNS)
    if out.empty:
        return out
    out["p_holm"] = math.nan
    contrast = out["kind"] == "contrast"
    out["holm_family"] = np.where(contrast & out["reinit"].isin(list(primary)), PRIMARY_FAMILY,
                                  np.where(contrast, OTHER_CONTRASTS, OTHER_GAPS))
    for _, idx in out.groupby(["task", "metric", "model", "holm_family"]).groups.items():
        out.loc[idx, "p_holm"] = holm(out.loc[idx, "p_value"].to_numpy())
    return out.reset_index(drop=True)
