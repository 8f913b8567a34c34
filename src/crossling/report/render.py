"""The study report: the paper's tables and figures as Markdown and a static HTML page.

The report is computed, then rendered. :func:`crossling.report.analyses.compute_report` turns
result rows into a :class:`~crossling.report.analyses.ReportData` (every frame, no drawing, no
files); :func:`write_report` renders one into a folder, every file atomically: ``report.md``,
``index.html`` (self-contained apart from the PNGs beside it, no scripts, no external resources),
the figures, and the tidy analysis frames as CSV (``deltas.csv``, ``delta-summary.csv``,
``correlations.csv``, ``robustness.csv``, ``robustness-curves.csv``) for anyone who wants to
redo a number. :func:`build_report` does both
(it takes result rows, so it can be tested on synthetic rows). The HTML is built with the
standard library (:func:`html.escape`) and :meth:`pandas.DataFrame.to_html`: a page of tables and
images needs no template engine. Each section heading names the proposition of the paper
(P2-P6) it answers.

The headline similarity measure is debiased linear CKA (:data:`HEADLINE_MEASURE`): biased CKA of
unrelated sentences is far from 0 at the sample sizes a study affords, the debiased estimator
stays near 0, so its numbers can be read as they are. Biased linear CKA, the paper's measure,
stays beside it for comparison (every measure in the alignment figure and correlations.csv).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pandas as pd

from crossling.analysis.verdicts import verdict_frame
from crossling.core.atomic import atomic_write, write_text
from crossling.core.manifest import check_outputs, writing_outputs
from crossling.report import figures, tables
from crossling.report.analyses import HEADLINE_MEASURE, ReportData, compute_report
from crossling.report.markdown import fmt_cell, markdown_table
from crossling.report.plots import measure_label, plot_similarity
from crossling.report.probing import plot_probe
from crossling.report.readme import render_readme, verdict_table
from crossling.report.retrieval_plots import plot_retrieval
from crossling.results import ScoreRow, SimilarityRow

__all__ = ["HEADLINE_MEASURE", "REPORT_OUTPUTS", "Section", "build_report", "build_sections",
           "check_report_folder", "render_html", "render_markdown", "write_report"]


@dataclass
class Section:
    """One report section: heading, explanatory text, captioned tables and figures."""

    title: str
    text: str = ""
    tables: list[tuple[str, pd.DataFrame]] = field(default_factory=list)
    images: list[tuple[str, str]] = field(default_factory=list)  # (file name, caption)


def _write_csv(path: Path, df: pd.DataFrame) -> Path:
    def writer(fh: IO[str]) -> None:
        df.to_csv(fh, index=False)

    return atomic_write(path, writer)


def _measure_text(measure: str, requested: str) -> str:
    label = measure_label(measure)
    text = f"Similarity is reported as {label} ({measure}) unless a figure says otherwise"
    if measure != requested:
        text += f" (the rows have no {requested})"
    text += ("; every figure shows the shuffled-pairs null (non-parallel sentences) beside the "
             "curve. Debiased linear CKA is the headline measure: biased CKA of unrelated "
             "sentences is far from 0 at small n, the debiased estimator stays near 0. Biased "
             "linear CKA, the paper's measure, is kept for comparison (alignment figure, "
             "correlations.csv).")
    return text


def _robustness_section(data: ReportData, out: Path) -> Section:
    """Is the rise-then-fall the same under every measure? (figure, table, two CSVs)."""
    _write_csv(out / "robustness.csv", data.robustness)
    _write_csv(out / "robustness-curves.csv", data.robustness_curves)
    figures.alignment_robustness(data.robustness_curves, out / "robustness.png")
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
        [("peak and top-layer fall per measure", data.robustness_table)],
        [("robustness.png", "every measure's curve, normalised: 0 = shuffled-pairs null, "
                            "1 = the measure's peak")])


def _csv(out: Path, name: str, df: pd.DataFrame) -> str:
    """Write one table's or figure's numbers as ``name`` (every table and figure has its CSV);
    returns the name for the caption."""
    _write_csv(out / name, df)
    return name


def _verdict_section(data: ReportData, out: Path) -> Section:
    """The report's first section: every proposition's verdict by the pre-registered rule."""
    _csv(out, "verdicts.csv", data.verdicts)
    table = verdict_table(data.verdicts)
    return Section(
        "Verdicts on the paper's propositions (P2-P6)",
        "Each row applies a rule fixed before the study ran (docs/reproduction/analysis-plan.md "
        "in the crossling repository) to the statistic named; the interval column of "
        "verdicts.csv says what each interval resamples, the criterion and what would change "
        "the verdict. The seed is the experimental unit of every fine-tuning comparison.",
        [("verdicts (verdicts.csv)", table)])


def _key_figures(data: ReportData, out: Path) -> list[Section]:
    """The four key figures, each with the CSV of its numbers: Δ by layer group (source vs
    targets), the alignment curves, pretrained vs fine-tuned, similarity vs transfer."""
    sections = []
    if not data.delta_summary.empty:
        figures.delta_by_group(data.delta_summary, out / "delta-by-group.png")
        sections.append(Section(
            "Figure 1 · RANDOM-INIT: Δ by re-initialised group, source vs targets (P2, P3)",
            "Δ = score(group) − score(REF) of the same seed; the source (English) beside the mean "
            "of the targets; mean over seeds, bars: 95% t-interval across seeds; one panel per "
            "task, its main metric (the others: appendix). Numbers: "
            + _csv(out, "delta-summary.csv", data.delta_summary) + ".", [],
            [("delta-by-group.png", "Δ by re-initialised group, source vs mean of targets")]))
    if data.alignment_measures:
        figures.alignment_before_after(data.similarity, list(data.alignment_measures),
                                       out / "alignment.png")
        sec = Section(
            "Figure 2 · Cross-lingual similarity per layer, before and after fine-tuning (P5)",
            "Similarity between the source and each target on parallel PUD sentences. Only the "
            "part of a curve above the grey null band (the same measure on shuffled, "
            "non-parallel pairs) is evidence of alignment. Numbers (every row, per language "
            "and seed): " + _csv(out, "similarity.csv", data.similarity_all
                                 if not data.similarity_all.empty else data.similarity) + ".", [],
            [("alignment.png", "mean over targets, every measure")])
        if data.pretrained_rows:
            plot_similarity(data.pretrained_rows, out / "alignment-per-target.png")
            sec.images.append(("alignment-per-target.png",
                               "pretrained model, one curve per target with its 95% "
                               "bootstrap band"))
        sections.append(sec)
    if not data.pretrained_vs_finetuned.empty:
        figures.pretrained_vs_finetuned(data.pretrained_vs_finetuned, data.measure,
                                        out / "pretrained-vs-finetuned.png",
                                        baselines=data.p4_layers)
        _csv(out, "pretrained-vs-finetuned.csv", data.pretrained_vs_finetuned)
        sections.append(Section(
            "Figure 3 · Pretrained vs fine-tuned, per layer, with two baselines (P4)",
            f"{data.measure}(pretrained, fine-tuned REF) on the same sentences, mean over "
            "languages and seeds (near 1: fine-tuning left the layer's geometry alone), beside "
            "the same measure between the REF models of two seeds (how different two "
            "fine-tunings are) and the relative weight change of each block "
            "‖W_tuned − W_pretrained‖ / ‖W_pretrained‖. Numbers: pretrained-vs-finetuned.csv, "
            + _csv(out, "p4-layers.csv", data.p4_layers) + ".", [],
            [("pretrained-vs-finetuned.png", f"{data.measure}(pretrained, fine-tuned) per "
                                             "layer, seed-seed baseline, weight change")]))
    if data.scatter:
        sec = Section(
            "Figure 4 · Similarity vs transfer across languages (P6)",
            "Each target's pretrained similarity with the source at one layer vs its REF "
            "zero-shot score. The layer is the one with the largest |ρ| (a selected layer: its "
            "p-value is corrected for the choice in the P6 table).")
        for choice in data.scatter:
            name = f"scatter-{choice.task}.png"
            points = figures.similarity_vs_score(
                data.similarity, data.scores, data.measure, choice.layer, choice.row,
                choice.task, choice.metric, out / name)
            _csv(out, f"scatter-{choice.task}.csv", points)
            sec.images.append((name, f"{choice.task}: layer {choice.layer}, the layer with the "
                                     "largest |ρ| (numbers: " f"scatter-{choice.task}.csv)"))
        sections.append(sec)
    return sections


def build_sections(data: ReportData, out: Path) -> list[Section]:
    """Render ``data`` into sections; the figures and CSVs are written into ``out``.

    Order: the verdicts, the four key figures, then the tables. Only drawing and writing
    happen here: every number comes from ``data``
    (:func:`crossling.report.analyses.compute_report`), and every table and figure has its
    numbers in a CSV beside it.
    """
    measure = data.measure
    sections = []
    if not data.verdicts.empty:
        sections.append(_verdict_section(data, out))
    sections += _key_figures(data, out)
    _csv(out, "settings.csv", data.settings)
    sections.append(Section("Settings", _measure_text(measure, data.requested_measure),
                            [("settings (settings.csv)", data.settings)]))
    appendix: list[Section] = []

    if not data.scores.empty:
        _csv(out, "scores.csv", data.scores)
        _csv(out, "ref.csv", data.ref_table)
        sections.append(Section(
            "Table 1 · Zero-shot transfer of the REF models",
            "Scores in [0, 100]: UPOS token accuracy, LAS/UAS (CoNLL 2018), NER span F1. "
            "Source rows first. score: mean over seeds; CI (sentences): 95% bootstrap over test "
            "sentences (bounds averaged over seeds); CI (seeds): 95% t-interval across seeds "
            "(none with one seed, or when the seeds agree exactly). Every score of every run, "
            "per language and seed: scores.csv.", [("ref (ref.csv)", data.ref_table)]))
        d = data.deltas
        if not d.empty:
            _csv(out, "deltas.csv", d)
            summary = data.delta_summary
            one_seed = " With one seed there is no interval (the note column says so)." \
                if int(summary["seeds"].min()) < 2 else ""
            sec = Section(
                "Table 2 · RANDOM-INIT: Δ vs REF, source vs mean of targets (P2, P3)",
                "Δ = score(group) − score(REF) with the same seed. gap = mean target Δ − source Δ "
                "(negative: re-initialising the group hurts the targets more than the source, "
                "P2; near 0 for both: the group matters little, P3). Intervals: 95% t-intervals "
                "across seeds; descriptive (the test of P2 is the next table)." + one_seed,
                [("per group (delta-summary.csv; per language and seed: deltas.csv)",
                  data.delta_table)])
            per_language = Section("Appendix · Δ per language",
                                   "Mean over seeds of Δ vs REF for every group and language "
                                   "(deltas.csv).", list(data.appendix))
            for (task, metric), _ in d.groupby(["task", "metric"]):
                name = f"delta-{task}-{metric}.png"
                figures.delta_heatmap(d, str(task), str(metric), out / name)
                sec.images.append((name, f"Δ {metric} ({task}): re-initialised group × language"))
            sections.append(sec)
            appendix.append(per_language)
    if not data.contrasts.empty:
        sections.append(Section(
            "Table P2 · The pre-registered low-layer contrasts, seeds as the unit",
            "Per task and metric: gap(g) = mean target Δ − source Δ per seed, and the contrast "
            "gap(g) − gap(11-12). boot: 95% hierarchical bootstrap (seeds with replacement, "
            "then target languages within each seed, then each score's test-sentence noise "
            "from its own interval, one draw per REF score shared by the groups it is "
            "differenced with). t: 95% t-interval across seeds; p: one-sample t-test across "
            "seeds, Holm-corrected within each task's family (p_holm). Per-seed values: "
            + _csv(out, "p2-contrasts.csv", data.contrasts) + ".",
            [("contrasts and gaps", tables.contrast_table(data.contrasts))]))
    if not data.p4_seeds.empty:
        sections.append(Section(
            "Table P4 · How much fine-tuning changes the lower vs the upper layers, per seed",
            f"drop = mean {measure}(pretrained, fine-tuned) over layers 1-4 minus over layers "
            "9-12 (mean over languages); weight ρ: Spearman ρ of the relative weight change vs "
            "block index (> 0: upper blocks change more). Numbers: "
            + _csv(out, "p4-seeds.csv", data.p4_seeds) + ".",
            [("per task and seed", data.p4_seeds)]))
    if not data.p5.empty:
        _csv(out, "layer-differences.csv", data.layer_differences)
        sections.append(Section(
            "Table P5 · Does similarity fall after its peak? Per target and measure",
            "Per target: D = m(peak layer) − m(last layer) with a paired 95% bootstrap interval "
            "over sentences (both layers evaluated on the same resample; the peak is chosen on "
            "the point estimates). Per measure: how many targets' intervals lie above 0 "
            "(a fall), below 0, or have no interval (measures without a bootstrap). Per "
            "target: layer-differences.csv; this table: " + _csv(out, "p5.csv", data.p5) + ".",
            [("targets with a fall, per measure", data.p5)]))
    if not data.p6.empty:
        sections.append(Section(
            "Table P6 · Similarity vs transfer: permutation tests corrected for the layer",
            f"Spearman ρ across targets between the pretrained {measure} (source vs target) and "
            "the REF zero-shot score of the task's main metric; p_raw: permutation of the "
            "languages; p_max: corrected for the choice among the 13 layers (max-T, "
            "Westfall-Young); partial ρ: controlling for the URIEL syntactic distance to "
            "English (Freedman-Lane permutation p). Numbers: "
            + _csv(out, "p6-permutation.csv", data.p6) + ".",
            [("per task and layer", tables.p6_table(data.p6))]))

    if not data.finetuned_alignment.empty and data.finetuned_alignment["reinit"].nunique() > 2:
        table = data.finetuned_alignment.pivot_table(index="layer", columns=["task", "reinit"],
                                                     values="value")
        table.columns = [f"{c[0]} {c[1]}" if c[1] != "-" else str(c[0]) for c in table.columns]
        sections.append(Section(
            "Table · Does re-initialising the low blocks change the fine-tuned model's "
            "alignment? (P2 and P5)",
            f"Cross-lingual {measure} (source vs target) of the fine-tuned models by task and "
            "re-initialised group, mean over targets and seeds, beside the pretrained model. "
            "Numbers: " + _csv(out, "finetuned-alignment.csv", data.finetuned_alignment) + ".",
            [("per layer", table.reset_index())]))

    if not data.robustness.empty:
        sections.append(_robustness_section(data, out))

    if not data.retrieval.empty:
        sections.append(_retrieval_section(data, out))

    if not data.pretrained_vs_finetuned_table.empty:
        sections.append(Section(
            "Table · Pretrained vs fine-tuned per layer (P4)",
            f"{measure}(pretrained, fine-tuned REF) per layer, mean over languages and seeds, "
            "and the mean shuffled-pairs null (pretrained-vs-finetuned.csv).",
            [("pretrained vs fine-tuned", data.pretrained_vs_finetuned_table)]))

    if not data.correlations.empty:
        _write_csv(out / "correlations.csv", data.correlations)
    if not data.correlation_table.empty:
        sections.append(Section(
            "Table 3 · Does similarity predict transfer? Bootstrap intervals (P6)",
            f"Spearman ρ across target languages between per-layer {measure} (source vs target; "
            "pretrained, or fine-tuned on the same task) and the REF zero-shot score; "
            "[95% bootstrap CI, resampling languages]. – : undefined (constant similarity or "
            "fewer than 3 languages). Other measures: correlations.csv.",
            [(f"ρ per layer ({measure})", data.correlation_table)]))

    if not data.probe.empty:
        sections.append(_probe_section(data, out))

    sections += appendix  # the per-language tables come last, before provenance
    _csv(out, "provenance.csv", data.provenance)
    sections.append(Section(
        "Provenance", "What produced these numbers: model and weight fingerprints, code "
        "commit, device, package versions, SHA-256 of every data file (provenance.csv).",
        [("provenance", data.provenance)]))
    return sections


def _retrieval_section(data: ReportData, out: Path) -> Section:
    """P@1 by layer per language (one panel per variant) and the peak-layer table; the tidy
    frame as ``retrieval.csv``."""
    _write_csv(out / "retrieval.csv", data.retrieval)
    plot_retrieval(data.retrieval, out / "retrieval.png", dpi=figures.DPI)
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
        [("peak layer per target and variant", data.retrieval_peaks)],
        [("retrieval.png", "P@1 by layer, one line per target (solid: source→target with its "
                           "95% CI; dashed: target→source), one panel per variant")])


def _probe_section(data: ReportData, out: Path) -> Section:
    """Layer-wise probing: the accuracy-by-layer figure, the best layer per language and the
    full layer x language table."""
    plot_probe(data.probe, out / "probe.png")
    _csv(out, "probe.csv", data.probe)
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
        [("best layer per language", data.probe_table),
         ("accuracy per layer (last row: majority baseline)", data.probe_layers),
         ("probe settings", data.probe_settings)],
        [("probe.png", "probe accuracy and selectivity by layer, one line per language "
                       "(band: 95% bootstrap CI)")])


def render_markdown(title: str, sections: Sequence[Section]) -> str:
    """The report as GitHub-flavoured Markdown (tables as pipe tables, figures as images)."""
    parts = [f"# {title}\n"]
    for s in sections:
        parts.append(f"## {s.title}\n\n{s.text}\n")
        for caption, table in s.tables:
            if len(s.tables) > 1:
                parts.append(f"**{caption}**\n")
            parts.append(markdown_table(table) + "\n")
        for name, caption in s.images:
            parts.append(f"![{caption}]({name})\n")
    return "\n".join(parts)


_CSS = """body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;
color:#222}table{border-collapse:collapse;font-size:13px;margin:.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:right;white-space:nowrap}
th{background:#f3f3f3}img{max-width:100%;border:1px solid #eee;margin:.5em 0}
figcaption{font-size:13px;color:#555}.wide{overflow-x:auto}"""


def render_html(title: str, sections: Sequence[Section]) -> str:
    """A static page: inline CSS, no scripts, images by relative file name."""
    parts = ["<!DOCTYPE html>", "<html lang=\"en\"><head><meta charset=\"utf-8\">",
             f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
             f"<h1>{html.escape(title)}</h1>"]
    for s in sections:
        parts.append(f"<h2>{html.escape(s.title)}</h2><p>{html.escape(s.text)}</p>")
        for caption, table in s.tables:
            if len(s.tables) > 1:
                parts.append(f"<h3>{html.escape(caption)}</h3>")
            parts.append("<div class=\"wide\">" + table.to_html(
                index=False, na_rep="–", float_format=fmt_cell, border=0, escape=True) + "</div>")
        for name, caption in s.images:
            parts.append(f"<figure><img src=\"{html.escape(name)}\" alt=\"{html.escape(caption)}"
                         f"\"><figcaption>{html.escape(caption)}</figcaption></figure>")
    parts.append("</body></html>")
    return "\n".join(parts)


README_FILES = (
    ("index.html", "the report (HTML): verdicts, the four key figures, then every table"),
    ("report.md", "the same report as Markdown"),
    ("verdicts.csv", "one row per judged statistic: estimate, interval, what it resamples, "
                     "rule, verdict"),
    ("p2-contrasts.csv", "P2: per-seed gaps and contrasts with hierarchical and t intervals"),
    ("scores.csv", "every score of every run, per language and seed"),
    ("deltas.csv", "Δ vs REF per task, group, seed and language"),
    ("similarity.csv", "every similarity row (per language, layer, measure, model, seed)"),
    ("p4-layers.csv", "P4 per task and layer: CKA(pre, ft), CKA(seed, seed), weight change"),
    ("layer-differences.csv", "P5 per target and measure: peak − top, paired interval"),
    ("p6-permutation.csv", "P6 per task and layer: ρ, permutation p, layer-corrected p, "
                           "partial ρ"),
)
"""The files the generated README lists (those present in the report folder)."""


REPORT_OUTPUTS = (
    "report.md", "index.html", "README.md", "verdicts.csv", "p2-contrasts.csv", "scores.csv",
    "ref.csv", "deltas.csv", "delta-summary.csv", "similarity.csv", "settings.csv",
    "p4-layers.csv", "p4-seeds.csv", "p5.csv", "p6-permutation.csv", "layer-differences.csv",
    "finetuned-alignment.csv", "pretrained-vs-finetuned.csv", "correlations.csv",
    "robustness.csv", "robustness-curves.csv", "retrieval.csv", "probe.csv", "provenance.csv",
    "alignment.png", "alignment-per-target.png", "delta-by-group.png",
    "pretrained-vs-finetuned.png", "robustness.png", "retrieval.png", "probe.png",
    "delta-*.png", "scatter-*.csv", "scatter-*.png")
"""Names (and ``fnmatch`` patterns) of every file a report may write into its folder."""


def check_report_folder(out: str | Path, option: str = "--out") -> None:
    """One-line ConfigError if a report into ``out`` would replace a file crossling did not
    write there (a user's own ``README.md``); call it before computing the report."""
    check_outputs(out, REPORT_OUTPUTS, option)


def write_report(data: ReportData, out: str | Path, *, title: str,
                 readme: tuple[str, Sequence[tuple[str, str]]] | None = None) -> Path:
    """Render ``data`` into ``out``: ``report.md``, ``index.html``, figures and CSVs, every file
    atomically (the folder is created); returns the HTML path. With ``readme`` = (command,
    facts), also ``README.md``: the verdicts of P2-P6 generated from verdicts.csv
    (:mod:`crossling.report.readme`). A file of those names that crossling did not write is
    never replaced (:func:`check_report_folder`); what is written is recorded in the folder."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    with writing_outputs(folder, REPORT_OUTPUTS):
        return _write_report(data, folder, title, readme)


def _write_report(data: ReportData, folder: Path, title: str,
                  readme: tuple[str, Sequence[tuple[str, str]]] | None) -> Path:
    sections = build_sections(data, folder)
    write_text(folder / "report.md", render_markdown(title, sections))
    index = write_text(folder / "index.html", render_html(title, sections))
    if readme is not None:
        command, facts = readme
        # from the CSV just written (never a stale one): the README quotes exactly its cells
        verdicts = pd.read_csv(_write_csv(folder / "verdicts.csv", data.verdicts if not
                                          data.verdicts.empty else verdict_frame([])))
        files = [(name, what) for name, what in README_FILES if (folder / name).is_file()]
        write_text(folder / "README.md", render_readme(
            verdicts, title=f"Reproduction: {title}", command=command, facts=facts,
            files=files))
    return index


def build_report(scores: Sequence[ScoreRow], sims: Sequence[SimilarityRow], out: str | Path, *,
                 title: str, measure: str = HEADLINE_MEASURE, n_boot: int = 1000,
                 n_perm: int = 100_000,
                 readme: tuple[str, Sequence[tuple[str, str]]] | None = None) -> Path:
    """Compute (:func:`~crossling.report.analyses.compute_report`) and render
    (:func:`write_report`) the report of ``scores`` and ``sims`` into ``out``; returns the HTML
    path.

    Everything is computed before anything is written: no rows at all (ValueError: an empty
    report would look like a result) or an unknown measure (ConfigError) leave ``out`` as it was.
    """
    check_report_folder(out)  # before minutes of resampling
    data = compute_report(scores, sims, measure=measure, n_boot=n_boot, n_perm=n_perm)
    return write_report(data, out, title=title, readme=readme)
