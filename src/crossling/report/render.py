"""The study report: the paper's tables and figures as Markdown and a static HTML page.

:func:`build_report` takes result rows (so it can be tested on synthetic rows) and writes into
one folder: ``report.md``, ``index.html`` (self-contained apart from the PNGs beside it) and the
figures. Tables are pandas DataFrames rendered with ``to_markdown``-free plain formatting and
``to_html``; text is escaped with :func:`html.escape`. Which table answers which proposition of
the paper (P2-P6) is stated in each section heading.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crossling.analysis.correlate import correlations, pretrained_vs_finetuned, transfer_scores
from crossling.analysis.deltas import deltas, group_order, summarize
from crossling.analysis.frames import scores_frame, similarity_frame
from crossling.atomic import write_text
from crossling.report import figures
from crossling.results import ScoreRow, SimilarityRow

MAIN_METRIC = {"pos": "upos_acc", "parsing": "las", "ner": "span_f1"}


@dataclass
class Section:
    title: str
    text: str = ""
    tables: list[tuple[str, pd.DataFrame]] = field(default_factory=list)
    images: list[tuple[str, str]] = field(default_factory=list)  # (file name, caption)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "–" if math.isnan(v) else f"{v:.2f}"
    return str(v)


def _markdown_table(df: pd.DataFrame) -> str:
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, row in df.iterrows():
        lines.append("| " + " | ".join(_fmt(v) for v in row.tolist()) + " |")
    return "\n".join(lines)


def _ref_table(sc: pd.DataFrame) -> pd.DataFrame:
    ref = sc[sc["reinit"].str.upper() == "REF"]
    rows = []
    for (task, metric, lang), g in ref.groupby(["task", "metric", "language"]):
        rows.append({"task": task, "metric": metric, "language": lang,
                     "source": bool(g["is_source"].any()), "score": g["value"].mean(),
                     "95% CI (seed 1st)": f"[{g['ci_low'].iloc[0]:.1f}, "
                                          f"{g['ci_high'].iloc[0]:.1f}]",
                     "seeds": g["seed"].nunique(), "sentences": int(g["n_sentences"].iloc[0])})
    out = pd.DataFrame(rows)
    if not out.empty:
        out = out.sort_values(["task", "metric", "source", "language"],
                              ascending=[True, True, False, True])
    return out


def _provenance(scores: Sequence[ScoreRow], sims: Sequence[SimilarityRow]) -> pd.DataFrame:
    provs = [r.provenance for r in scores] + [r.provenance for r in sims]
    items: dict[str, set[str]] = {}
    for p in provs:
        for key in ("model", "git_commit", "device", "pooling"):
            if p.get(key) is not None:
                items.setdefault(key, set()).add(str(p[key]))
        for name, version in (p.get("versions") or {}).items():
            items.setdefault(f"version: {name}", set()).add(str(version))
        for path, digest in (p.get("data") or {}).items():
            items.setdefault(f"data: {Path(path).name}", set()).add(str(digest)[:16])
    return pd.DataFrame([{"item": k, "value": ", ".join(sorted(v))}
                         for k, v in sorted(items.items())])


def build_sections(scores: Sequence[ScoreRow], sims: Sequence[SimilarityRow], out: Path,
                   measure: str = "linear_cka") -> list[Section]:
    """Compute every table and figure; figures are written into ``out``."""
    sc = scores_frame(scores)
    sf = similarity_frame(sims)
    if not sf.empty and measure not in set(sf["metric"]):
        measure = str(sf["metric"].iloc[0])
    sections: list[Section] = []

    if not sc.empty:
        sections.append(Section(
            "Table 1 · Zero-shot transfer of the REF models",
            "Scores in [0, 100]: UPOS token accuracy, LAS/UAS (CoNLL 2018), NER span F1. "
            "Source-language rows first. Mean over seeds; the interval is the 95% bootstrap "
            "over sentences of the first seed.", [("ref", _ref_table(sc))]))
        d = deltas(sc)
        if not d.empty:
            summary = summarize(d)
            sections.append(Section(
                "Table 2 · RANDOM-INIT: Δ vs REF, source vs mean of targets (P2, P3)",
                "Δ = score(group) − score(REF), same seed. gap = target Δ − source Δ "
                "(negative: re-initialising hurts the targets more). CIs are 95% t-intervals "
                "across seeds; p is a two-sided Wilcoxon signed-rank test of (target Δ − source "
                "Δ) across target languages.", [("delta", summary)]))
            appendix = Section("Appendix · Δ per language",
                               "Mean over seeds of Δ vs REF for every language and group.")
            for (task, metric), g in d.groupby(["task", "metric"]):
                table = g.pivot_table(index="reinit", columns="language", values="delta",
                                      aggfunc="mean")
                table = table.loc[sorted(table.index, key=group_order)].reset_index()
                appendix.tables.append((f"{task} · {metric}", table))
                name = f"delta-{task}-{metric}.png"
                figures.delta_heatmap(d, str(task), str(metric), out / name)
                sections[-1].images.append((name, f"Δ {metric} ({task}): layer group × "
                                                  "language"))
            sections.append(appendix)

    if not sf.empty:
        sim_sec = Section(
            "Figure · Cross-lingual similarity per layer, before and after fine-tuning (P5)",
            f"{measure} between the source and each target on parallel PUD sentences; dotted: "
            "the same measure on shuffled (non-parallel) pairs.")
        name = "alignment.png"
        figures.alignment_before_after(sf, measure, out / name)
        sim_sec.images.append((name, f"{measure} per layer"))
        mm = pretrained_vs_finetuned(sf, measure)
        if not mm.empty:
            name = "pretrained-vs-finetuned.png"
            figures.pretrained_vs_finetuned(mm, measure, out / name)
            sim_sec.images.append((name, "CKA(pretrained, fine-tuned) per layer (P4)"))
            sim_sec.tables.append(("pretrained vs fine-tuned (P4)",
                                   mm.pivot_table(index="layer", columns="task",
                                                  values="mean").reset_index()))
        sections.append(sim_sec)

    if not sc.empty and not sf.empty:
        corr_sec = Section(
            "Table 3 · Does similarity predict transfer? (P6)",
            "Spearman ρ across target languages between per-layer similarity of the pretrained "
            "model and the REF zero-shot score; CI: 95% bootstrap over languages.")
        for task in sorted(set(sc["task"])):
            metric = MAIN_METRIC.get(str(task), str(sc[sc["task"] == task]["metric"].iloc[0]))
            corr = correlations(sf, sc, str(task), metric, measure)
            if corr.empty or corr["rho"].isna().all():
                continue
            corr_sec.tables.append((f"{task} · {metric}", corr.drop(columns=["finetuned"])))
            best = corr.iloc[int(np.nanargmax(corr["rho"].abs().to_numpy()))]
            name = f"scatter-{task}.png"
            figures.similarity_vs_score(sf, transfer_scores(sc, str(task), metric), measure,
                                        int(best["layer"]), float(best["rho"]), str(task),
                                        metric, out / name)
            corr_sec.images.append((name, f"{task}: layer {int(best['layer'])}, the layer with "
                                          "the largest |ρ|"))
        if corr_sec.tables:
            sections.append(corr_sec)

    sections.append(Section("Provenance", "What produced these numbers.",
                            [("provenance", _provenance(scores, sims))]))
    return sections


def render_markdown(title: str, sections: Sequence[Section]) -> str:
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


_CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222}table{border-collapse:collapse;font-size:13px;margin:.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f3f3f3}
img{max-width:100%;border:1px solid #eee;margin:.5em 0}figcaption{font-size:13px;color:#555}"""


