"""The report's numbers, computed without drawing or writing anything.

:func:`compute_report` turns result rows into a :class:`ReportData`: every frame the report
shows or writes (the verdicts on P2-P6 and the pre-registered statistics behind them, Table 1,
the Δ frames and Table 2, Table 3 and the full
correlations, pretrained vs fine-tuned, the similarity frames, settings, provenance), the
reported measure with the note that says when it is not the requested one, and the choices the
figures depend on (the scatter's layer per task). :mod:`crossling.report.render` draws and
writes from it. The split exists so that a number in the report can be produced, checked and
reused (a notebook, a test, another report format) without matplotlib and without an output
folder; this module must not import matplotlib, directly or through
:mod:`crossling.report.plots` / :mod:`crossling.report.figures`.

The headline similarity measure is debiased linear CKA (:data:`HEADLINE_MEASURE`): biased CKA of
unrelated sentences is far from 0 at the sample sizes a study affords, the debiased estimator
stays near 0, so its numbers can be read as they are.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from crossling.analysis.correlate import MAIN_METRIC, all_correlations, pretrained_vs_finetuned
from crossling.analysis.deltas import deltas, summarize
from crossling.analysis.frames import (
    SIMILARITY_KINDS,
    finetuning_of,
    is_ref_model,
    scores_frame,
    similarity_frame,
)
from crossling.analysis.hierarchical import hierarchical_gaps
from crossling.analysis.probing import (
    best_layers,
    layer_table,
    probe_frame,
    probe_settings,
    split_probe_rows,
)
from crossling.analysis.retrieval import is_retrieval, peak_table, retrieval_frame
from crossling.analysis.verdicts import (
    VerdictInputs,
    all_verdicts,
    p4_frames,
    p5_table,
    p6_table,
)
from crossling.report import tables
from crossling.results import ScoreRow, SimilarityRow
from crossling.similarity.measures import HEADLINE_MEASURE, get_measure, measure_ids

__all__ = ["HEADLINE_MEASURE", "ReportData", "ScatterChoice", "alignment_robustness",
           "check_measure", "choose_measure", "compute_report", "robustness_table"]


@dataclass(frozen=True)
class ScatterChoice:
    """The layer a task's similarity-vs-score scatter shows: the one with the largest |ρ| of the
    pretrained model (a *selected* layer, hence the CI in its title). ``row`` is that layer's
    row of :attr:`ReportData.correlation` (ρ, CI, p, n)."""

    task: str
    metric: str
    layer: int
    row: pd.Series


def _empty() -> pd.DataFrame:
    """A fresh empty frame per absent part (no two fields share one mutable object)."""
    return pd.DataFrame()


@dataclass(frozen=True)
class ReportData:
    """Everything the report shows or writes, as frames; empty frames for absent parts.

    Raw frames are the ones the CSVs hold (``deltas`` = deltas.csv, ``delta_summary`` =
    delta-summary.csv, ``correlations`` = correlations.csv); the ``*_table`` frames are the
    formatted tables of report.md / index.html (estimates with their intervals as one cell).
    """

    measure: str
    """The reported measure (tables and single-measure figures)."""
    requested_measure: str
    """The measure asked for; differs from :attr:`measure` when the rows lack it."""
    scores: pd.DataFrame
    """:func:`crossling.analysis.frames.scores_frame` of the score rows."""
    similarity: pd.DataFrame
    """:func:`crossling.analysis.frames.similarity_frame` of the similarity rows."""
    pretrained_rows: tuple[SimilarityRow, ...]
    """Cross-lingual rows of the pretrained model (the per-target curves)."""
    settings: pd.DataFrame
    provenance: pd.DataFrame
    ref_table: pd.DataFrame = field(default_factory=_empty)
    """Table 1 (empty without scores)."""
    deltas: pd.DataFrame = field(default_factory=_empty)
    delta_summary: pd.DataFrame = field(default_factory=_empty)
    delta_table: pd.DataFrame = field(default_factory=_empty)
    """Table 2, per group (formatted :attr:`delta_summary`)."""
    appendix: tuple[tuple[str, pd.DataFrame], ...] = ()
    """(caption, table) of Δ per group × language, mean over seeds."""
    alignment_measures: tuple[str, ...] = ()
    """Measures of the alignment figure, the reported one first; empty without cross-lingual
    rows (no figure)."""
    pretrained_vs_finetuned: pd.DataFrame = field(default_factory=_empty)
    """Per task and layer: similarity(pretrained, fine-tuned) in :attr:`measure`, with null."""
    pretrained_vs_finetuned_table: pd.DataFrame = field(default_factory=_empty)
    """Layer × task means of :attr:`pretrained_vs_finetuned` and the mean null."""
    correlations: pd.DataFrame = field(default_factory=_empty)
    """Spearman ρ per task, metric, measure, pretrained/fine-tuned and layer (every measure)."""
    correlation: pd.DataFrame = field(default_factory=_empty)
    """:attr:`correlations` of the reported measure."""
    correlation_table: pd.DataFrame = field(default_factory=_empty)
    """Table 3 (empty when no ρ is defined: the section is left out)."""
    scatter: tuple[ScatterChoice, ...] = ()
    retrieval: pd.DataFrame = field(default_factory=_empty)
    """:func:`crossling.analysis.retrieval.retrieval_frame` of the retrieval rows (P@1 per
    target, layer, variant and direction); empty without retrieval rows (no section)."""
    retrieval_peaks: pd.DataFrame = field(default_factory=_empty)
    """Per target (and the mean over targets) and variant: the peak layer of P@1 in each
    direction (:func:`crossling.analysis.retrieval.peak_table`)."""
    probe: pd.DataFrame = field(default_factory=_empty)
    """:func:`crossling.analysis.probing.probe_frame` of the probing rows (task ``probe_pos``;
    they are left out of every fine-tuning frame above)."""
    probe_layers: pd.DataFrame = field(default_factory=_empty)
    """Layers x languages probe accuracy, last row the majority baseline."""
    probe_best: pd.DataFrame = field(default_factory=_empty)
    """:func:`crossling.analysis.probing.best_layers`: per language, the best layer with its
    accuracy, selectivity and control accuracy (CIs), the majority baseline, and the accuracy at
    the source's best layer."""
    probe_table: pd.DataFrame = field(default_factory=_empty)
    """:attr:`probe_best` formatted (estimates with their intervals)."""
    probe_settings: pd.DataFrame = field(default_factory=_empty)
    """What the probing numbers depend on (training set and size, L2, iterations, seed)."""
    robustness: pd.DataFrame = field(default_factory=_empty)
    """Per model and measure (pretrained, cross-lingual): peak layer, top-layer fall with its
    bootstrap-over-targets interval, verdict (:func:`alignment_robustness`; robustness.csv)."""
    robustness_curves: pd.DataFrame = field(default_factory=_empty)
    """Per model, measure and layer: mean value and null over targets, normalised curve
    (robustness-curves.csv; the robustness figure)."""
    robustness_table: pd.DataFrame = field(default_factory=_empty)
    """:attr:`robustness` formatted for the report."""
    contrasts: pd.DataFrame = field(default_factory=_empty)
    """P2: :func:`crossling.analysis.hierarchical.hierarchical_gaps` (gaps and the
    pre-registered contrasts vs 11-12 per task and metric; per-seed values; p2-contrasts.csv)."""
    p4_layers: pd.DataFrame = field(default_factory=_empty)
    """P4 per task and layer: CKA(pretrained, fine-tuned), CKA(seed, seed), weight change."""
    p4_seeds: pd.DataFrame = field(default_factory=_empty)
    """P4 per task and seed: the drop of CKA(pre, ft) from layers 1-4 to 9-12, weight ρ."""
    layer_differences: pd.DataFrame = field(default_factory=_empty)
    """P5 per target and measure: peak − top with its paired bootstrap interval."""
    p5: pd.DataFrame = field(default_factory=_empty)
    """P5 per measure: how many targets' peak − top intervals lie above / below 0."""
    p6: pd.DataFrame = field(default_factory=_empty)
    """P6 per task and layer: ρ, permutation p, layer-corrected p, partial ρ given typology."""
    verdicts: pd.DataFrame = field(default_factory=_empty)
    """One row per judged statistic, P2-P6, by the rules of the analysis plan (verdicts.csv)."""
    similarity_all: pd.DataFrame = field(default_factory=_empty)
    """Every similarity row (all kinds, all fine-tuned models; similarity.csv)."""
    finetuned_alignment: pd.DataFrame = field(default_factory=_empty)
    """Cross-lingual similarity of the fine-tuned models per task, re-init group and layer."""

    @property
    def fallback_note(self) -> str | None:
        """Why the reported measure is not the requested one, or None when it is."""
        if self.measure == self.requested_measure:
            return None
        return f"the rows have no {self.requested_measure}"


