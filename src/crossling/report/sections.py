"""The report's sections, in order: one function `ReportData -> Section | None` each.

A section function only chooses and captions: its tables, the figures to draw (a callable per
PNG) and the CSVs that hold its numbers. It computes nothing (`crossling.report.data` did) and
writes nothing (`crossling.report.write` draws, exports and renders every section the same way).
Adding a section is one function and one entry in `SECTIONS`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import pandas as pd

from crossling.report import figures
from crossling.report import tables as fmt
from crossling.report.data import ReportData
from crossling.report.depth import DepthComparison, delta_table, similarity_table
from crossling.report.plots import measure_label, plot_similarity
from crossling.report.probing import plot_probe
from crossling.report.readme import is_overall, verdict_table
from crossling.report.retrieval_plots import plot_retrieval


@dataclass(frozen=True)
class Figure:
    """A PNG of a section: its file name, caption and how to draw it into a path."""

    name: str
    caption: str
    draw: Callable[[Path], object]


@dataclass(frozen=True)
class Section:
    """One report section: heading, text, captioned tables, figures, and the CSVs (file name ->
    frame) that hold its numbers."""

    title: str
    text: str = ""
    tables: tuple[tuple[str, pd.DataFrame], ...] = ()
    figures: tuple[Figure, ...] = ()
    csvs: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    table_class: str = ""
    """CSS class of the boxes of its tables in index.html ("": none; the template's style
    says what each class does)."""

    @property
    def images(self) -> list[tuple[str, str]]:
        """(file name, caption) of each figure, in order."""
        return [(f.name, f.caption) for f in self.figures]


def verdicts_section(data: ReportData) -> Section | None:
    """The report's first section: the overall verdicts, then every task's, each by the
    pre-registered rule."""
    if data.verdicts.empty:
        return None
    overall = is_overall(data.verdicts)
    shown = [(caption, verdict_table(data.verdicts[rows])) for caption, rows in (
        ("overall verdicts (the plan's rules across tasks)", overall),
        ("verdicts per task (verdicts.csv)", ~overall)) if rows.any()]
    return Section(
        "Verdicts on the paper's propositions (P2-P6)",
        "Each row applies a rule fixed before the study ran (docs/reproduction/analysis-plan.md "
        "in the crossling repository) to the statistic named: first the overall verdicts "
        "(P2: the POS verdict; P3 and P4: in every task; P5: the headline measure, with for "
        "how many measures the fall holds), then every task's. The interval column of "
        "verdicts.csv says what each interval resamples, the criterion and what would change "
        "the verdict. The seed is the experimental unit of every fine-tuning comparison.",
        tuple(shown), csvs={"verdicts.csv": data.verdicts}, table_class="verdicts")


def delta_figure_section(data: ReportData) -> Section | None:
    """Key figure 1: Δ by layer group, the source beside the targets."""
    if data.delta_summary.empty:
        return None
    return Section(
        "Figure 1 · RANDOM-INIT: Δ by re-initialised group, source vs targets (P2, P3)",
        "Δ = score(group) − score(REF) of the same seed; the source (English) beside the mean "
        "of the targets; mean over seeds, bars: 95% t-interval across seeds; one panel per "
        "task, its main metric (the others: appendix). Numbers: delta-summary.csv.",
        figures=(Figure("delta-by-group.png", "Δ by re-initialised group, source vs mean of "
                        "targets", partial(figures.delta_by_group, data.delta_summary)),),
        csvs={"delta-summary.csv": data.delta_summary})


def alignment_figure_section(data: ReportData) -> Section | None:
    """Key figure 2: the alignment curves, every measure, and the per-target curves."""
    if not data.alignment_measures:
        return None
    shown = [Figure("alignment.png", "mean over targets, every measure",
                    lambda path: figures.alignment_before_after(
                        data.similarity, list(data.alignment_measures), path))]
    if data.pretrained_rows:
        shown.append(Figure("alignment-per-target.png", "pretrained model, one curve per "
                            "target with its 95% bootstrap band",
                            partial(plot_similarity, data.pretrained_rows)))
    every = data.similarity_all if not data.similarity_all.empty else data.similarity
    return Section(
        "Figure 2 · Cross-lingual similarity per layer, before and after fine-tuning (P5)",
        "Similarity between the source and each target on parallel PUD sentences. Only the "
        "part of a curve above the grey null band (the same measure on shuffled, "
        "non-parallel pairs) is evidence of alignment. Numbers (every row, per language "
        "and seed): similarity.csv.", figures=tuple(shown), csvs={"similarity.csv": every})


def finetuning_figure_section(data: ReportData) -> Section | None:
    """Key figure 3: pretrained vs fine-tuned per layer, with its two baselines."""
    if data.pretrained_vs_finetuned.empty:
        return None
    m = data.measure
    return Section(
        "Figure 3 · Pretrained vs fine-tuned, per layer, with two baselines (P4)",
        f"{m}(pretrained, fine-tuned REF) on the same sentences, mean over "
        "languages and seeds (near 1: fine-tuning left the layer's geometry alone), beside "
        "the same measure between the REF models of two seeds (how different two "
        "fine-tunings are) and the relative weight change of each block "
        "‖W_tuned − W_pretrained‖ / ‖W_pretrained‖. Numbers: pretrained-vs-finetuned.csv, "
        "p4-layers.csv.",
        figures=(Figure("pretrained-vs-finetuned.png", f"{m}(pretrained, fine-tuned) per "
                        "layer, seed-seed baseline, weight change",
                        lambda path: figures.pretrained_vs_finetuned(
                            data.pretrained_vs_finetuned, m, path, baselines=data.p4_layers)),),
        csvs={"pretrained-vs-finetuned.csv": data.pretrained_vs_finetuned,
              "p4-layers.csv": data.p4_layers})


def scatter_figure_section(data: ReportData) -> Section | None:
    """Key figure 4: similarity vs transfer across languages, one scatter per task."""
    if not data.scatter:
        return None
    return Section(
        "Figure 4 · Similarity vs transfer across languages (P6)",
        "Each target's pretrained similarity with the source at one layer vs its REF "
        "zero-shot score. The layer is the one with the largest |ρ| (a selected layer: its "
        "p-value is corrected for the choice in the P6 table).",
        figures=tuple(Figure(f"scatter-{c.task}.png", f"{c.task}: layer {c.layer}, the layer "
                             f"with the largest |ρ| (numbers: scatter-{c.task}.csv)",
                             partial(figures.similarity_vs_score, c, data.measure))
                      for c in data.scatter),
        csvs={f"scatter-{c.task}.csv": c.points for c in data.scatter})


def settings_section(data: ReportData) -> Section:
    """What every number depends on, and which measure the report shows."""
    label = measure_label(data.measure)
    text = f"Similarity is reported as {label} ({data.measure}) unless a figure says otherwise"
    if data.fallback_note:
        text += f" ({data.fallback_note})"
    text += ("; every figure shows the shuffled-pairs null (non-parallel sentences) beside the "
             "curve. Debiased linear CKA is the headline measure: biased CKA of unrelated "
             "sentences is far from 0 at small n, the debiased estimator stays near 0. Biased "
             "linear CKA, the paper's measure, is kept for comparison (alignment figure, "
             "correlations.csv).")
    return Section("Settings", text, (("settings (settings.csv)", data.settings),),
                   csvs={"settings.csv": data.settings})


def ref_table_section(data: ReportData) -> Section | None:
    """Table 1: the REF models' zero-shot scores."""
    if data.scores.empty:
        return None
    return Section(
        "Table 1 · Zero-shot transfer of the REF models",
        "Scores in [0, 100]: UPOS token accuracy, LAS/UAS (CoNLL 2018), NER span F1. "
        "Source rows first. score: mean over seeds; CI (sentences): 95% bootstrap over test "
        "sentences (bounds averaged over seeds); CI (seeds): 95% t-interval across seeds "
        "(none with one seed, or when the seeds agree exactly). Every score of every run, "
        "per language and seed: scores.csv.", (("ref (ref.csv)", data.ref_table),),
        csvs={"scores.csv": data.scores, "ref.csv": data.ref_table})


