"""The verdict on each of the paper's propositions P2-P6, by the rules fixed in advance.

docs/reproduction/analysis-plan.md states each rule before the study ran; this module applies
them to the analysis frames and nothing else. Every verdict row carries its estimate, interval,
what the interval resamples, n, the rule and what would change it, so the generated README and
verdicts.csv say the same thing. The words are fixed: `SUPPORTED`, `NOT_SUPPORTED`,
`INCONCLUSIVE`, `CONFOUNDED` and `UNTESTABLE` (P6), `MISSING` (no rows for a proposition).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from crossling.analysis.deltas import mean_ci
from crossling.analysis.hierarchical import PRIMARY_GROUPS, distinct_seed_resamples

SUPPORTED = "supported"
NOT_SUPPORTED = "not supported"
INCONCLUSIVE = "inconclusive"
CONFOUNDED = "confounded"
UNTESTABLE = "untestable"
MISSING = "not measured"

P2_GROUPS = PRIMARY_GROUPS
"""The groups of P2's primary contrasts, each against 11-12 (analysis plan)."""
P3_MARGIN = 2.0
"""Non-inferiority margin of P3, in score points (analysis plan)."""
P4_LOW, P4_HIGH = (1, 2, 3, 4), (9, 10, 11, 12)
"""The lower and upper layers whose mean CKA(pretrained, fine-tuned) P4 compares."""
P5_SUPPORT, P5_AGAINST = 12, 3
"""P5: the fall is supported when at least 12 targets' intervals lie above 0 (of 18), not
supported when at most 3 do (scaled to the number of targets measured: 2/3 and 1/6)."""
ALPHA = 0.05

VERDICT_COLUMNS = ["proposition", "task", "metric", "statistic", "estimate", "ci_low",
                   "ci_high", "interval", "n", "verdict", "criterion", "would_change"]


@dataclass(frozen=True)
class Verdict:
    """One judged statistic (one row of verdicts.csv)."""

    proposition: str
    task: str
    metric: str
    statistic: str
    estimate: float
    ci_low: float
    ci_high: float
    interval: str
    n: int
    verdict: str
    criterion: str
    would_change: str


def verdict_frame(verdicts: Sequence[Verdict]) -> pd.DataFrame:
    """Verdict rows as a frame with `VERDICT_COLUMNS` (empty frame with them if none)."""
    return pd.DataFrame([asdict(v) for v in verdicts], columns=VERDICT_COLUMNS)


def _finite(*values: float) -> bool:
    return all(v is not None and math.isfinite(float(v)) for v in values)


# --- P2 ---------------------------------------------------------------------------------------


def p2_verdicts(contrasts: pd.DataFrame, main_metric: dict[str, str]) -> list[Verdict]:
    """P2 from `crossling.analysis.crossed.p2_contrasts`: each contrast gap(g) - gap(11-12) of
    each task's main metric (g = 1-2 and 3-4: the pre-registered primary estimates), judged on
    its crossed variance-components interval (v1's hierarchical one for runs stored without
    per-sentence counts) and the sign of every seed."""
    out: list[Verdict] = []
    if contrasts.empty:
        return out
    rows = contrasts[(contrasts["kind"] == "contrast") & contrasts["reinit"].isin(P2_GROUPS)]
    for _, r in rows.iterrows():
        task = str(r["task"])
        if r["metric"] != main_metric.get(task, r["metric"]):
            continue
        crossed = str(r.get("interval", "")) == "crossed"
        est = float(r["estimate"])
        lo, hi = (float(r["vc_low"]), float(r["vc_high"])) if crossed \
            else (float(r["boot_low"]), float(r["boot_high"]))
        per_seed = [float(v) for v in r["seed_values"]]
        if _finite(lo, hi) and hi < 0 and per_seed and all(v < 0 for v in per_seed):
            verdict = SUPPORTED
        elif _finite(lo, hi) and lo > 0:
            verdict = NOT_SUPPORTED
        else:
            verdict = INCONCLUSIVE
        seeds = ", ".join(f"{v:.2f}" for v in per_seed)
        n_seeds = int(r["n_seeds"])
        if crossed:
            how = (f"crossed interval (seeds, target languages and test sentences, each drawn "
                   f"once per replicate and shared by every run; variance components, "
                   f"df = {fmt2(r['vc_df'])}); per seed: {seeds}; crossed percentile "
                   f"[{fmt2(r['boot_low'])}, {fmt2(r['boot_high'])}]; t-interval across seeds "
                   f"[{fmt2(r['t_low'])}, {fmt2(r['t_high'])}]; Holm p (crossed) = "
                   f"{fmt3(r['p_crossed_holm'])}")
        else:
            how = (f"hierarchical bootstrap (seeds, then target languages, then test-sentence "
                   f"noise); per seed: {seeds}; t-interval across seeds "
                   f"[{fmt2(r['t_low'])}, {fmt2(r['t_high'])}], Holm p = {fmt3(r['p_holm'])}")
        out.append(Verdict(
            "P2", task, str(r["metric"]), f"gap({r['reinit']}) − gap({r['versus']})", est, lo,
            hi, how, n_seeds, verdict, "interval below 0 and every seed's contrast < 0",
            f"more seeds ({n_seeds} seeds give the seed level "
            f"{distinct_seed_resamples(n_seeds)} distinct resamples); a longer recipe, "
            "if the low blocks' cost is a learning-speed effect"))
    return out