def check_measure(measure: str) -> None:
    """ConfigError for a name that is not a registered measure: a typo must not silently
    report another measure."""
    get_measure(measure)


def choose_measure(sf: pd.DataFrame, measure: str) -> str:
    """The requested measure if the rows have it, else the headline (debiased CKA, unbiased at
    small n), else biased linear CKA (a store computed with ``measures: [linear_cka]``), else
    any. The report's Settings section says when the reported measure is not the requested
    one."""
    present = set(sf["metric"])
    for m in (measure, HEADLINE_MEASURE, "linear_cka"):
        if m in present:
            return m
    return str(sorted(present)[0])


def _scatter_choices(corr: pd.DataFrame) -> tuple[ScatterChoice, ...]:
    """Per task (main metric, else the first): the pretrained layer with the largest |ρ|."""
    out = []
    for task in sorted(set(corr["task"])):
        metrics = sorted(set(corr[corr["task"] == task]["metric"]))
        metric = MAIN_METRIC.get(str(task), metrics[0])
        metric = metric if metric in metrics else metrics[0]
        pre = corr[(corr["task"] == task) & (corr["metric"] == metric) &
                   ~corr["finetuned"]].dropna(subset=["rho"])
        if pre.empty:
            continue
        best = pre.loc[pre["rho"].abs().idxmax()]
        out.append(ScatterChoice(str(task), str(metric), int(best["layer"]), best))
    return tuple(out)