def delta_table_section(data: ReportData) -> Section | None:
    """Table 2: Δ vs REF per group, source vs targets, with a heatmap per task and metric."""
    d = data.deltas
    if d.empty:
        return None
    one_seed = " With one seed there is no interval (the note column says so)." \
        if int(data.delta_summary["seeds"].min()) < 2 else ""
    heatmaps = tuple(
        Figure(f"delta-{task}-{metric}.png", f"Δ {metric} ({task}): re-initialised group × "
               "language", partial(figures.delta_heatmap, d, str(task), str(metric)))
        for (task, metric), _ in d.groupby(["task", "metric"]))
    return Section(
        "Table 2 · RANDOM-INIT: Δ vs REF, source vs mean of targets (P2, P3)",
        "Δ = score(group) − score(REF) with the same seed. gap = mean target Δ − source Δ "
        "(negative: re-initialising the group hurts the targets more than the source, "
        "P2; near 0 for both: the group matters little, P3). Intervals: 95% t-intervals "
        "across seeds; descriptive (the test of P2 is the next table)." + one_seed,
        (("per group (delta-summary.csv; per language and seed: deltas.csv)",
          data.delta_table),), heatmaps, {"deltas.csv": d})


def contrast_section(data: ReportData) -> Section | None:
    """Table P2: the pre-registered low-layer contrasts."""
    if data.contrasts.empty:
        return None
    crossed = "interval" in data.contrasts and \
        bool((data.contrasts["interval"] == "crossed").all())
    boot = ("boot: 95% crossed percentile bootstrap (one draw of seeds, one of target "
            "languages and one of each test set's sentence weights per replicate, shared by "
            "every run and seed); crossed vc: the variance-components form of it (t-based seed "
            "part, Satterthwaite df), the decision interval (docs/statistics.md) with its "
            "Holm-corrected p. " if crossed else
            "boot: 95% hierarchical bootstrap (seeds with replacement, "
            "then target languages within each seed, then each score's test-sentence noise "
            "from its own interval, one draw per REF score shared by the groups it is "
            "differenced with). ")
    return Section(
        "Table P2 · The pre-registered low-layer contrasts, seeds as the unit",
        "Per task and metric: gap(g) = mean target Δ − source Δ per seed, and the contrast "
        "gap(g) − gap(11-12). " + boot + "t: 95% t-interval across seeds; p: one-sample t-test "
        "across seeds, Holm-corrected (p_holm) over the plan's family, the two primary "
        "contrasts 1-2 and 3-4 vs 11-12 of a task and metric; the other contrasts and the gaps "
        "are descriptive families of their own (holm_family). Per-seed values: "
        "p2-contrasts.csv.", (("contrasts and gaps", fmt.contrast_table(data.contrasts)),),
        csvs={"p2-contrasts.csv": data.contrasts})