def render_html(title: str, sections: Sequence[Section]) -> str:
    parts = ["<!DOCTYPE html>", "<html lang=\"en\"><head><meta charset=\"utf-8\">",
             f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
             f"<h1>{html.escape(title)}</h1>"]
    for s in sections:
        parts.append(f"<h2>{html.escape(s.title)}</h2><p>{html.escape(s.text)}</p>")
        for caption, table in s.tables:
            if len(s.tables) > 1:
                parts.append(f"<h3>{html.escape(caption)}</h3>")
            parts.append(table.to_html(index=False, na_rep="–", float_format=_fmt,
                                       border=0, escape=True))
        for name, caption in s.images:
            parts.append(f"<figure><img src=\"{html.escape(name)}\" alt=\"{html.escape(caption)}"
                         f"\"><figcaption>{html.escape(caption)}</figcaption></figure>")
    parts.append("</body></html>")
    return "\n".join(parts)


def build_report(scores: Sequence[ScoreRow], sims: Sequence[SimilarityRow], out: str | Path,
                 title: str, measure: str = "linear_cka") -> Path:
    """Write ``report.md``, ``index.html`` and the figures into ``out``; returns the HTML path."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    sections = build_sections(scores, sims, folder, measure)
    write_text(folder / "report.md", render_markdown(title, sections))
    return write_text(folder / "index.html", render_html(title, sections))
