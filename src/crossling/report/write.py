"""A report folder: compute, draw, export and render, every file written atomically.

`build_report` computes (`crossling.report.data.compute_report`) before it writes anything, so
rows that cannot be reported leave the folder as it was; `write_report` draws each section's
figures, writes every CSV of the sections in one place, renders report.md and index.html and,
for a study, the generated README. A file crossling did not write is never replaced.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pandas as pd

from crossling.analysis.verdicts import verdict_frame
from crossling.core.atomic import atomic_write, atomic_write_gzip, write_text
from crossling.core.manifest import check_outputs, writing_outputs
from crossling.report.data import Covariates, ReportData, compute_report, named_models
from crossling.report.depth import compare_depths, split_by_model
from crossling.report.readme import render_readme
from crossling.report.render import render_html, render_markdown
from crossling.report.sections import build_sections, depth_sections, report_csvs
from crossling.report.settings import ReportSettings
from crossling.results import ScoreRow, SimilarityRow

__all__ = ["README_FILES", "REPORT_OUTPUTS", "SENTENCE_SCORES", "StudyInputs", "build_report",
           "check_report_folder", "write_report"]

SENTENCE_SCORES = "sentence-scores.csv.gz"
"""The per-sentence counts of every score (`crossling.analysis.frames.sentence_frame`), gzip:
written beside scores.csv, header only when no score kept them."""

Readme = tuple[str, Sequence[tuple[str, str]]]
"""(command, facts) of a study's generated README: what was run, and labelled facts."""


@dataclass(frozen=True)
class StudyInputs:
    """What a study gives its report besides the rows: the README's command and facts, and per
    model name the tokenizer covariates of the P6 targets (`crossling.report.data.Covariates`;
    a model without them leaves sub-word overlap and script out)."""

    command: str
    facts: Sequence[tuple[str, str]] = ()
    covariates: Mapping[str, Covariates] = field(default_factory=dict)

    @property
    def readme(self) -> Readme:
        return self.command, self.facts

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
    ("p6-confounds.csv", "P6 per task and layer: partial ρ given syntax, sub-word overlap "
                         "and script, leave-one-family-out ρ"),
    ("p6-covariates.csv", "P6 per target: the covariates and what produced them"),
)
"""The files the generated README lists (those present in the report folder)."""

REPORT_OUTPUTS = (
    "report.md", "index.html", "README.md", "verdicts.csv", "p2-contrasts.csv", "scores.csv",
    SENTENCE_SCORES,
    "ref.csv", "deltas.csv", "delta-summary.csv", "similarity.csv", "settings.csv",
    "p4-layers.csv", "p4-seeds.csv", "p5.csv", "p6-permutation.csv", "p6-confounds.csv",
    "p6-covariates.csv", "layer-differences.csv",
    "finetuned-alignment.csv", "pretrained-vs-finetuned.csv", "correlations.csv",
    "robustness.csv", "robustness-curves.csv", "retrieval.csv", "probe.csv", "controls.csv",
    "provenance.csv",
    "alignment.png", "alignment-per-target.png", "delta-by-group.png",
    "pretrained-vs-finetuned.png", "robustness.png", "retrieval.png", "probe.png",
    "delta-*.png", "scatter-*.csv", "scatter-*.png", "depth-similarity.csv",
    "depth-deltas.csv", "depth-similarity.png", "depth-deltas.png", "models")
"""Names (and ``fnmatch`` patterns) of every file a report may write into its folder."""


def check_report_folder(out: str | Path, option: str = "out") -> None:
    """One-line SettingError if a report into ``out`` would replace a file crossling did not
    write there (a user's own ``README.md``); call it before computing the report."""
    check_outputs(out, REPORT_OUTPUTS, option)