def fmt2(value: object) -> str:
    """Two decimals, ``–`` for NaN (numbers inside the verdicts' interval text)."""
    v = float(value)  # type: ignore[arg-type]
    return f"{v:.2f}" if math.isfinite(v) else "–"


def fmt3(value: object) -> str:
    """Three significant digits, ``–`` for NaN (p-values inside the interval text)."""
    v = float(value)  # type: ignore[arg-type]
    return f"{v:.3g}" if math.isfinite(v) else "–"


# --- P3 ---------------------------------------------------------------------------------------


def p3_verdicts(summary: pd.DataFrame, main_metric: dict[str, str],
                group: str = "11-12") -> list[Verdict]:
    """P3 from `crossling.analysis.deltas.summarize`: the mean target Δ of re-initialising
    ``group`` (the top pair), non-inferior to REF within `P3_MARGIN` points."""
    out: list[Verdict] = []
    if summary.empty:
        return out
    rows = summary[summary["reinit"] == group]
    for _, r in rows.iterrows():
        task = str(r["task"])
        if r["metric"] != main_metric.get(task, r["metric"]):
            continue
        est, lo, hi = float(r["target_delta"]), float(r["target_ci_low"]), \
            float(r["target_ci_high"])
        if _finite(lo) and lo > -P3_MARGIN:
            verdict = SUPPORTED
        elif _finite(hi) and hi < -P3_MARGIN:
            verdict = NOT_SUPPORTED
        else:
            verdict = INCONCLUSIVE
        out.append(Verdict(
            "P3", task, str(r["metric"]), f"mean target Δ, re-init {group}", est, lo, hi,
            "t-interval across seeds", int(r["seeds"]), verdict,
            f"lower bound above −{P3_MARGIN:g} points",
            "a tighter margin; more seeds (a wide interval reaching −2 is inconclusive)"))
    return out


# --- P4 ---------------------------------------------------------------------------------------