def p4_section(data: ReportData) -> Section | None:
    """Table P4: how much fine-tuning changes the lower vs the upper layers."""
    if data.p4_seeds.empty:
        return None
    return Section(
        "Table P4 · How much fine-tuning changes the lower vs the upper layers, per seed",
        f"drop = mean {data.measure}(pretrained, fine-tuned) over layers 1-4 minus over layers "
        "9-12 (mean over languages); weight ρ: Spearman ρ of the relative weight change vs "
        "block index (> 0: upper blocks change more). Numbers: p4-seeds.csv.",
        (("per task and seed", data.p4_seeds),), csvs={"p4-seeds.csv": data.p4_seeds})


def p5_section(data: ReportData) -> Section | None:
    """Table P5: does similarity fall after its peak, per target and measure."""
    if data.p5.empty:
        return None
    return Section(
        "Table P5 · Does similarity fall after its peak? Per target and measure",
        "Per target: D = m(peak layer) − m(last layer) with a paired 95% bootstrap interval "
        "over sentences (both layers evaluated on the same resample; the peak is chosen on "
        "the point estimates). Per measure: how many targets' intervals lie above 0 "
        "(a fall), below 0, or have no interval (measures without a bootstrap). Per "
        "target: layer-differences.csv; this table: p5.csv.",
        (("targets with a fall, per measure", data.p5),),
        csvs={"layer-differences.csv": data.layer_differences, "p5.csv": data.p5})


def p6_section(data: ReportData) -> Section | None:
    """Table P6: similarity vs transfer, permutation tests corrected for the layer."""
    if data.p6.empty:
        return None
    return Section(
        "Table P6 · Similarity vs transfer: permutation tests corrected for the layer",
        f"Spearman ρ across targets between the pretrained {data.measure} (source vs target) "
        "and the REF zero-shot score of the task's main metric; p_raw: permutation of the "
        "languages; p_max: corrected for the choice among the 13 layers (max-T, "
        "Westfall-Young); partial ρ: controlling for the URIEL syntactic distance to "
        "English (Freedman-Lane permutation p). One test set per row: scores of two test sets "
        "of a language (WikiANN de, UNER de_pud) are never averaged; a side test set is shown "
        "but not judged. Numbers: p6-permutation.csv.",
        (("per task and layer", fmt.p6_table(data.p6)),),
        csvs={"p6-permutation.csv": data.p6})


