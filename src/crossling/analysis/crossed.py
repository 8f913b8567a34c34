"""The P2 gap and contrasts with intervals for a crossed design (issue 28).

Every run of a (task, metric, model), REF and every re-init group of every seed, scores the
SAME target languages and the SAME test sentences: languages and sentences are crossed with
seeds and groups, not nested in them. One replicate of `crossed_gaps` therefore draws seeds,
target languages and each test set's sentence weights once and applies the draw to every run
(v1, `crossling.analysis.hierarchical`, drew languages per seed and each score's noise per run).

What the intervals claim to cover: the expected gap / contrast over new seeds, new target
languages from the population the targets were drawn from, and new test sentences of every
language (the source's too); the source language itself is fixed. With 3-5 seeds a
percentile bootstrap over seeds is too narrow ((S-1)/S of the seed variance, normal tails), so
beside it `vc_low`/`vc_high` give a variance-components interval: the seed part from the
spread of the per-seed values (t, S-1 df), the part shared by all seeds (languages and
sentences) from the crossed replicates with seeds held fixed, Satterthwaite df.
docs/statistics.md shows the simulated coverage of each (bench/crossed_coverage.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from crossling.analysis.deltas import group_order
from crossling.analysis.frames import SENTENCE_COLUMNS, without_other_source_sets
from crossling.analysis.hierarchical import (
    HIERARCHICAL_COLUMNS,
    OTHER_CONTRASTS,
    OTHER_GAPS,
    PRIMARY_FAMILY,
    hierarchical_gaps,
    holm,
    seed_summary,
)

SENTENCE_INPUT_COLUMNS = SENTENCE_COLUMNS
"""The per-sentence frame `crossed_gaps` reads (`crossling.analysis.frames.sentence_frame`): a
run's score on a set is scale * sum(num) / sum(den) over the set's sentences."""
CROSSED_COLUMNS = [*HIERARCHICAL_COLUMNS, "interval", "vc_low", "vc_high", "vc_df", "p_crossed",
                   "p_crossed_holm"]
PLAN_FAMILY: tuple[tuple[str, str], ...] = (("1-2", "11-12"), ("3-4", "11-12"))
"""The pre-registered Holm family of a (task, metric, model): C1 and C2 of the analysis plan."""
CHUNK_CELLS = 4_000_000
"""Sentence weights held at once (replicates x sentences of one set): bounds memory."""


@dataclass(frozen=True)
class Design:
    """One contrast's data as arrays: ``num``/``den`` per set, each [sentences, groups, seeds]
    (set 0 the source, then the targets); ``scale`` [groups, seeds]; ``coef`` per group (sums
    to 0): the per-seed value is sum_g coef_g * (mean target score - source score)."""

    num: list[np.ndarray]
    den: list[np.ndarray]
    scale: np.ndarray
    coef: np.ndarray


def per_seed_values(design: Design) -> np.ndarray:
    """The per-seed gap or contrast on the observed sentences [seeds]."""
    scores = np.stack([design.scale * n.sum(axis=0) / d.sum(axis=0)
                       for n, d in zip(design.num, design.den, strict=True)])  # [K, G, S]
    proj = np.einsum("g,kgs->ks", design.coef, scores)
    return np.asarray(proj[1:].mean(axis=0) - proj[0])


def _weights(rng: np.random.Generator, b: int, n: int) -> np.ndarray:
    """[b, n] multinomial(n, uniform) counts: one bootstrap resample of n items per row."""
    idx = rng.integers(0, n, size=(b, n)) + (np.arange(b) * n)[:, None]
    return np.bincount(idx.ravel(), minlength=b * n).reshape(b, n).astype(np.float64)


def replicate_scores(design: Design, rng: np.random.Generator, n_boot: int
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Scores of every run under ``n_boot`` draws, [n_boot, sets, groups, seeds], each draw ONE
    multinomial sentence weighting per test set shared by every run; and the target-language
    weights of each draw [n_boot, targets] (counts of a draw with replacement / targets)."""
    n_sets = len(design.num)
    n_g, n_s = design.scale.shape
    out = np.empty((n_boot, n_sets, n_g, n_s))
    largest = max(n.shape[0] for n in design.num)
    step = max(1, min(n_boot, CHUNK_CELLS // max(largest, 1)))
    for start in range(0, n_boot, step):
        b = min(step, n_boot - start)
        for k, (num, den) in enumerate(zip(design.num, design.den, strict=True)):
            w = _weights(rng, b, num.shape[0])
            with np.errstate(invalid="ignore", divide="ignore"):
                sc = (w @ num.reshape(num.shape[0], -1)) / (w @ den.reshape(den.shape[0], -1))
            out[start:start + b, k] = sc.reshape(b, n_g, n_s) * design.scale
    return out, _weights(rng, n_boot, n_sets - 1) / (n_sets - 1)


def project(scores: np.ndarray, lang: np.ndarray, coef: np.ndarray) -> np.ndarray:
    """[B, seeds] per-seed values sum_g coef_g (weighted mean target score - source score)
    from `replicate_scores` output."""
    proj = np.einsum("g,bkgs->bks", coef, scores)
    return np.asarray(np.einsum("bl,bls->bs", lang, proj[:, 1:]) - proj[:, 0])


def shared_replicates(design: Design, rng: np.random.Generator, n_boot: int) -> np.ndarray:
    """[n_boot, seeds] per-seed values under ONE draw of target languages and ONE draw of
    sentence weights per test set per replicate, shared by every run; seeds held fixed."""
    scores, lang = replicate_scores(design, rng, n_boot)
    return project(scores, lang, design.coef)


def crossed_bootstrap(shared: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Crossed replicates of the mean over seeds: each replicate of ``shared`` [B, S] (one
    language and sentence draw) averaged over one draw of seeds with replacement."""
    n_boot, n_s = shared.shape
    sidx = rng.integers(0, n_s, size=(n_boot, n_s))
    return np.asarray(shared[np.arange(n_boot)[:, None], sidx].mean(axis=1))


@dataclass(frozen=True)
class VarianceComponents:
    """Var(mean over seeds) = ``seed`` (spread of the per-seed values / S, S-1 df) +
    ``shared`` (languages and sentences, common to all seeds); ``df`` by Satterthwaite."""

    seed: float
    shared: float
    df: float

    @property
    def se(self) -> float:
        return math.sqrt(self.seed + self.shared)

    def interval(self, estimate: float) -> tuple[float, float]:
        half = float(stats.t.ppf(0.975, self.df)) * self.se
        return estimate - half, estimate + half

    def p_value(self, estimate: float) -> float:
        return float(2 * stats.t.sf(abs(estimate) / self.se, self.df)) if self.se > 0 else math.nan


def variance_components(values: np.ndarray, shared: np.ndarray, n_targets: int
                        ) -> VarianceComponents:
    """Components of Var(mean of ``values``) from the per-seed values and their shared
    replicates [B, S] (`shared_replicates`).

    The spread across seeds already holds each seed's own language x seed and sentence x seed
    noise, which the shared replicates of the mean hold again (divided by S); the per-seed
    deviations from the replicate's mean estimate it ((S-1)/S of it), so it is taken out once
    (as (MS_seed + MS_lang - MS_resid) / (S L) in a two-way random-effects ANOVA), and the
    shared part is floored at 0. df: S-1 for the seed part, L-1 for the shared part.
    """
    n_s = values.size
    seed = float(np.var(values, ddof=1)) / n_s
    ok = np.isfinite(shared).all(axis=1)
    shared = shared[ok]
    mean = shared.mean(axis=1)
    own = float(np.var(shared - mean[:, None], axis=0, ddof=1).mean()) / (n_s - 1)
    common = max(float(np.var(mean, ddof=1)) - own, 0.0)
    total = seed + common
    parts = seed ** 2 / (n_s - 1) + (common ** 2 / (n_targets - 1) if n_targets > 1 else 0.0)
    df = total ** 2 / parts if parts > 0 else float(n_s - 1)
    return VarianceComponents(seed=seed, shared=common, df=max(df, float(n_s - 1)))


def _check(sentences: pd.DataFrame) -> pd.DataFrame:
    """The frame with REF spelled ``REF``, or a one-line ValueError naming what is wrong."""
    missing = [c for c in SENTENCE_INPUT_COLUMNS if c not in sentences.columns]
    if missing:
        raise ValueError(f"crossed_gaps: sentence frame lacks column(s) {', '.join(missing)} "
                         f"(needs {', '.join(SENTENCE_INPUT_COLUMNS)})")
    reinit = sentences["reinit"].astype(str)
    out = sentences.assign(reinit=reinit.where(reinit.str.upper() != "REF", "REF"),
                           seed=sentences["seed"].astype(int),
                           is_source=sentences["is_source"].astype(bool))
    run = ["task", "metric", "model", "reinit", "seed"]
    dup = out.duplicated([*run, "language", "sentence"])
    if dup.any():
        r = out[dup].iloc[0]
        raise ValueError(f"crossed_gaps: sentence {r['sentence']!r} of {r['language']} appears "
                         f"twice in run {tuple(r[c] for c in run)}")
    scales = out.groupby(run)["scale"].nunique()
    if (scales > 1).any():
        raise ValueError(f"crossed_gaps: run {scales[scales > 1].index[0]} has several scales")
    sets = out.groupby(["task", "metric", "model", "language"])
    per_run = sets[["reinit", "seed"]].apply(lambda f: len(f.drop_duplicates()))
    per_sentence = out.groupby(["task", "metric", "model", "language", "sentence"]).size()
    uneven = per_sentence.groupby(level=[0, 1, 2, 3]).max() != per_run
    uneven |= per_sentence.groupby(level=[0, 1, 2, 3]).min() != per_run
    if uneven.any():
        raise ValueError(f"crossed_gaps: runs of {uneven[uneven].index[0]} score different "
                         "sentences of that set (a crossed design needs the same ones)")
    return out


class _Runs:
    """One (task, metric, model): num/den per (set, sentence) x run, and the runs present."""

    def __init__(self, sub: pd.DataFrame) -> None:
        src = sub.loc[sub["is_source"], "language"]
        self.source: str | None = str(src.iloc[0]) if len(src) else None
        self.targets = sorted(set(sub.loc[~sub["is_source"], "language"]))
        self.tables = {lang: f.pivot(index="sentence", columns=["reinit", "seed"],
                                     values=["num", "den"])
                       for lang, f in sub.groupby("language")}
        self.scale = sub.groupby(["reinit", "seed"])["scale"].first()
        self.have = {(g, int(s), lang) for lang, t in self.tables.items()
                     for g, s in t["num"].columns}

    def complete(self, groups: Sequence[str]) -> tuple[list[int], list[str]]:
        """Seeds with every group and the source; targets scored in all those runs."""
        if self.source is None:
            return [], []
        seeds = sorted({s for _, s, _ in self.have})
        seeds = [s for s in seeds if all((g, s, self.source) in self.have for g in groups)]
        langs = [lang for lang in self.targets
                 if seeds and all((g, s, lang) in self.have for g in groups for s in seeds)]
        return seeds, langs

    def design(self, coef: dict[str, float], seeds: list[int], langs: list[str]) -> Design:
        groups = list(coef)
        cols = pd.MultiIndex.from_product([groups, seeds])
        num, den = [], []
        for lang in [str(self.source), *langs]:
            t = self.tables[lang]
            shape = (len(t), len(groups), len(seeds))
            num.append(t["num"][cols].to_numpy(dtype=np.float64).reshape(shape))
            den.append(t["den"][cols].to_numpy(dtype=np.float64).reshape(shape))
        scale = self.scale.reindex(cols).to_numpy(dtype=np.float64).reshape(len(groups),
                                                                           len(seeds))
        return Design(num, den, scale, np.array([coef[g] for g in groups]))


def _row(values: np.ndarray, shared: np.ndarray | None, boots: np.ndarray | None,
         n_targets: int) -> dict[str, object]:
    """`seed_summary` (estimate, percentile and t intervals, t-test, note) and the
    variance-components interval with its p when the seeds spread and replicates exist."""
    out = {**seed_summary(values, boots, read="the vc interval"), "vc_low": math.nan,
           "vc_high": math.nan, "vc_df": math.nan, "p_crossed": math.nan}
    t_low = out["t_low"]
    if shared is not None and isinstance(t_low, float) and math.isfinite(t_low):
        est = float(values.mean())
        vc = variance_components(values, shared, n_targets)
        lo, hi = vc.interval(est)
        out.update(vc_low=lo, vc_high=hi, vc_df=vc.df, p_crossed=vc.p_value(est))
    return out


def crossed_gaps(sentences: pd.DataFrame, *, ref_group: str = "11-12",
                 family: Sequence[tuple[str, str]] = PLAN_FAMILY, n_boot: int = 10000,
                 seed: int = 0) -> pd.DataFrame:
    """Gap and contrast-vs-``ref_group`` per (task, metric, model, group), crossed intervals.

    ``sentences`` has `SENTENCE_INPUT_COLUMNS` (`crossling.analysis.frames` ``sentence_frame``);
    other test sets of the source language are left out. A seed enters when it has every group
    used (REF and the group; both groups of a contrast) on the source; a target when all those
    runs of every such seed score it. Columns (`CROSSED_COLUMNS`): as `hierarchical_gaps`, with
    ``boot_low``/``boot_high`` the percentile interval of ``n_boot`` crossed replicates (seeds,
    targets and each set's sentence weights drawn once per replicate and shared by every run),
    ``vc_low``/``vc_high`` the variance-components interval (``vc_df`` its df; the one to read
    with few seeds), ``t_low``/``t_high`` and ``p_value`` the t-interval and t-test across seeds
    (they leave out the languages and sentences all seeds share), ``p_crossed`` the p-value of
    the vc interval; ``p_holm``/``p_crossed_holm`` Holm over the contrasts ``family`` names
    ((group, versus) pairs) within a (task, metric, model), blank for other rows.
    """
    sentences = _check(sentences)
    rng = np.random.default_rng(seed)
    rows: list[dict[str, object]] = []
    sentences = without_other_source_sets(sentences)
    for (task, metric, model), sub in sentences.groupby(["task", "metric", "model"], sort=True):
        runs = _Runs(sub)
        groups = sorted(set(sub["reinit"]) - {"REF"}, key=group_order)
        plans: list[tuple[str, str | None]] = [(g, None) for g in groups]
        if ref_group in groups:
            plans += [(g, ref_group) for g in groups if g != ref_group]
        every = ["REF", *groups]
        common = runs.complete(every)
        draws = None  # one draw of every run, shared by the plans using the common runs
        for group, other in plans:
            coef = {"REF": -1.0, group: 1.0} if other is None else {group: 1.0, other: -1.0}
            seeds, langs = runs.complete(["REF", group] if other is None else [group, other])
            base = {"task": task, "metric": metric, "model": model, "reinit": group,
                    "kind": "gap" if other is None else "contrast",
                    "versus": "" if other is None else other, "n_seeds": len(seeds),
                    "n_targets": len(langs), "seeds": tuple(seeds), "n_boot": n_boot,
                    "interval": "crossed"}
            if not seeds or not langs:
                why = "no source score" if runs.source is None else "no complete seed"
                rows.append({**base, **_row(np.array([]), None, None, 0), "seed_values": (),
                             "note": why})
                continue
            design = runs.design(coef, seeds, langs)
            values = per_seed_values(design)
            shared = boots = None
            if n_boot > 0 and (seeds, langs) == common:
                if draws is None:
                    draws = replicate_scores(runs.design(dict.fromkeys(every, 0.0), *common),
                                             rng, n_boot)
                shared = project(*draws, np.array([coef.get(g, 0.0) for g in every]))
                boots = crossed_bootstrap(shared, rng)
            elif n_boot > 0:
                shared = shared_replicates(design, rng, n_boot)
                boots = crossed_bootstrap(shared, rng)
            rows.append({**base, **_row(values, shared, boots, len(langs)),
                         "seed_values": tuple(float(v) for v in values)})
    out = pd.DataFrame(rows, columns=CROSSED_COLUMNS)
    if out.empty:
        return out
    members = {(g, h) for g, h in family}
    contrast = out["kind"] == "contrast"
    in_family = [(r.kind == "contrast" and (r.reinit, r.versus) in members)
                 for r in out.itertuples(index=False)]
    out["holm_family"] = np.where(in_family, PRIMARY_FAMILY,
                                  np.where(contrast, OTHER_CONTRASTS, OTHER_GAPS))
    for _, idx in out.groupby(["task", "metric", "model", "holm_family"]).groups.items():
        out.loc[idx, "p_holm"] = holm(out.loc[idx, "p_value"].to_numpy())
        out.loc[idx, "p_crossed_holm"] = holm(out.loc[idx, "p_crossed"].to_numpy())
    return out.reset_index(drop=True)


def p2_contrasts(scores: pd.DataFrame, sentences: pd.DataFrame, *, n_boot: int = 10000,
                 seed: int = 0) -> pd.DataFrame:
    """P2's gaps and contrasts on the interval the design allows: `crossed_gaps` when every
    score (`crossling.analysis.frames.scores_frame`) has its per-sentence counts in
    ``sentences``, else v1's `hierarchical_gaps` (runs stored without counts: a crossed
    interval over a subset of the runs would drop the others silently)."""
    if scores.empty:
        return scores
    key = ["task", "metric", "model", "reinit", "seed", "language"]
    runs = without_other_source_sets(scores)[key].astype(str).drop_duplicates()
    counted = sentences[key].astype(str).drop_duplicates() if not sentences.empty else None
    if counted is not None and len(runs.merge(counted, on=key)) == len(runs):
        return crossed_gaps(sentences, n_boot=n_boot, seed=seed)
    return hierarchical_gaps(scores, n_boot=n_boot, seed=seed)
