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
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from crossling.atomic import atomic_write, write_text
from crossling.report import figures
from crossling.report.analyses import HEADLINE_MEASURE, ReportData, compute_report
from crossling.report.plots import measure_label, plot_similarity
from crossling.report.probing import plot_probe
from crossling.report.retrieval_plots import plot_retrieval
from crossling.results import ScoreRow, SimilarityRow

__all__ = ["HEADLINE_MEASURE", "Section", "build_report", "build_sections", "render_html",
           "render_markdown", "write_report"]


@dataclass
class Section:
    """One report section: heading, explanatory text, captioned tables and figures."""

    title: str
    text: str = ""
    tables: list[tuple[str, pd.DataFrame]] = field(default_factory=list)
    images: list[tuple[str, str]] = field(default_factory=list)  # (file name, caption)


def _fmt(v: Any) -> str:
    if isinstance(v, bool | np.bool_):
        return str(bool(v))
    if isinstance(v, float | np.floating):
        v = float(v)
        if math.isnan(v):
            return "–"
        return f"{v:.3g}" if 0 < abs(v) < 0.01 else f"{v:.2f}"
    return str(v)


def _markdown_table(df: pd.DataFrame) -> str:
    def cell(v: Any) -> str:
        return _fmt(v).replace("|", "\\|").replace("\n", " ")

    cols = [cell(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    return "\n".join(lines)


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


def build_sections(data: ReportData, out: Path) -> list[Section]:
    """Render ``data`` into sections; the figures and CSVs are written into ``out``.

    Only drawing and writing happen here: every number comes from ``data``
    (:func:`crossling.report.analyses.compute_report`).
    """
    measure = data.measure
    sections = [Section("Settings", _measure_text(measure, data.requested_measure),
                        [("settings", data.settings)])]
    appendix: list[Section] = []

    if not data.scores.empty:
        sections.append(Section(
            "Table 1 · Zero-shot transfer of the REF models",
            "Scores in [0, 100]: UPOS token accuracy, LAS/UAS (CoNLL 2018), NER span F1. "
            "Source rows first. score: mean over seeds; CI (sentences): 95% bootstrap over test "
            "sentences (bounds averaged over seeds); CI (seeds): 95% t-interval across seeds "
            "(none with one seed).", [("ref", data.ref_table)]))
        d = data.deltas
        if not d.empty:
            _write_csv(out / "deltas.csv", d)
            summary = data.delta_summary
            _write_csv(out / "delta-summary.csv", summary)
            one_seed = " With one seed there is no interval (the note column says so)." \
                if int(summary["seeds"].min()) < 2 else ""
            sec = Section(
                "Table 2 · RANDOM-INIT: Δ vs REF, source vs mean of targets (P2, P3)",
                "Δ = score(group) − score(REF) with the same seed. gap = mean target Δ − source Δ "
                "(negative: re-initialising the group hurts the targets more than the source, "
                "P2; near 0 for both: the group matters little, P3). Intervals: 95% t-intervals "
                "across seeds." + one_seed + " W, p: two-sided Wilcoxon signed-rank test of "
                "(target Δ − source Δ) across target languages (no p < 0.05 is possible with "
                "fewer than 6 targets). The second table pools all (seed × group) pairs.",
                [("per group", data.delta_table),
                 ("pooled over groups and seeds", data.pooled_table)])
            per_language = Section("Appendix · Δ per language",
                                   "Mean over seeds of Δ vs REF for every group and language.",
                                   list(data.appendix))
            for (task, metric), _ in d.groupby(["task", "metric"]):
                name = f"delta-{task}-{metric}.png"
                figures.delta_heatmap(d, str(task), str(metric), out / name)
                sec.images.append((name, f"Δ {metric} ({task}): re-initialised group × language"))
            sections.append(sec)
            appendix.append(per_language)

    if data.alignment_measures:
        sim_sec = Section(
            "Figure · Cross-lingual similarity per layer, before and after fine-tuning (P5)",
            "Similarity between the source and each target on parallel PUD sentences. Only the "
            "part of a curve above the grey null band (the same measure on shuffled, "
            "non-parallel pairs) is evidence of alignment.")
        figures.alignment_before_after(data.similarity, list(data.alignment_measures),
                                       out / "alignment.png")
        sim_sec.images.append(("alignment.png", "mean over targets, every measure"))
        if data.pretrained_rows:
            plot_similarity(data.pretrained_rows, out / "alignment-per-target.png")
            sim_sec.images.append(("alignment-per-target.png",
                                   "pretrained model, one curve per target with its 95% "
                                   "bootstrap band"))
        sections.append(sim_sec)

    if not data.robustness.empty:
        sections.append(_robustness_section(data, out))

    if not data.retrieval.empty:
        sections.append(_retrieval_section(data, out))

    if not data.pretrained_vs_finetuned.empty:
        figures.pretrained_vs_finetuned(data.pretrained_vs_finetuned, measure,
                                        out / "pretrained-vs-finetuned.png")
        sections.append(Section(
            "Figure · Pretrained vs fine-tuned, per layer (P4)",
            f"{measure}(pretrained, fine-tuned) on the same sentences, mean over languages and "
            "seeds: near 1 = fine-tuning left the layer's geometry alone.",
            [("pretrained vs fine-tuned", data.pretrained_vs_finetuned_table)],
            [("pretrained-vs-finetuned.png", f"{measure}(pretrained, fine-tuned) per layer")]))

    if not data.correlations.empty:
        _write_csv(out / "correlations.csv", data.correlations)
    if not data.correlation_table.empty:
        corr_sec = Section(
            "Table 3 · Does similarity predict transfer? (P6)",
            f"Spearman ρ across target languages between per-layer {measure} (source vs target; "
            "pretrained, or fine-tuned on the same task) and the REF zero-shot score; "
            "[95% bootstrap CI, resampling languages]. – : undefined (constant similarity or "
            "fewer than 3 languages). Other measures: correlations.csv.",
            [(f"ρ per layer ({measure})", data.correlation_table)])
        for choice in data.scatter:
            name = f"scatter-{choice.task}.png"
            figures.similarity_vs_score(data.similarity, data.scores, measure, choice.layer,
                                        choice.row, choice.task, choice.metric, out / name)
            corr_sec.images.append((name, f"{choice.task}: layer {choice.layer}, the layer "
                                          "with the largest |ρ| (a selected layer: read its "
                                          "CI, not only ρ)"))
        sections.append(corr_sec)

    if not data.probe.empty:
        sections.append(_probe_section(data, out))

    sections += appendix  # the per-language tables come last, before provenance
    sections.append(Section(
        "Provenance", "What produced these numbers: model and weight fingerprints, code "
        "commit, device, package versions, SHA-256 of every data file.",
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
    return Section(
        "Figure · Layer-wise probing: where a transferable POS signal lives before fine-tuning",
        "A linear softmax probe per layer of the frozen pretrained encoder, trained on English "
        "EWT words (the representative sub-word of each word) and applied unchanged to each "
        "PUD test set: UPOS accuracy in % of words [95% bootstrap CI over sentences]. "
        "Majority: EWT's most frequent tag. Control task (Hewitt & Liang 2019): the same probe "
        "trained on a random tag per word type; selectivity = accuracy − control accuracy "
        "(paired interval), what the layer offers beyond memorising word types. The best layer "
        "is selected on the test set it is reported on (optimistic); the last column uses the "
        "source's best layer instead.",
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
            parts.append(_markdown_table(table) + "\n")
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
                index=False, na_rep="–", float_format=_fmt, border=0, escape=True) + "</div>")
        for name, caption in s.images:
            parts.append(f"<figure><img src=\"{html.escape(name)}\" alt=\"{html.escape(caption)}"
                         f"\"><figcaption>{html.escape(caption)}</figcaption></figure>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(data: ReportData, out: str | Path, *, title: str) -> Path:
    """Render ``data`` into ``out``: ``report.md``, ``index.html``, figures and CSVs, every file
    atomically (the folder is created); returns the HTML path."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    sections = build_sections(data, folder)
    write_text(folder / "report.md", render_markdown(title, sections))
    return write_text(folder / "index.html", render_html(title, sections))


def build_report(scores: Sequence[ScoreRow], sims: Sequence[SimilarityRow], out: str | Path, *,
                 title: str, measure: str = HEADLINE_MEASURE, n_boot: int = 1000) -> Path:
    """Compute (:func:`~crossling.report.analyses.compute_report`) and render
    (:func:`write_report`) the report of ``scores`` and ``sims`` into ``out``; returns the HTML
    path.

    Everything is computed before anything is written: no rows at all (ValueError: an empty
    report would look like a result) or an unknown measure (ConfigError) leave ``out`` as it was.
    """
    data = compute_report(scores, sims, measure=measure, n_boot=n_boot)
    return write_report(data, out, title=title)