def p6_confounds_section(data: ReportData) -> Section | None:
    """Table P6b: does the P6 correlation survive syntax, sub-word overlap, script, family?"""
    if data.p6_confounds.empty:
        return None
    note = next((str(n) for n in data.p6_confounds["note"] if isinstance(n, str) and n), "")
    return Section(
        "Table P6b · Similarity vs transfer: confounds",
        "Partial Spearman ρ controlling for the URIEL syntactic distance to English, the "
        "sub-word overlap with English PUD (token-weighted share of the target's tokens, in "
        "the model's tokenizer, whose id occurs in English PUD) and same script as English "
        "(majority script of the characters), one at a time and all at once (Freedman-Lane "
        "permutation p); ρ leaving out each language family (URIEL/Glottolog) in turn; R²: "
        "share of the similarity's rank variance the covariates explain; power: the |ρ| the "
        "joint test detects 4 times in 5. Survives: the joint partial keeps ρ's sign with "
        "p < 0.05 and no family left out flips it. "
        + (f"Missing: {note}. " if note else "")
        + "Numbers: p6-confounds.csv, per target: p6-covariates.csv.",
        (("per task and layer", fmt.p6_confounds_table(data.p6_confounds)),),
        csvs={"p6-confounds.csv": data.p6_confounds,
              "p6-covariates.csv": data.p6_covariates})


def finetuned_alignment_section(data: ReportData) -> Section | None:
    """The fine-tuned models' alignment per re-initialised group (P2 and P5)."""
    if data.finetuned_alignment_table.empty:
        return None
    return Section(
        "Table · Does re-initialising the low blocks change the fine-tuned model's "
        "alignment? (P2 and P5)",
        f"Cross-lingual {data.measure} (source vs target) of the fine-tuned models by task and "
        "re-initialised group, mean over targets and seeds, beside the pretrained model. "
        "Numbers: finetuned-alignment.csv.", (("per layer", data.finetuned_alignment_table),),
        csvs={"finetuned-alignment.csv": data.finetuned_alignment})


def robustness_section(data: ReportData) -> Section | None:
    """Is the rise-then-fall the same under every measure?"""
    if data.robustness.empty:
        return None
    return Section(
        "Figure · Robustness of the alignment curve across measures (P5)",
        "Each measure's pretrained cross-lingual curve, mean over targets, normalised as "
        "(value − null mean) / (peak value − null mean): 0 is what shuffled, non-parallel pairs "
        "score, 1 the measure's peak, so measures on different scales share one axis (a measure "
        "computed without a null is normalised against 0; robustness.csv says which). Top "
        "fall: value at the peak layer minus value at the last layer, mean over targets, in the "
        "measure's own units, with a 95% percentile bootstrap interval that resamples the "
        "target languages (paired: the same targets at both layers) and re-selects the peak "
        "layer in each resample; the rows hold per-layer summaries, so sentence-sampling "
        "noise is not in this interval. Peak stability: the share of resamples that pick the "
        "same peak layer. Verdict 'falls' needs the whole interval above 0.",
        (("peak and top-layer fall per measure", data.robustness_table),),
        (Figure("robustness.png", "every measure's curve, normalised: 0 = shuffled-pairs null, "
                "1 = the measure's peak",
                partial(figures.alignment_robustness, data.robustness_curves)),),
        {"robustness.csv": data.robustness, "robustness-curves.csv": data.robustness_curves})