FALLS = "falls after the peak"
NO_CLEAR_FALL = "no clear fall (interval reaches 0)"
PEAKS_LAST = "no fall: peaks at the last layer"
ONE_TARGET = "one target: no interval"


def _measure_order(measures: Sequence[str]) -> list[str]:
    """Registry (display) order, then ids the registry does not know (older stores)."""
    known = measure_ids()
    return sorted(measures, key=lambda m: (known.index(m) if m in known else len(known), m))


def alignment_robustness(sf: pd.DataFrame, *, n_boot: int = 1000, seed: int = 0,
                         ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Is the rise-then-fall the same under every measure? ``(curves, summary)`` of the
    pretrained cross-lingual rows of :func:`~crossling.analysis.frames.similarity_frame`.

    Per model and measure, with V[t, l] the value of target t at layer l (mean over duplicate
    rows; targets lacking a layer are left out) and N[t, l] its shuffled-pairs null mean:

    - ``curves``: per layer, ``value`` = mean over targets of V, ``null_mean`` = mean of N (0
      when the rows have no null), ``normalised = (value - null_mean) / max over layers of
      (value - null_mean)``: 0 is what shuffled pairs score, 1 the measure's peak, so measures
      on different scales share one axis;
    - ``summary``: the peak layer (the largest ``value - null_mean``), the top-layer ``fall`` =
      mean over targets of V[t, peak] - V[t, last] (paired: the same targets at both layers),
      its 95% percentile interval from ``n_boot`` resamples *of the target languages* with the
      peak re-selected in each resample (so the interval carries the selection of the peak;
      the rows hold per-layer summaries, so sentence-sampling noise is not in it),
      ``peak_stability`` = share of resamples that pick the same peak layer, and a verdict:
      falls (interval above 0), no clear fall, or peaks at the last layer.

    Seeded: the same rows give the same intervals.
    """
    cross = sf[(sf["kind"] == "cross-lingual") & ~sf["finetuned"]] if not sf.empty else sf
    if cross.empty:
        return _empty(), _empty()
    rng = np.random.default_rng(seed)
    curves: list[pd.DataFrame] = []
    summary: list[dict[str, object]] = []
    for model in sorted(set(cross["model"])):
        by_model = cross[cross["model"] == model]
        for measure in _measure_order(list(set(by_model["metric"]))):
            g = by_model[by_model["metric"] == measure]
            values = g.pivot_table(index="target", columns="layer", values="value",
                                   aggfunc="mean").dropna()
            if values.empty:
                continue
            has_null = bool(g["null_mean"].notna().any())
            nulls = g.pivot_table(index="target", columns="layer", values="null_mean",
                                  aggfunc="mean").reindex_like(values) if has_null else None
            v = values.to_numpy(dtype=float)
            nn = np.nan_to_num(nulls.to_numpy(dtype=float)) if nulls is not None \
                else np.zeros_like(v)
            layers = [int(c) for c in values.columns]
            mean_v, mean_n = v.mean(0), nn.mean(0)
            excess = mean_v - mean_n
            peak = int(np.argmax(excess))
            top = float(excess[peak])
            curves.append(pd.DataFrame({
                "model": model, "measure": measure, "layer": layers, "value": mean_v,
                "null_mean": mean_n,
                "normalised": excess / top if top > 0 else np.full_like(excess, np.nan)}))
            t = v.shape[0]
            fall = float(mean_v[peak] - mean_v[-1])
            low = high = stability = float("nan")
            if t >= 2 and n_boot > 0:
                idx = rng.integers(0, t, size=(n_boot, t))
                vb = v[idx].mean(1)
                peaks = np.argmax(vb - nn[idx].mean(1), axis=1)
                falls = vb[np.arange(n_boot), peaks] - vb[:, -1]
                low, high = (float(q) for q in np.percentile(falls, [2.5, 97.5]))
                stability = float(np.mean(peaks == peak))
            if peak == len(layers) - 1:
                verdict = PEAKS_LAST
            elif math.isnan(low):
                verdict = ONE_TARGET
            else:
                verdict = FALLS if low > 0 else NO_CLEAR_FALL
            summary.append({
                "model": model, "measure": measure, "targets": t, "peak_layer": layers[peak],
                "last_layer": layers[-1], "peak_excess": top, "fall": fall,
                "fall_ci_low": low, "fall_ci_high": high,
                "fall_normalised": fall / top if top > 0 else float("nan"),
                "peak_stability": stability, "null": "shuffled pairs" if has_null else "none",
                "verdict": verdict})
    if not summary:
        return _empty(), _empty()
    return pd.concat(curves, ignore_index=True), pd.DataFrame(summary)


def robustness_table(summary: pd.DataFrame) -> pd.DataFrame:
    """The report's table of :func:`alignment_robustness` (one row per model and measure)."""
    if summary.empty:
        return summary
    table = pd.DataFrame({
        "measure": summary["measure"], "peak layer": summary["peak_layer"],
        "top fall (peak − last) [95% CI]": [
            tables.fmt_ci(*v, digits=3) for v in zip(
                summary["fall"], summary["fall_ci_low"], summary["fall_ci_high"], strict=True)],
        "fall / (peak − null)": summary["fall_normalised"],
        "peak stability": summary["peak_stability"], "targets": summary["targets"],
        "verdict": summary["verdict"]})
    if summary["model"].nunique() > 1:
        table.insert(0, "model", summary["model"])
    return table


def compute_report(scores: Sequence[ScoreRow], sims: Sequence[SimilarityRow], *,
                   measure: str = HEADLINE_MEASURE, n_boot: int = 1000,
                   n_perm: int = 100_000) -> ReportData:
    """Every number of the report, from result rows; draws nothing and writes nothing.

    ``measure`` must be a registered measure (ConfigError otherwise); if the rows lack it the
    headline measure is reported (then biased linear CKA), and :attr:`ReportData.fallback_note`
    says so. ``n_boot`` is the size of the (seeded) bootstrap of Spearman's ρ over languages,
    ``n_perm`` the number of language permutations of the P6 test (exact when fewer suffice).
    Raises ValueError when there are no rows at all (an empty report would look like a result).
    """
    if not scores and not sims:
        raise ValueError("no result rows to report")
    check_measure(measure)
    requested = measure
    all_prov = [r.provenance for r in scores] + [r.provenance for r in sims]
    probe_rows, scores = split_probe_rows(scores)  # probing has its own section
    # Retrieval rows share the similarity row type (kind "retrieval") but not its analyses:
    # P@1 is no similarity measure, so they get their own frame and section.
    retrieval = [r for r in sims if is_retrieval(r)]
    sims = [r for r in sims if not is_retrieval(r)]
    # The analyses below compare the pretrained model with the REF fine-tuned models: rows of a
    # re-init group's models, seed-vs-seed and weight-change rows are not theirs.
    all_sims = similarity_frame(sims)  # every kind and model: the P4/P5 statistics need them
    sims = [r for r in sims if r.kind in SIMILARITY_KINDS and is_ref_model(r)]
    rf = retrieval_frame(retrieval)
    sc = scores_frame(scores)
    sf = similarity_frame(sims)
    if not sf.empty:
        measure = choose_measure(sf, measure)
    prov = [r.provenance for r in scores] + [r.provenance for r in sims]
    ref, d, summary, delta_tab = (_empty() for _ in range(4))
    appendix: tuple[tuple[str, pd.DataFrame], ...] = ()
    if not sc.empty:
        ref = tables.ref_table(sc)
        d = deltas(sc)
        if not d.empty:
            summary = summarize(d)
            delta_tab = tables.delta_table(summary)
            appendix = tuple(tables.appendix_tables(d))

    alignment: tuple[str, ...] = ()
    if not sf.empty and (sf["kind"] == "cross-lingual").any():
        alignment = (measure, *sorted(set(sf["metric"]) - {measure}))

    mm = pretrained_vs_finetuned(sf, measure) if not sf.empty else _empty()
    mm_tab = _empty()
    if not mm.empty:
        table = mm.pivot_table(index="layer", columns="task", values="mean")
        table.columns = [f"{c} (mean)" for c in table.columns]
        table["null (mean)"] = mm.groupby("layer")["null_mean"].mean()
        mm_tab = table.reset_index()

    corr_all, corr, corr_tab = _empty(), _empty(), _empty()
    scatter: tuple[ScatterChoice, ...] = ()
    if not sc.empty and not sf.empty:
        corr_all = all_correlations(sf, sc, n_boot=n_boot)
        corr = corr_all[corr_all["measure"] == measure] if not corr_all.empty else corr_all
        if not corr.empty and corr["rho"].notna().any():
            corr_tab = tables.correlation_table(corr)
            scatter = _scatter_choices(corr)

    curves, robust = alignment_robustness(sf, n_boot=n_boot)
    stats_fields = _proposition_fields(sc, all_sims, summary, measure, n_perm=n_perm)

    return ReportData(
        measure=measure, requested_measure=requested, scores=sc, similarity=sf,
        pretrained_rows=tuple(r for r in sims if r.kind == "cross-lingual" and
                              finetuning_of(r)[0] is None),
        settings=tables.settings_table(sf, sc, prov, measure),
        provenance=tables.provenance_table(all_prov), ref_table=ref, deltas=d,
        delta_summary=summary, delta_table=delta_tab,
        appendix=appendix, alignment_measures=alignment, pretrained_vs_finetuned=mm,
        pretrained_vs_finetuned_table=mm_tab, correlations=corr_all, correlation=corr,
        correlation_table=corr_tab, scatter=scatter, retrieval=rf,
        retrieval_peaks=peak_table(rf), robustness=robust, robustness_curves=curves,
        robustness_table=robustness_table(robust), **stats_fields, **_probe_fields(probe_rows))


def _proposition_fields(sc: pd.DataFrame, sf: pd.DataFrame, summary: pd.DataFrame,
                        measure: str, *, n_perm: int) -> dict[str, pd.DataFrame]:
    """The pre-registered statistics of P2-P6 and their verdicts (docs/reproduction/
    analysis-plan.md); empty frames for what the rows do not hold."""
    contrasts = hierarchical_gaps(sc) if not sc.empty else _empty()
    p4_layers, p4_seeds = p4_frames(sf, measure)
    layer_diff = sf[(sf["kind"] == "layer-difference")] if not sf.empty else _empty()
    p5 = p5_table(sf)
    main = {t: MAIN_METRIC[t] for t in sorted(set(sc["task"])) if t in MAIN_METRIC} \
        if not sc.empty else {}
    p6 = p6_table(sf, sc, main, measure, n_perm=n_perm) if main and not sf.empty else _empty()
    verdicts = all_verdicts(VerdictInputs(contrasts=contrasts, summary=summary, p4_seeds=p4_seeds,
                                          p4_layers=p4_layers, p5=p5, p6=p6,
                                          main_metric=MAIN_METRIC, headline=measure))
    return {"contrasts": contrasts, "p4_layers": p4_layers, "p4_seeds": p4_seeds,
            "layer_differences": layer_diff.reset_index(drop=True), "p5": p5, "p6": p6,
            "verdicts": verdicts, "similarity_all": sf,
            "finetuned_alignment": finetuned_alignment(sf, measure)}


def finetuned_alignment(sf: pd.DataFrame, measure: str) -> pd.DataFrame:
    """P2 <-> P5: cross-lingual ``measure`` of the fine-tuned models by task, re-init group and
    layer (mean over targets and seeds; ``seeds`` and ``targets`` say over how many), beside
    the pretrained curve (task ``pretrained``): does re-initialising the low blocks change the
    fine-tuned model's alignment?"""
    cols = ["task", "reinit", "layer", "value", "seeds", "targets"]
    if sf.empty:
        return pd.DataFrame(columns=cols)
    cross = sf[(sf["kind"] == "cross-lingual") & (sf["metric"] == measure)]
    if not cross["finetuned"].any():
        return pd.DataFrame(columns=cols)
    cross = cross.assign(task=cross["task"].fillna("pretrained"),
                         reinit=cross["reinit"].fillna("REF").where(cross["finetuned"], "-"),
                         seed=cross["seed"].fillna(-1))
    out = cross.groupby(["task", "reinit", "layer"]).agg(
        value=("value", "mean"), seeds=("seed", "nunique"),
        targets=("target", "nunique")).reset_index()
    return out[cols]


def _probe_fields(rows: Sequence[ScoreRow]) -> dict[str, pd.DataFrame]:
    """The probing fields of :class:`ReportData` (empty frames without probing rows)."""
    if not rows:
        return {}
    frame = probe_frame(rows)
    best = best_layers(frame)
    return {"probe": frame, "probe_layers": layer_table(frame, "upos_acc").reset_index(
        names="layer"), "probe_best": best, "probe_table": tables.probe_table(best),
        "probe_settings": probe_settings(rows)}
