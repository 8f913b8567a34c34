"""The report's numbers as one object, assembled from result rows without drawing or writing.

`compute_report` turns rows into a `ReportData`: every frame the report shows or writes, the
reported measure and the scatter's selected layers. The statistics live in
`crossling.analysis`; here they are only called and gathered, so a number of the report can be
produced and checked (a notebook, a test) without matplotlib or an output folder. This module
must not import matplotlib, directly or through the report's figures.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any, TypeVar

import pandas as pd

from crossling.analysis.alignment import alignment_robustness, finetuned_alignment
from crossling.analysis.confounds import confound_table, covariate_table
from crossling.analysis.controls import control_frame, split_control_rows
from crossling.analysis.correlate import (
    MAIN_METRIC,
    all_correlations,
    cross_similarity,
    pretrained_vs_finetuned,
    transfer_scores,
)
from crossling.analysis.crossed import p2_contrasts
from crossling.analysis.deltas import deltas, summarize
from crossling.analysis.frames import (
    SIMILARITY_KINDS,
    finetuning_of,
    is_ref_model,
    scores_frame,
    sentence_frame,
    similarity_frame,
)
from crossling.analysis.probing import (
    best_layers,
    layer_table,
    probe_frame,
    probe_settings,
    split_probe_rows,
)
from crossling.analysis.retrieval import is_retrieval, peak_table, retrieval_frame
from crossling.analysis.scatter import ScatterChoice, scatter_choices
from crossling.analysis.verdicts import (
    VerdictInputs,
    all_verdicts,
    p4_frames,
    p5_table,
    p6_table,
)
from crossling.models.naming import model_name
from crossling.report import tables
from crossling.report.settings import ReportSettings
from crossling.results import ScoreRow, SimilarityRow
from crossling.similarity.measures import HEADLINE_MEASURE

__all__ = ["Covariates", "ReportData", "choose_measure", "compute_report"]

Covariates = pd.DataFrame | Callable[[], pd.DataFrame] | None
"""A model's tokenizer covariates of the P6 targets
(`crossling.workflows.covariates.language_covariates`), or a function computing them: called
only when P6 has a correlation to control (reading and tokenising PUD takes a while)."""


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
    """The measure asked for; differs from `measure` when the rows lack it."""
    scores: pd.DataFrame
    """`crossling.analysis.frames.scores_frame` of the score rows."""
    similarity: pd.DataFrame
    """`crossling.analysis.frames.similarity_frame` of the similarity rows."""
    pretrained_rows: tuple[SimilarityRow, ...]
    """Cross-lingual rows of the pretrained model (the per-target curves)."""
    settings: pd.DataFrame
    provenance: pd.DataFrame
    ref_table: pd.DataFrame = field(default_factory=_empty)
    """Table 1 (empty without scores)."""
    sentences: pd.DataFrame = field(default_factory=_empty)
    """`crossling.analysis.frames.sentence_frame` of the score rows (sentence-scores.csv.gz;
    no rows when none kept its per-sentence counts)."""
    deltas: pd.DataFrame = field(default_factory=_empty)
    delta_summary: pd.DataFrame = field(default_factory=_empty)
    delta_table: pd.DataFrame = field(default_factory=_empty)
    """Table 2, per group (formatted `delta_summary`)."""
    appendix: tuple[tuple[str, pd.DataFrame], ...] = ()
    """(caption, table) of Δ per group × language, mean over seeds."""
    alignment_measures: tuple[str, ...] = ()
    """Measures of the alignment figure, the reported one first; empty without cross-lingual
    rows (no figure)."""
    pretrained_vs_finetuned: pd.DataFrame = field(default_factory=_empty)
    """Per task and layer: similarity(pretrained, fine-tuned) in `measure`, with null."""
    pretrained_vs_finetuned_table: pd.DataFrame = field(default_factory=_empty)
    """Layer × task means of `pretrained_vs_finetuned` and the mean null."""
    correlations: pd.DataFrame = field(default_factory=_empty)
    """Spearman ρ per task, metric, measure, pretrained/fine-tuned and layer (every measure)."""
    correlation: pd.DataFrame = field(default_factory=_empty)
    """`correlations` of the reported measure."""
    correlation_table: pd.DataFrame = field(default_factory=_empty)
    """Table 3 (empty when no ρ is defined: the section is left out)."""
    scatter: tuple[ScatterChoice, ...] = ()
    """Per task: the scatter's selected layer and its points (`analysis.scatter`)."""
    retrieval: pd.DataFrame = field(default_factory=_empty)
    """`crossling.analysis.retrieval.retrieval_frame` of the retrieval rows (P@1 per
    target, layer, variant and direction); empty without retrieval rows (no section)."""
    retrieval_peaks: pd.DataFrame = field(default_factory=_empty)
    """Per target (and the mean over targets) and variant: the peak layer of P@1 in each
    direction (`crossling.analysis.retrieval.peak_table`)."""
    probe: pd.DataFrame = field(default_factory=_empty)
    """`crossling.analysis.probing.probe_frame` of the probing rows (task ``probe_pos``;
    they are left out of every fine-tuning frame above)."""
    probe_layers: pd.DataFrame = field(default_factory=_empty)
    """Layers x languages probe accuracy, last row the majority baseline."""
    probe_best: pd.DataFrame = field(default_factory=_empty)
    """`crossling.analysis.probing.best_layers`: per language, the best layer with its
    accuracy, selectivity and control accuracy (CIs), the majority baseline, and the accuracy at
    the source's best layer."""
    probe_table: pd.DataFrame = field(default_factory=_empty)
    """`probe_best` formatted (estimates with their intervals)."""
    probe_settings: pd.DataFrame = field(default_factory=_empty)
    """What the probing numbers depend on (training set and size, L2, iterations, seed)."""
    robustness: pd.DataFrame = field(default_factory=_empty)
    """Per model and measure (pretrained, cross-lingual): peak layer, top-layer fall with its
    bootstrap-over-targets interval, verdict (`analysis.alignment.alignment_robustness`;
    robustness.csv)."""
    robustness_curves: pd.DataFrame = field(default_factory=_empty)
    """Per model, measure and layer: mean value and null over targets, normalised curve
    (robustness-curves.csv; the robustness figure)."""
    robustness_table: pd.DataFrame = field(default_factory=_empty)
    """`robustness` formatted for the report."""
    contrasts: pd.DataFrame = field(default_factory=_empty)
    """P2: `crossling.analysis.crossed.p2_contrasts` (gaps and the pre-registered contrasts
    vs 11-12 per task and metric, crossed intervals when every score kept its per-sentence
    counts; per-seed values; p2-contrasts.csv)."""
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
    p6_confounds: pd.DataFrame = field(default_factory=_empty)
    """P6 per task and layer: partial ρ given each covariate and all at once, R², leave-one-
    family-out ρ (`crossling.analysis.confounds`; p6-confounds.csv); empty unless some ρ of
    `p6` is defined."""
    p6_covariates: pd.DataFrame = field(default_factory=_empty)
    """Per P6 target: syntax distance, family, sub-word overlap and script with what produced
    them (p6-covariates.csv); empty with `p6_confounds`."""
    verdicts: pd.DataFrame = field(default_factory=_empty)
    """One row per judged statistic, P2-P6, by the rules of the analysis plan (verdicts.csv)."""
    similarity_all: pd.DataFrame = field(default_factory=_empty)
    """Every similarity row (all kinds, all fine-tuned models; similarity.csv)."""
    finetuned_alignment: pd.DataFrame = field(default_factory=_empty)
    """Cross-lingual similarity of the fine-tuned models per task, re-init group and layer."""
    finetuned_alignment_table: pd.DataFrame = field(default_factory=_empty)
    """Layer x (task, group) of `finetuned_alignment`; empty unless the rows hold a
    re-initialised group besides REF and the pretrained model (no section then)."""
    controls: pd.DataFrame = field(default_factory=_empty)
    """`crossling.analysis.controls.control_frame`: per quantity and layer, the pretrained
    model beside the random-weights control over its init seeds (controls.csv); empty
    without control rows (no section). The controls' rows enter no other frame."""
    controls_table: pd.DataFrame = field(default_factory=_empty)
    """`controls` formatted: layer x (quantity: pretrained, random weights)."""

    @property
    def fallback_note(self) -> str | None:
        """Why the reported measure is not the requested one, or None when it is."""
        if self.measure == self.requested_measure:
            return None
        return f"the rows have no {self.requested_measure}"


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