def retrieval_section(data: ReportData) -> Section | None:
    """P@1 by layer per language (one panel per variant) and the peak-layer table."""
    if data.retrieval.empty:
        return None
    n = ", ".join(str(v) for v in sorted(set(data.retrieval["n"])))
    return Section(
        "Figure · Parallel sentence retrieval per layer",
        f"Can a translation be found? Precision@1 of retrieving each source sentence's "
        f"translation among the n = {n} target sentences (source→target) and back "
        "(target→source), per layer of the pretrained model, by cosine of the pooled vectors, "
        "by cosine after removing each language's mean vector (centred; Libovický et al. 2020) "
        "and by ratio margin over the k = 4 nearest neighbours in each direction (Artetxe & "
        "Schwenk 2019). CI: 95% percentile bootstrap over query sentences (the candidate pool "
        "stays all n). Chance is 1/n, the expectation of P@1 under shuffled pairs; the grey "
        "band reaches the shuffled pairs' 95th percentile. Peak layer: the layer with the "
        "highest P@1 (ties: the lowest). Every value: retrieval.csv.",
        (("peak layer per target and variant", data.retrieval_peaks),),
        (Figure("retrieval.png", "P@1 by layer, one line per target (solid: source→target "
                "with its 95% CI; dashed: target→source), one panel per variant",
                lambda path: plot_retrieval(data.retrieval, path, dpi=figures.DPI)),),
        {"retrieval.csv": data.retrieval})


def finetuning_table_section(data: ReportData) -> Section | None:
    """Pretrained vs fine-tuned per layer, as a table (P4)."""
    if data.pretrained_vs_finetuned_table.empty:
        return None
    return Section(
        "Table · Pretrained vs fine-tuned per layer (P4)",
        f"{data.measure}(pretrained, fine-tuned REF) per layer, mean over languages and seeds, "
        "and the mean shuffled-pairs null (pretrained-vs-finetuned.csv).",
        (("pretrained vs fine-tuned", data.pretrained_vs_finetuned_table),))


def correlation_section(data: ReportData) -> Section | None:
    """Table 3: does similarity predict transfer? (every measure: correlations.csv)."""
    if data.correlation_table.empty:
        return None
    return Section(
        "Table 3 · Does similarity predict transfer? Bootstrap intervals (P6)",
        f"Spearman ρ across target languages between per-layer {data.measure} (source vs "
        "target; pretrained, or fine-tuned on the same task) and the REF zero-shot score; "
        "[95% bootstrap CI, resampling languages]. – : undefined (constant similarity or "
        "fewer than 3 languages). Other measures: correlations.csv.",
        ((f"ρ per layer ({data.measure})", data.correlation_table),),
        csvs={"correlations.csv": data.correlations})


def probing_section(data: ReportData) -> Section | None:
    """Layer-wise probing: the figure, the best layer per language, the full table."""
    if data.probe.empty:
        return None
    return Section(
        "Figure · Layer-wise probing: where a transferable POS signal lives before fine-tuning",
        "A linear softmax probe per layer of the frozen pretrained encoder, trained on English "
        "EWT words (the representative sub-word of each word) and applied unchanged to each "
        "PUD test set: UPOS accuracy in % of words [95% bootstrap CI over sentences]. "
        "Majority: EWT's most frequent tag. Control task (Hewitt & Liang 2019): the same probe "
        "trained on a random tag per word type; selectivity = accuracy − control accuracy "
        "(paired interval), what the layer offers beyond memorising word types. The best layer "
        "is selected on the test set it is reported on (optimistic); the last column uses the "
        "source's best layer instead. Every value: probe.csv.",
        (("best layer per language", data.probe_table),
         ("accuracy per layer (last row: majority baseline)", data.probe_layers),
         ("probe settings", data.probe_settings)),
        (Figure("probe.png", "probe accuracy and selectivity by layer, one line per language "
                "(band: 95% bootstrap CI)", partial(plot_probe, data.probe)),),
        {"probe.csv": data.probe})


def controls_section(data: ReportData) -> Section | None:
    """The random-weights control beside the pretrained model, per layer."""
    if data.controls.empty:
        return None
    seeds = ", ".join(sorted(set(data.controls["seeds"])))
    return Section(
        "Control: random weights",
        "How much alignment do the architecture and the shared sub-words give alone? The "
        "same pretrained passes on the model's architecture with random weights (the "
        "family's own initialisation, init seeds " + seeds + ") and the model's own "
        "tokenizer, so shared sub-words still share embedding rows. Per layer: the pretrained "
        f"model, and the random-weights models' mean ± SD [min, max] over init seeds; each "
        f"value a mean over targets: cross-lingual {measure_label(data.measure)}, "
        "retrieval P@1 (cosine, both directions) and zero-shot probe accuracy (UPOS, %). "
        "Every value: controls.csv.",
        (("pretrained vs random weights, per layer", data.controls_table),),
        csvs={"controls.csv": data.controls})


