"""The retrieval figure (P@1 by layer per language, one panel per variant) and the files of a
``crossling retrieval`` run.

One figure serves the CLI and the study report. Per target: source→target P@1 as a solid line
with its 95% bootstrap band over query sentences, target→source dashed; chance 1/n as a grey
dotted line with a band to the shuffled pairs' 95th percentile, so a reader sees which part of a
curve is retrieval that non-parallel sentences do not produce.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from crossling.analysis.retrieval import retrieval_frame, variants_present
from crossling.core.manifest import writing_outputs
from crossling.report.plots import layer_axis, save_figure, short_model_name, side_legend
from crossling.results import SimilarityRow, write_rows_csv, write_rows_json

PANEL_TITLES = {"cosine": "cosine", "centred": "centred (language mean removed)",
                "margin": "ratio margin (Artetxe & Schwenk 2019)"}


def plot_retrieval(frame: pd.DataFrame, path: str | Path, title: str | None = None,
                   dpi: int = 150) -> Path:
    """Write the P@1-by-layer figure of a `crossling.analysis.retrieval.retrieval_frame`
    to ``path`` (PNG, atomically); returns the path. ValueError without rows."""
    if frame.empty:
        raise ValueError("no retrieval rows to plot")
    variants = variants_present(frame)
    targets = sorted(set(frame["target"]))
    fig, axes = plt.subplots(1, len(variants), figsize=(4.6 * len(variants), 3.9),
                             squeeze=False, sharex=True, sharey=True)
    colours = plt.get_cmap("tab10" if len(targets) <= 10 else "tab20")
    source = str(frame["source"].iloc[0])
    for ax, variant in zip(axes[0], variants, strict=True):
        sub = frame[frame["variant"] == variant]
        for i, target in enumerate(targets):
            colour = colours(i % colours.N)
            for direction, style in (("s2t", "-"), ("t2s", "--")):
                curve = sub[(sub["target"] == target) & (sub["direction"] == direction)]
                curve = curve.sort_values("layer")
                if curve.empty:
                    continue
                ax.plot(curve["layer"], curve["value"], ls=style, marker="o" if style == "-"
                        else None, ms=3, lw=1.5 if style == "-" else 1.0, color=colour,
                        label=target if direction == "s2t" else None)
                if direction == "s2t" and curve["ci_low"].notna().any():
                    ax.fill_between(curve["layer"], curve["ci_low"], curve["ci_high"],
                                    color=colour, alpha=0.15, lw=0)
        null = sub.groupby("layer")[["chance", "null_high"]].mean().sort_index()
        ax.plot(null.index, null["chance"], ls=":", color="0.35", lw=1.2,
                label="chance 1/n (shuffled pairs: band to 95th pct)")
        if null["null_high"].notna().any():
            ax.fill_between(null.index, null["chance"], null["null_high"], color="0.6",
                            alpha=0.3, lw=0)
        ax.set_title(PANEL_TITLES.get(variant, variant), fontsize=10)
        layer_axis(ax, sorted(sub["layer"].unique()))
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(f"P@1 (solid: {source}→target, band 95% CI; dashed: target→{source})",
                          fontsize=8)
    side_legend(fig, axes[0][0])
    first = frame.iloc[0]
    model = short_model_name(first["model"])
    fig.suptitle(title or f"Parallel sentence retrieval · {model} · pooling={first['pooling']} "
                          f"· n={first['n']} candidates", fontsize=10)
    return save_figure(fig, path, dpi=dpi)


RETRIEVAL_OUTPUTS = ("retrieval.csv", "retrieval.json", "provenance.json", "retrieval.png")
"""The files a retrieval run writes into its output folder."""


def write_retrieval_outputs(rows: Sequence[SimilarityRow], out: str | Path) -> dict[str, Path]:
    """The files of a retrieval run in ``out`` (created): ``retrieval.csv`` (with the
    ``provenance.json`` sidecar), ``retrieval.json`` and ``retrieval.png``; each atomic."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    with writing_outputs(folder, RETRIEVAL_OUTPUTS):
        return {"csv": write_rows_csv(folder / "retrieval.csv", rows),
                "json": write_rows_json(folder / "retrieval.json", rows),
                "png": plot_retrieval(retrieval_frame(rows), folder / "retrieval.png")}