Row = TypeVar("Row", ScoreRow, SimilarityRow)
_MODEL_KEYS = ("model", "compare_model")


def named_models(rows: Sequence[Row]) -> list[Row]:
    """``rows`` with every model named by `crossling.models.naming.model_name`, in the fields
    and the provenance: rows written before 0.5.0 named a local folder by its path, which a
    report would otherwise copy into committed files. Rows already named are returned as they
    are (the name of a name is itself)."""
    names: dict[str, str] = {}

    def name(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        if value not in names:
            names[value] = model_name(value)
        return names[value]

    provs: dict[int, dict[str, Any]] = {}
    out: list[Row] = []
    for row in rows:
        own = {f.name for f in fields(row)}
        changes = {k: name(getattr(row, k)) for k in _MODEL_KEYS
                   if k in own and name(getattr(row, k)) != getattr(row, k)}
        prov = row.provenance
        if any(name(prov.get(k)) != prov.get(k) for k in _MODEL_KEYS):
            if id(prov) not in provs:
                provs[id(prov)] = {**prov, **{k: name(prov[k]) for k in _MODEL_KEYS
                                              if k in prov}}
            changes["provenance"] = provs[id(prov)]
        out.append(replace(row, **changes) if changes else row)
    return out


def compute_report(scores: Sequence[ScoreRow], sims: Sequence[SimilarityRow], *,
                   settings: ReportSettings | None = None,
                   covariates: Covariates = None) -> ReportData:
    """Every number of the report, from result rows; draws nothing and writes nothing.

    ``covariates`` (`Covariates`): without them the P6 confounds leave sub-word overlap and
    script out (NaN, and say so).

    If the rows lack ``settings.measure`` the headline measure is reported (then biased linear
    CKA), and `ReportData.fallback_note` says so. Raises ValueError when there are no rows at
    all (an empty report would look like a result).
    """
    if not scores and not sims:
        raise ValueError("no result rows to report")
    settings = settings or ReportSettings()
    scores, sims = named_models(scores), named_models(sims)
    all_prov = [r.provenance for r in scores] + [r.provenance for r in sims]
    # a random-weights control's rows have their own section; every other analysis is of the
    # pretrained and fine-tuned models only
    control_scores, scores = split_control_rows(scores)
    control_sims, sims = split_control_rows(sims)
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
    sentences = sentence_frame(scores)
    sf = similarity_frame(sims)
    measure = choose_measure(sf, settings.measure) if not sf.empty else settings.measure
    prov = [r.provenance for r in scores] + [r.provenance for r in sims]
    score_fields = _score_fields(sc)
    summary = score_fields.get("delta_summary", _empty())
    curves, robust = alignment_robustness(sf, n_boot=settings.n_boot)
    controls = control_frame([*control_sims, *control_scores, *sims, *retrieval, *probe_rows],
                             measure)
    return ReportData(
        measure=measure, requested_measure=settings.measure, scores=sc, similarity=sf,
        sentences=sentences,
        pretrained_rows=tuple(r for r in sims if r.kind == "cross-lingual" and
                              finetuning_of(r)[0] is None),
        settings=tables.settings_table(sf, sc, prov, measure),
        provenance=tables.provenance_table(all_prov), retrieval=rf,
        retrieval_peaks=peak_table(rf), robustness=robust, robustness_curves=curves,
        robustness_table=tables.robustness_table(robust),
        **score_fields, **_similarity_fields(sf, sc, measure, settings.n_boot),
        **_proposition_fields(sc, all_sims, summary, measure, n_perm=settings.n_perm,
                              robustness=robust, covariates=covariates,
                              sentences=sentences),
        **_probe_fields(probe_rows), controls=controls,
        controls_table=tables.control_table(controls))


def _score_fields(sc: pd.DataFrame) -> dict[str, Any]:
    """Table 1, the Δs, Table 2 and the per-language appendix (nothing without scores)."""
    if sc.empty:
        return {}
    fields: dict[str, Any] = {"ref_table": tables.ref_table(sc)}
    d = deltas(sc)
    if not d.empty:
        summary = summarize(d)
        fields.update(deltas=d, delta_summary=summary, delta_table=tables.delta_table(summary),
                      appendix=tuple(tables.appendix_tables(d)))
    return fields


def _similarity_fields(sf: pd.DataFrame, sc: pd.DataFrame, measure: str,
                       n_boot: int) -> dict[str, Any]:
    """The alignment figure's measures, pretrained vs fine-tuned, the correlations of
    similarity with transfer (Table 3) and the scatter's choices."""
    if sf.empty:
        return {}
    fields: dict[str, Any] = {}
    if (sf["kind"] == "cross-lingual").any():
        fields["alignment_measures"] = (measure, *sorted(set(sf["metric"]) - {measure}))
    mm = pretrained_vs_finetuned(sf, measure)
    fields.update(pretrained_vs_finetuned=mm,
                  pretrained_vs_finetuned_table=tables.pretrained_vs_finetuned_table(mm))
    if not sc.empty:
        corr_all = all_correlations(sf, sc, n_boot=n_boot)
        corr = corr_all[corr_all["measure"] == measure] if not corr_all.empty else corr_all
        fields.update(correlations=corr_all, correlation=corr)
        if not corr.empty and corr["rho"].notna().any():
            fields.update(correlation_table=tables.correlation_table(corr),
                          scatter=scatter_choices(corr, sf, sc, measure))
    return fields


def _proposition_fields(sc: pd.DataFrame, sf: pd.DataFrame, summary: pd.DataFrame,
                        measure: str, *, n_perm: int,
                        robustness: pd.DataFrame | None = None,
                        covariates: Covariates = None,
                        sentences: pd.DataFrame | None = None) -> dict[str, Any]:
    """The pre-registered statistics of P2-P6 and their verdicts (docs/reproduction/
    analysis-plan.md); empty frames for what the rows do not hold."""
    contrasts = p2_contrasts(sc, _empty() if sentences is None else sentences) \
        if not sc.empty else _empty()
    p4_layers, p4_seeds = p4_frames(sf, measure)
    layer_diff = sf[(sf["kind"] == "layer-difference")] if not sf.empty else _empty()
    p5 = p5_table(sf)
    main = {t: MAIN_METRIC[t] for t in sorted(set(sc["task"])) if t in MAIN_METRIC} \
        if not sc.empty else {}
    p6 = p6_table(sf, sc, main, measure, n_perm=n_perm) if main and not sf.empty else _empty()
    verdicts = all_verdicts(VerdictInputs(contrasts=contrasts, summary=summary, p4_seeds=p4_seeds,
                                          p4_layers=p4_layers, p5=p5, p6=p6,
                                          main_metric=MAIN_METRIC, headline=measure,
                                          robustness=_empty() if robustness is None
                                          else robustness))
    tuned = finetuned_alignment(sf, measure)
    return {"contrasts": contrasts, "p4_layers": p4_layers, "p4_seeds": p4_seeds,
            "layer_differences": layer_diff.reset_index(drop=True), "p5": p5, "p6": p6,
            "verdicts": verdicts, "similarity_all": sf, "finetuned_alignment": tuned,
            "finetuned_alignment_table": tables.finetuned_alignment_table(tuned),
            **_confound_fields(sf, sc, main, measure, p6, covariates, n_perm=n_perm)}


def _confound_fields(sf: pd.DataFrame, sc: pd.DataFrame, main: dict[str, str], measure: str,
                     p6: pd.DataFrame, covariates: Covariates, *,
                     n_perm: int) -> dict[str, Any]:
    """The P6 confounds and the per-target covariates, when some ρ of P6 is defined (with
    fewer than 3 targets there is no correlation to control)."""
    if p6.empty or not p6["rho"].notna().any():
        return {}
    if callable(covariates):
        covariates = covariates()
    confounds = confound_table(sf, sc, main, measure, covariates, n_perm=n_perm)
    langs = _p6_targets(sf, sc, main, measure)
    cov, note = covariate_table(langs, covariates)
    table = cov.reset_index()
    if covariates is not None and not covariates.empty:
        extra = [c for c in covariates.columns if c not in table.columns]
        table = table.merge(covariates[[*extra, "language"]], on="language", how="left")
    table["note"] = note
    return {"p6_confounds": confounds, "p6_covariates": table}


def _p6_targets(sf: pd.DataFrame, sc: pd.DataFrame, main: dict[str, str],
                measure: str) -> list[str]:
    """Target codes with a pretrained ``measure`` similarity and a score of some P6 task."""
    table = cross_similarity(sf, measure)
    scored = {str(c) for t, m in main.items() for c in transfer_scores(sc, t, m).index}
    return sorted(scored & {str(c) for c in table.columns})


def _probe_fields(rows: Sequence[ScoreRow]) -> dict[str, Any]:
    """The probing fields of `ReportData` (empty frames without probing rows)."""
    if not rows:
        return {}
    frame = probe_frame(rows)
    best = best_layers(frame)
    return {"probe": frame, "probe_layers": layer_table(frame, "upos_acc").reset_index(
        names="layer"), "probe_best": best, "probe_table": tables.probe_table(best),
        "probe_settings": probe_settings(rows)}