def appendix_section(data: ReportData) -> Section | None:
    """Δ per group x language, mean over seeds (the paper's per-language appendix)."""
    if data.deltas.empty:
        return None
    return Section("Appendix · Δ per language",
                   "Mean over seeds of Δ vs REF for every group and language (deltas.csv).",
                   data.appendix)


def provenance_section(data: ReportData) -> Section:
    """What produced the numbers: models, commits, devices, versions, data checksums."""
    return Section(
        "Provenance", "What produced these numbers: model and weight fingerprints, code "
        "commit, device, package versions, SHA-256 of every data file (provenance.csv).",
        (("provenance", data.provenance),), csvs={"provenance.csv": data.provenance})


SECTIONS: tuple[Callable[[ReportData], Section | None], ...] = (
    verdicts_section, delta_figure_section, alignment_figure_section, finetuning_figure_section,
    scatter_figure_section, settings_section, ref_table_section, delta_table_section,
    contrast_section, p4_section, p5_section, p6_section, p6_confounds_section,
    finetuned_alignment_section,
    robustness_section, retrieval_section, finetuning_table_section, correlation_section,
    probing_section, controls_section, appendix_section, provenance_section)
"""The report's sections in order: the verdicts, the four key figures, the settings, the
tables, the per-language appendix, provenance."""


def build_sections(data: ReportData) -> list[Section]:
    """The sections ``data`` has, in `SECTIONS` order."""
    return [s for s in (make(data) for make in SECTIONS) if s is not None]


def report_csvs(data: ReportData, sections: list[Section]) -> dict[str, pd.DataFrame]:
    """Every CSV of the report (file name -> frame): each section's, and every measure's
    correlations also when Table 3 is left out (no ρ defined)."""
    out = {"correlations.csv": data.correlations} if not data.correlations.empty else {}
    for s in sections:
        out.update(s.csvs)
    return out


def depth_sections(cmp: DepthComparison, measure: str,
                   reports: Sequence[tuple[str, str]]) -> list[Section]:
    """The report of several models: their curves and RANDOM-INIT Δs on the relative-depth
    axis, side by side, then a link to each model's own full report (``reports``: model,
    folder)."""
    out = []
    depths = ", ".join(f"{m} {b} blocks" for m, b in zip(cmp.depths["model"],
                                                         cmp.depths["blocks"], strict=True))
    sim = similarity_table(cmp.similarity, measure)
    if not sim.empty:
        out.append(Section(
            "Figure · Cross-lingual similarity by relative depth, models side by side",
            f"Models of different depth ({depths}) on one axis: layer k of a model of L blocks "
            f"at relative depth k / L (0 = embeddings, 1 = top block). {measure}, source vs "
            "target on parallel PUD sentences, mean over targets, with the mean shuffled-pairs "
            "null. Numbers: depth-similarity.csv.", ((f"{measure} by relative depth", sim),),
            (Figure("depth-similarity.png", f"{measure} by relative depth, one line per model",
                    partial(figures.depth_similarity, cmp.similarity, measure)),),
            {"depth-similarity.csv": cmp.similarity}))
    dl = delta_table(cmp.deltas)
    if not dl.empty:
        out.append(Section(
            "Figure · RANDOM-INIT Δ by relative depth, models side by side",
            "Δ = score(group) − score(REF) of the same seed, mean over seeds; each group at "
            "the midpoint of the depth its blocks span (block k of L spans ((k−1)/L, k/L]), so "
            "the same share of two models' depth sits at the same place. gap = mean target Δ "
            "− source Δ. Intervals (depth-deltas.csv): 95% t-intervals across seeds.",
            (("Δ vs REF by relative depth", dl),),
            (Figure("depth-deltas.png", "Δ vs REF by the relative depth of the re-initialised "
                    "group, one colour per model",
                    partial(figures.depth_deltas, cmp.deltas)),),
            {"depth-deltas.csv": cmp.deltas}))
    links = pd.DataFrame([{"model": m, "report": f"{folder}/report.md",
                           "blocks": b} for (m, folder), b in
                          zip(reports, cmp.depths.set_index("model").reindex(
                              [m for m, _ in reports])["blocks"], strict=True)])
    out.append(Section(
        "Each model's own report",
        "Every table and figure of a one-model report (verdicts, Table 1-3, similarity, "
        "retrieval, probing, provenance), per model, in absolute layers.",
        (("reports", links),)))
    return out
