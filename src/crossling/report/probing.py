"""The probing figure (accuracy and selectivity by layer, one line per language) and the files
of a ``crossling probe`` run. Numbers come from `crossling.analysis.probing`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import IO

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from crossling.analysis.probing import language_order, probe_frame
from crossling.core.atomic import atomic_write
from crossling.core.manifest import writing_outputs
from crossling.report.plots import layer_axis, save_figure, short_model_name, side_legend
from crossling.results import ScoreRow, write_rows_csv, write_rows_json

PANELS = (("upos_acc", "UPOS accuracy of the probe"),
          ("selectivity", "selectivity = accuracy − control-task accuracy"))


def plot_probe(frame: pd.DataFrame, path: str | Path, title: str | None = None) -> Path:
    """Accuracy by layer per language (band: 95% bootstrap CI over sentences) beside the
    majority baseline (grey dashes: mean over languages, band: their range), and selectivity by
    layer when the rows have it. Writes ``path`` (PNG, atomically) and returns it."""
    layered = frame.dropna(subset=["layer"])
    if layered.empty or not (layered["metric"] == "upos_acc").any():
        raise ValueError("no probing accuracy rows to plot")
    panels = [(m, label) for m, label in PANELS if (layered["metric"] == m).any()]
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 3.9), squeeze=False,
                             sharex=True)
    langs = language_order(layered)
    colours = plt.get_cmap("tab10" if len(langs) <= 10 else "tab20")
    layers = sorted(int(k) for k in layered["layer"].unique())
    for ax, (metric, label) in zip(axes[0], panels, strict=True):
        sub = layered[layered["metric"] == metric]
        for i, lang in enumerate(langs):
            curve = sub[sub["language"] == lang].groupby("layer")[
                ["value", "ci_low", "ci_high"]].mean().sort_index()
            if curve.empty:
                continue
            colour = colours(i % colours.N)
            ax.plot(curve.index, curve["value"], marker="o", ms=3, color=colour, label=lang,
                    lw=2.2 if bool(sub.loc[sub["language"] == lang, "is_source"].any()) else 1.4)
            ax.fill_between(curve.index, curve["ci_low"], curve["ci_high"], color=colour,
                            alpha=0.15, lw=0)
        if metric == "upos_acc":
            majority = frame[frame["metric"] == "majority_acc"].groupby("language")["value"]
            if len(majority):
                mean, low, high = (float(majority.mean().mean()), float(majority.mean().min()),
                                   float(majority.mean().max()))
                ax.axhline(mean, ls="--", color="0.35", lw=1.2, label="majority tag")
                ax.axhspan(low, high, color="0.6", alpha=0.2, lw=0)
            ax.set_ylim(0, 100)
        else:
            ax.axhline(0, color="0.5", lw=0.8)
        ax.set_title(label, fontsize=10)
        layer_axis(ax, layers)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("% of words")
    side_legend(fig, axes[0][0])
    first = layered.iloc[0]
    model = short_model_name(first["model"])
    fig.suptitle(title or f"{model} · linear UPOS probe trained on {first['source']} "
                          "(EWT), applied unchanged to every language", fontsize=10)
    return save_figure(fig, path, dpi=150)


PROBE_OUTPUTS = ("probe.csv", "probe.json", "provenance.json", "probe.png",
                 "accuracy-by-layer.csv", "selectivity-by-layer.csv")
"""The files a probing run writes into its output folder (the CLI's tables included)."""


def write_probe_outputs(rows: Sequence[ScoreRow], out: str | Path,
                        tables: dict[str, pd.DataFrame] | None = None) -> dict[str, Path]:
    """The files of a probing run in ``out``: ``probe.csv`` (+ ``provenance.json``),
    ``probe.json``, ``probe.png`` and each of ``tables`` as ``<name>.csv``, all atomically."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    names = [*PROBE_OUTPUTS, *(f"{name}.csv" for name in tables or {})]
    with writing_outputs(folder, names):
        written = {"csv": write_rows_csv(folder / "probe.csv", rows),
                   "json": write_rows_json(folder / "probe.json", rows),
                   "png": plot_probe(probe_frame(rows), folder / "probe.png")}
        for name, table in (tables or {}).items():
            written[name] = _write_table(folder / f"{name}.csv", table)
    return written


def _write_table(path: Path, table: pd.DataFrame) -> Path:
    def writer(fh: IO[str]) -> None:
        table.to_csv(fh)

    return atomic_write(path, writer)