def p4_frames(sf: pd.DataFrame, measure: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(per_layer, per_seed)`` of P4 from `crossling.analysis.frames.similarity_frame`.

    ``per_layer``: per task and layer, the mean over languages and seeds of
    ``measure``(pretrained, fine-tuned REF) (``pre_ft``), of ``measure``(REF seed a, REF seed b)
    (``seed_seed``, the baseline of two fine-tunings) and of the relative weight change of the
    block from the pretrained weights (``weight_change``; layer 0 = embeddings).
    ``per_seed``: per task and seed, ``drop`` = mean pre_ft over layers 1-4 minus over 9-12
    (mean over languages) and ``weight_rho`` = Spearman ρ of the weight change vs block index.
    """
    empty = pd.DataFrame(), pd.DataFrame()
    if sf.empty:
        return empty
    ref = sf["reinit"].fillna("REF").str.upper() == "REF"
    pre_ft = sf[(sf["kind"] == "model-model") & (sf["metric"] == measure) & sf["finetuned"]
                & ref]
    if pre_ft.empty:
        return empty
    seed_seed = sf[(sf["kind"] == "seed-seed") & (sf["metric"] == measure)]
    weights = sf[(sf["kind"] == "weight-change") & (sf["metric"] == "rel_change_from_pretrained")
                 & ref]
    per_layer = pre_ft.groupby(["task", "layer"])["value"].mean().rename("pre_ft").to_frame()
    if not seed_seed.empty:
        per_layer = per_layer.join(seed_seed.groupby(["task", "layer"])["value"].mean()
                                   .rename("seed_seed"))
    if not weights.empty:
        per_layer = per_layer.join(weights.groupby(["task", "layer"])["value"].mean()
                                   .rename("weight_change"), how="outer")
    rows = []
    for (task, seed), g in pre_ft.groupby(["task", "seed"]):
        curve = g.groupby("layer")["value"].mean()
        low = curve.reindex(list(P4_LOW)).mean()
        high = curve.reindex(list(P4_HIGH)).mean()
        mine = weights[(weights["task"] == task) & (weights["seed"] == seed)]
        w = mine[mine["layer"] >= 1].groupby("layer")["value"].mean()
        rho = float(stats.spearmanr(w.index, w.to_numpy()).statistic) if len(w) >= 3 \
            else math.nan
        rows.append({"task": task, "seed": int(float(str(seed))), "pre_ft_low": float(low),
                     "pre_ft_high": float(high), "drop": float(low - high),
                     "weight_rho": rho})
    return per_layer.reset_index(), pd.DataFrame(rows)


def p4_verdicts(per_seed: pd.DataFrame, per_layer: pd.DataFrame) -> list[Verdict]:
    """P4: the drop of CKA(pretrained, fine-tuned) from layers 1-4 to 9-12, per task (mean
    over seeds, t-interval across seeds), judged with the weight-change ordering."""
    out: list[Verdict] = []
    if per_seed.empty:
        return out
    for task, g in per_seed.groupby("task"):
        est, lo, hi = mean_ci(g["drop"].to_numpy())
        drops_pos = bool((g["drop"] > 0).all())
        rhos = g["weight_rho"].to_numpy(dtype=float)
        rho_pos = bool(np.isfinite(rhos).all() and (rhos > 0).all())
        if drops_pos and rho_pos:
            verdict = SUPPORTED
        elif (g["drop"] <= 0).mean() > 0.5:
            verdict = NOT_SUPPORTED
        else:
            verdict = INCONCLUSIVE
        top = per_layer[(per_layer["task"] == task) & per_layer["layer"].isin(P4_HIGH)]
        baseline = ""
        if "seed_seed" in top and top["seed_seed"].notna().any():
            baseline = (f"; top layers: CKA(pre, ft) {top['pre_ft'].mean():.2f} vs "
                        f"CKA(seed, seed) {top['seed_seed'].mean():.2f}")
        if np.isfinite(rhos).any():  # the second half of the rule, so a reader sees which failed
            baseline += ("; weight change vs block, Spearman ρ per seed: "
                         + ", ".join(f"{r:.2f}" for r in rhos))
        out.append(Verdict(
            "P4", str(task), "debiased_cka", "CKA(pre, ft): mean of layers 1-4 − mean of 9-12",
            est, lo, hi, "t-interval across seeds (per-seed means over languages)" + baseline,
            len(g), verdict,
            "drop > 0 in every seed and weight change rising with depth (ρ > 0) in every seed",
            "a seed-seed CKA at the top as low as CKA(pre, ft) would make the top-layer change "
            "seed noise rather than adaptation"))
    return out


# --- P5 ---------------------------------------------------------------------------------------


def p5_table(sf: pd.DataFrame) -> pd.DataFrame:
    """Per measure (pretrained model): the targets' peak-minus-top differences (rows of kind
    ``layer-difference``): median D, how many targets have an interval above 0, below 0, or
    none, and the most common peak layer."""
    cols = ["measure", "targets", "median_d", "above_0", "below_0", "no_interval",
            "positive", "peak_layer_mode"]
    if sf.empty:
        return pd.DataFrame(columns=cols)
    d = sf[(sf["kind"] == "layer-difference") & ~sf["finetuned"]]
    rows = []
    for measure, g in d.groupby("metric"):
        per = g.groupby("target").agg(value=("value", "mean"), low=("ci_low", "mean"),
                                      high=("ci_high", "mean"), layer=("layer", "first"))
        has = per["low"].notna() & per["high"].notna()
        rows.append({"measure": measure, "targets": len(per),
                     "median_d": float(per["value"].median()),
                     "above_0": int((has & (per["low"] > 0)).sum()),
                     "below_0": int((has & (per["high"] < 0)).sum()),
                     "no_interval": int((~has).sum()),
                     "positive": int((per["value"] > 0).sum()),
                     "peak_layer_mode": int(per["layer"].mode().iloc[0])})
    return pd.DataFrame(rows, columns=cols)


def p5_verdicts(table: pd.DataFrame, headline: str) -> list[Verdict]:
    """P5 (the fall at the top) per measure with intervals: the headline measure first."""
    out: list[Verdict] = []
    if table.empty:
        return out
    records: list[dict[Any, Any]] = table.to_dict("records")
    for r in sorted(records, key=lambda r: (r["measure"] != headline, r["measure"])):
        with_ci = int(r["targets"]) - int(r["no_interval"])
        above = int(r["above_0"])
        if with_ci == 0:
            verdict = INCONCLUSIVE
        elif above >= math.ceil(with_ci * P5_SUPPORT / 18):
            verdict = SUPPORTED
        elif above <= math.floor(with_ci * P5_AGAINST / 18):
            verdict = NOT_SUPPORTED
        else:
            verdict = INCONCLUSIVE
        if with_ci:
            statistic = (f"targets whose peak − top interval lies above 0 (of {with_ci}); "
                         "estimate = median D")
            interval, n = ("per target: paired bootstrap over sentences (both layers on the "
                           "same resample)"), above
        else:  # descriptive only: how many curves fall at all after their peak
            statistic = (f"targets whose curve falls after its peak, D > 0 (of "
                         f"{int(r['targets'])}; no interval: not judged); estimate = median D")
            interval = (f"this measure has no bootstrap interval; the most common peak is "
                        f"layer {int(r['peak_layer_mode'])}")
            n = int(r.get("positive", 0))
        out.append(Verdict(
            "P5" if r["measure"] == headline else "P5 (robustness)", "pretrained",
            str(r["measure"]), statistic, float(r["median_d"]), math.nan, math.nan,
            interval, n, verdict,
            f"at least {P5_SUPPORT} of 18 targets above 0 (not supported: at most "
            f"{P5_AGAINST})",
            "a peak chosen on held-out sentences; other pooling (the fall depends on it)"))
    return out


# --- P6 ---------------------------------------------------------------------------------------


def p6_min_languages(n_layers: int, alpha: float = ALPHA) -> int:
    """The fewest languages with which P6 can be tested: a perfect rank correlation at one
    layer reaches a layer-corrected p < ``alpha`` whatever the other layers do. Its exact
    permutation p is 2 / n! (ρ = ±1 only), and max-T over ``n_layers`` layers is at most
    ``n_layers`` times that, so n is the least with 2 * n_layers / n! < alpha (6 for 13
    layers; with 4 even the uncorrected p cannot go below 2 / 4! = 0.083)."""
    n = 3
    while 2 * max(n_layers, 1) / math.factorial(n) >= alpha:
        n += 1
    return n


def p6_table(similarity: pd.DataFrame, scores: pd.DataFrame, tasks: dict[str, str],
             measure: str, *, n_perm: int = 100_000, seed: int = 0) -> pd.DataFrame:
    """Per task (its main metric), test set and layer: Spearman ρ between the pretrained
    model's ``measure`` (source vs target) and the REF zero-shot score across targets,
    permutation p (``p_raw``), layer-corrected max-T p (``p_max``), and the partial ρ given
    the URIEL syntactic distance to English (``partial_rho``, Freedman-Lane ``partial_p``;
    NaN with a ``covariate`` note when lang2vec is not installed).

    Scores of different test sets of a language are never averaged: ``judged`` rows use the
    judged test set (`crossling.analysis.frames.judged_test_set`, e.g. WikiANN for NER),
    the others (``judged`` False, e.g. UNER ``*_pud``) are a side table the verdict ignores.
    """
    from crossling.analysis.correlate import (
        cross_similarity,
        other_test_sets,
        transfer_scores,
    )

    table = cross_similarity(similarity, measure) if not similarity.empty else pd.DataFrame()
    parts = []
    for task, metric in tasks.items():
        if table.empty:
            continue
        sides: list[str | None] = [None, *other_test_sets(scores, task, metric)]
        for test_set in sides:
            score = transfer_scores(scores, task, metric, test_set)
            if score.empty:
                continue
            part = _p6_part(table, score, n_perm, seed)
            part.insert(0, "judged", test_set is None)
            part.insert(0, "test_set", _test_set_label(scores, task, metric, test_set))
            part.insert(0, "measure", measure)
            part.insert(0, "metric", metric)
            part.insert(0, "task", task)
            parts.append(part)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _test_set_label(scores: pd.DataFrame, task: str, metric: str, test_set: str | None) -> str:
    """The test-set pattern of a P6 part (``*``, ``*_pud``)."""
    from crossling.analysis.correlate import transfer_rows
    from crossling.analysis.frames import test_set_of

    rows = transfer_rows(scores, task, metric, test_set)
    return test_set_of(str(rows["language"].iloc[0])) if len(rows) else str(test_set)


def _p6_part(table: pd.DataFrame, score: pd.Series, n_perm: int, seed: int) -> pd.DataFrame:
    """Raw and partial permutation tests of one task and test set, one row per layer."""
    from crossling.analysis.permutation import (
        partial_permutation_spearman,
        permutation_spearman,
    )
    from crossling.analysis.typology import distance_to
    from crossling.core.errors import ConfigError

    raw = permutation_spearman(table, score, n_perm=n_perm, seed=seed)
    covariate_note = "URIEL syntax_knn cosine distance to English (lang2vec)"
    try:
        distance = distance_to(sorted(set(score.index) & set(table.columns)))
        partial = partial_permutation_spearman(table, score, distance, n_perm=n_perm,
                                               seed=seed)
        raw["partial_rho"] = partial["rho"].to_numpy()
        raw["partial_p"] = partial["p_raw"].to_numpy()
    except (ConfigError, ImportError) as exc:
        raw["partial_rho"] = raw["partial_p"] = math.nan
        covariate_note = f"no partial correlation: {exc}"
    raw["covariate"] = covariate_note
    return raw.drop(columns="partial")


CONFOUNDED_SHARE = 0.5
"""A non-significant partial ρ under this share of the raw ρ counts as confounding (the
covariate took most of the relation); above it, the data cannot tell (Amendment 1)."""


def p6_verdicts(perm: pd.DataFrame) -> list[Verdict]:
    """P6 from `p6_table`'s judged rows: per task, the layer with the smallest layer-corrected
    p; `UNTESTABLE` with fewer languages than `p6_min_languages`. *Confounded* only when the
    partial ρ is not significant and under `CONFOUNDED_SHARE` of the raw ρ (Amendment 1);
    a partial that keeps more but misses p < 0.05, or a non-significant raw ρ, is absence of
    evidence and is worded so."""
    out: list[Verdict] = []
    if perm.empty:
        return out
    side = perm[~perm["judged"].astype(bool)] if "judged" in perm else perm.iloc[:0]
    if "judged" in perm:
        perm = perm[perm["judged"].astype(bool)]
    for task, every in perm.groupby("task", sort=True):
        g = every.dropna(subset=["rho", "p_max"])
        n_langs = int(every["n_languages"].max())
        need = p6_min_languages(int(every["layer"].nunique()))
        others = sorted(set(side.loc[side["task"] == task, "test_set"])) if len(side) else []
        sets = (f" (test set {every['test_set'].iloc[0]} only; {', '.join(others)}: a side "
                "table, not judged)") if others else ""
        if n_langs < need:
            out.append(Verdict(
                "P6", str(task), str(every["metric"].iloc[0]),
                f"untestable with n = {n_langs} languages (targets with a score and a "
                f"similarity){sets}", math.nan, math.nan,
                math.nan, f"fewer than {need} languages: even a perfect rank correlation "
                f"could not reach a layer-corrected p < {ALPHA:g} over "
                f"{int(every['layer'].nunique())} layers (exact p >= 2/{n_langs}!)",
                n_langs, UNTESTABLE,
                f"at least {need} languages (then: layer-corrected p < 0.05 and the partial "
                "ρ keeps its sign with p < 0.05)",
                "more target languages scored on the one test set"))
            continue
        if g.empty:
            continue
        best = g.iloc[int(np.argmin(g["p_max"].to_numpy(dtype=float)))]
        partial_ok = _finite(best["partial_rho"], best["partial_p"])
        same_sign = partial_ok and np.sign(best["partial_rho"]) == np.sign(best["rho"])
        partial_sig = partial_ok and best["partial_p"] < ALPHA
        if best["p_max"] < ALPHA and partial_sig and same_sign:
            verdict, reading = SUPPORTED, "the relation holds beyond the syntactic distance"
        elif best["p_max"] < ALPHA and partial_ok and not partial_sig and \
                abs(best["partial_rho"]) < CONFOUNDED_SHARE * abs(best["rho"]):
            verdict, reading = CONFOUNDED, (
                "raw ρ significant, partial ρ not and under half of it: the syntactic "
                "distance to English takes most of the relation")
        elif best["p_max"] < ALPHA and partial_ok and not partial_sig:
            verdict, reading = INCONCLUSIVE, (
                f"raw ρ significant; the partial ρ keeps half of it or more but misses "
                f"p < {ALPHA:g}: not separable from the syntactic distance with "
                f"{int(best['n_languages'])} languages (absence of evidence, not shown "
                "confounding)")
        elif best["p_max"] < ALPHA:
            verdict, reading = INCONCLUSIVE, (
                "raw ρ significant; the partial ρ is missing or changes sign")
        else:
            verdict, reading = NOT_SUPPORTED, (
                "no layer reaches the layer-corrected p < 0.05: absence of evidence for a "
                "relation, not evidence against one; the partial ρ adds nothing either way")
        kind = "exact" if bool(best["exact"]) else f"{int(best['n_permutations'])} random"
        out.append(Verdict(
            "P6", str(task), str(best["metric"]),
            f"Spearman ρ at layer {int(best['layer'])} (smallest layer-corrected p){sets}",
            float(best["rho"]), math.nan, math.nan,
            f"permutations of the languages ({kind}): p = {fmt3(best['p_raw'])}, "
            f"layer-corrected (max-T over layers) p = {fmt3(best['p_max'])}; partial ρ given "
            f"syntactic distance to English = {fmt2(best['partial_rho'])} "
            f"(p = {fmt3(best['partial_p'])}); reading: {reading}",
            int(best["n_languages"]), verdict,
            "layer-corrected p < 0.05 and the partial ρ keeps its sign with p < 0.05 "
            "(confounded: raw significant, partial not and under half the raw ρ)",
            "another typological distance; more languages (18 targets leave a partial "
            "correlation little power)"))
    return out


@dataclass(frozen=True)
class VerdictInputs:
    """The analysis frames the verdicts are judged on (an empty frame: not measured):
    ``contrasts`` (`crossling.analysis.hierarchical.hierarchical_gaps`), ``summary``
    (`crossling.analysis.deltas.summarize`), ``p4_seeds``/``p4_layers``
    (`p4_frames`), ``p5`` (`p5_table`), ``p6`` (`p6_table`), ``robustness``
    (`crossling.analysis.alignment.alignment_robustness` summary: P5's measure-dependence);
    each task's main metric, and the headline measure (P5)."""

    main_metric: dict[str, str]
    headline: str
    contrasts: pd.DataFrame = field(default_factory=pd.DataFrame)
    summary: pd.DataFrame = field(default_factory=pd.DataFrame)
    p4_seeds: pd.DataFrame = field(default_factory=pd.DataFrame)
    p4_layers: pd.DataFrame = field(default_factory=pd.DataFrame)
    p5: pd.DataFrame = field(default_factory=pd.DataFrame)
    p6: pd.DataFrame = field(default_factory=pd.DataFrame)
    robustness: pd.DataFrame = field(default_factory=pd.DataFrame)


# --- overall ----------------------------------------------------------------------------------

OVERALL = "overall"
"""The ``task`` of an overall verdict row (one per proposition the plan gives a rule for)."""
P2_DECIDES = "pos"
"""The task whose verdict is P2's overall verdict (the paper's central task, analysis plan)."""


def _tasks(rows: Sequence[Verdict]) -> str:
    return ", ".join(f"{r.task} {r.verdict}" for r in rows)


def p2_overall(rows: Sequence[Verdict]) -> list[Verdict]:
    """P2 overall: the POS verdict on C1 = gap(1-2) − gap(11-12), the other tasks beside it."""
    c1 = [r for r in rows if r.proposition == "P2" and r.statistic.startswith(
        f"gap({P2_GROUPS[0]})")]
    pos = [r for r in c1 if r.task == P2_DECIDES]
    if not c1:
        return []
    others = [r for r in c1 if r.task != P2_DECIDES]
    if not pos:
        return [Verdict("P2", OVERALL, "main metric",
                        f"the {P2_DECIDES} verdict on C1 (not measured); beside it: "
                        f"{_tasks(others)}", math.nan, math.nan, math.nan, "", 0, MISSING,
                        f"P2 overall = the {P2_DECIDES} verdict", "")]
    r = pos[0]
    return [Verdict("P2", OVERALL, r.metric, f"the {P2_DECIDES} verdict on C1 = {r.statistic}; "
                    f"beside it: {_tasks(others) or 'no other task'}", r.estimate, r.ci_low,
                    r.ci_high, r.interval, r.n, r.verdict,
                    f"P2 overall = the {P2_DECIDES} verdict (analysis plan); per task: "
                    f"{r.criterion}", r.would_change)]


def p3_overall(rows: Sequence[Verdict]) -> list[Verdict]:
    """P3 overall: supported only when supported in every task; not supported when some task
    is; inconclusive otherwise, naming the tasks that decide it."""
    p3 = [r for r in rows if r.proposition == "P3"]
    if not p3:
        return []
    failing = [r for r in p3 if r.verdict != SUPPORTED]
    against = [r for r in p3 if r.verdict == NOT_SUPPORTED]
    verdict = SUPPORTED if not failing else NOT_SUPPORTED if against else INCONCLUSIVE
    bounds = ", ".join(f"{r.task} {fmt2(r.ci_low)}" for r in p3)
    decides = against or failing
    worst = min(p3, key=lambda r: r.ci_low if _finite(r.ci_low) else -math.inf)
    said = (f"; decided by {', '.join(r.task for r in decides)}" if decides
            else "; every task within the margin")
    return [Verdict("P3", OVERALL, "main metrics",
                    f"lower bound of the mean target Δ of re-init 11-12 above "
                    f"−{P3_MARGIN:g} points in every task (lower bounds: {bounds}){said}; "
                    f"estimate: the task with the lowest bound ({worst.task})",
                    worst.estimate, worst.ci_low, worst.ci_high, worst.interval, len(p3),
                    verdict, f"supported in every task (not supported: in some task the upper "
                    f"bound is below −{P3_MARGIN:g})", worst.would_change)]


def p4_overall(per_seed: pd.DataFrame) -> list[Verdict]:
    """P4 overall: drop > 0 in every seed of every task and the weight change rising with
    depth (ρ > 0) in every seed; not supported when the drop is <= 0 in most seeds."""
    per_seed = per_seed[np.isfinite(per_seed["drop"].to_numpy(dtype=float))] \
        if not per_seed.empty else per_seed
    if per_seed.empty:  # no seed with a drop (e.g. no layers 9-12): nothing to judge
        return []
    drops = per_seed["drop"].to_numpy(dtype=float)
    rhos = per_seed["weight_rho"].to_numpy(dtype=float)
    n = len(per_seed)
    drop_pos, rho_pos = int((drops > 0).sum()), int((np.isfinite(rhos) & (rhos > 0)).sum())
    if drop_pos == n and rho_pos == n:
        verdict = SUPPORTED
    elif (drops <= 0).mean() > 0.5:
        verdict = NOT_SUPPORTED
    else:
        verdict = INCONCLUSIVE
    rising = sorted({str(t) for t, r in zip(per_seed["task"], rhos, strict=True) if r > 0})
    tasks = per_seed["task"].nunique()
    return [Verdict("P4", OVERALL, "debiased_cka", f"drop > 0 in {drop_pos} of {n} seeds of "
                    f"{tasks} tasks; weight change rising with depth (ρ > 0) in {rho_pos} of "
                    f"{n} seeds ({', '.join(rising) or 'no task'}); estimate: mean drop",
                    float(drops.mean()), math.nan, math.nan, "per seed and task "
                    "(p4-seeds.csv); no interval pooled over tasks", n, verdict,
                    "drop > 0 in every seed of every task and ρ > 0 in every seed",
                    "a task whose weight change does not rise with depth keeps it inconclusive")]


def p5_overall(rows: Sequence[Verdict], robustness: pd.DataFrame) -> list[Verdict]:
    """P5 overall: the headline measure's verdict, and for how many measures the fall holds
    (paired intervals over sentences; then robustness.csv's interval over targets)."""
    p5 = [r for r in rows if r.proposition.startswith("P5")]
    head = [r for r in p5 if r.proposition == "P5"]
    if not head:
        return []
    judged = [r for r in p5 if "not judged" not in r.statistic]
    holds = [r.metric for r in judged if r.verdict == SUPPORTED]
    text = (f"{head[0].metric}'s verdict; the fall holds for {len(holds)} of {len(judged)} "
            f"measures with a paired interval ({', '.join(holds) or 'none'})")
    if not robustness.empty:
        labels: dict[str, list[str]] = {}
        for measure, label in zip(robustness["measure"], robustness["verdict"], strict=True):
            labels.setdefault(str(label), []).append(str(measure))
        falls = len(labels.get("falls after the peak", []))
        text += (f"; over targets (robustness.csv) the mean curve falls after its peak for "
                 f"{falls} of {len(robustness)} measures: " + "; ".join(
                     f"{label}: {', '.join(ms)}" for label, ms in labels.items()))
    r = head[0]
    return [Verdict("P5", OVERALL, r.metric, text, r.estimate, r.ci_low, r.ci_high,
                    r.interval, r.n, r.verdict, "P5 overall = the headline measure's verdict; "
                    "the robustness check says for how many measures it holds",
                    r.would_change)]


def overall_verdicts(rows: Sequence[Verdict], inputs: VerdictInputs) -> list[Verdict]:
    """The plan's overall verdicts, P2 to P5 (P6 has a rule per task only)."""
    return (p2_overall(rows) + p3_overall(rows) + p4_overall(inputs.p4_seeds)
            + p5_overall(rows, inputs.robustness))


def all_verdicts(inputs: VerdictInputs) -> pd.DataFrame:
    """Every verdict row: the overall verdicts first, then P2 to P6 per task (verdicts.csv)."""
    i = inputs
    rows = (p2_verdicts(i.contrasts, i.main_metric) + p3_verdicts(i.summary, i.main_metric)
            + p4_verdicts(i.p4_seeds, i.p4_layers) + p5_verdicts(i.p5, i.headline)
            + p6_verdicts(i.p6))
    return verdict_frame(overall_verdicts(rows, i) + rows)