def write_report(data: ReportData, out: str | Path, *, title: str,
                 readme: Readme | None = None) -> Path:
    """Render ``data`` into ``out`` (created): report.md, index.html, figures and CSVs; with
    ``readme``, also README.md, the verdicts of P2-P6 generated from verdicts.csv. Returns the
    HTML path; what is written is recorded in the folder."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    with writing_outputs(folder, REPORT_OUTPUTS):
        return _write_report(data, folder, title, readme)


def _write_report(data: ReportData, folder: Path, title: str, readme: Readme | None) -> Path:
    sections = build_sections(data)
    for section in sections:
        for figure in section.figures:
            figure.draw(folder / figure.name)
    csvs = report_csvs(data, sections)
    if readme is not None:  # the README quotes the cells of verdicts.csv, headers at least
        csvs.setdefault("verdicts.csv", verdict_frame([]))
    for name, frame in csvs.items():
        _write_csv(folder / name, frame)
    if "scores.csv" in csvs:  # beside it: what a decision interval resamples
        atomic_write_gzip(folder / SENTENCE_SCORES,
                          lambda fh: data.sentences.to_csv(fh, index=False))
    write_text(folder / "report.md", render_markdown(title, sections))
    index = write_text(folder / "index.html", render_html(title, sections))
    if readme is not None:
        command, facts = readme
        # read back from the CSV just written: the README quotes exactly its cells
        verdicts = pd.read_csv(folder / "verdicts.csv")
        files = [(name, what) for name, what in README_FILES if (folder / name).is_file()]
        write_text(folder / "README.md", render_readme(
            verdicts, title=f"Reproduction: {title}", command=command, facts=facts,
            files=files))
    return index


def _write_csv(path: Path, df: pd.DataFrame) -> Path:
    def writer(fh: IO[str]) -> None:
        df.to_csv(fh, index=False)

    return atomic_write(path, writer)


def build_report(scores: Sequence[ScoreRow], sims: Sequence[SimilarityRow], out: str | Path, *,
                 title: str, settings: ReportSettings | None = None,
                 study: StudyInputs | None = None) -> Path:
    """Compute and render the report of ``scores`` and ``sims`` into ``out``; returns the HTML
    path. Everything is computed before anything is written: no rows at all (ValueError) leave
    ``out`` as it was, and so does a folder holding a file crossling did not write.
    ``study`` (a study's report): its README facts and tokenizer covariates."""
    check_report_folder(out)  # before minutes of resampling
    covariates = study.covariates if study else {}
    readme = study.readme if study else None
    by_model = split_by_model(named_models(scores), named_models(sims))
    if len(by_model) > 1:
        return _several_models(by_model, Path(out), title, settings, readme, covariates)
    model = next(iter(by_model), None)
    data = compute_report(scores, sims, settings=settings,
                          covariates=covariates.get(model) if model else None)
    return write_report(data, out, title=title, readme=readme)


def _several_models(by_model: dict[str, tuple[list[ScoreRow], list[SimilarityRow]]],
                    folder: Path, title: str, settings: ReportSettings | None,
                    readme: Readme | None, covariates: Mapping[str, Covariates]) -> Path:
    """Models side by side on the relative-depth axis in ``folder``, and each model's own
    report (absolute layers) in ``folder/models/<model>``; all computed before any write."""
    datas = {m: compute_report(s, r, settings=settings, covariates=covariates.get(m))
             for m, (s, r) in by_model.items()}
    subs = {m: f"models/{re.sub(r'[^A-Za-z0-9._-]+', '_', m)}" for m in by_model}
    measure = next(iter(datas.values())).measure
    sections = depth_sections(compare_depths(by_model), measure, list(subs.items()))
    folder.mkdir(parents=True, exist_ok=True)
    with writing_outputs(folder, REPORT_OUTPUTS):
        for model, data in datas.items():
            write_report(data, folder / subs[model], title=f"{title} · {model}",
                         readme=readme)
        for section in sections:
            for figure in section.figures:
                figure.draw(folder / figure.name)
            for name, frame in section.csvs.items():
                _write_csv(folder / name, frame)
        write_text(folder / "report.md", render_markdown(title, sections))
        return write_text(folder / "index.html", render_html(title, sections))
