"""One run's per-layer similarity curves with their uncertainty (PNG), and the helpers every
crossling figure shares (`save_figure`, `measure_label`, the layer axis and legend).

One panel per measure, headline first; one line per target with its 95% bootstrap band; the
shuffled-pairs null as a grey dashed line with a band to its 95th percentile, so a reader sees
at once which part of a curve is alignment and which part unrelated sentences would score.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from crossling.analysis.frames import similarity_frame
from crossling.core.atomic import atomic_path
from crossling.core.manifest import writing_outputs
from crossling.results import ModelModelRow, SimilarityRow, write_rows_csv, write_rows_json
from crossling.similarity.measures import get_measure, measure_ids


def measure_label(measure: str) -> str:
    """A measure's plot label from the registry; an id the registry does not know (rows of an
    older store) is shown as is."""
    return get_measure(measure).label if measure in measure_ids() else measure


def band_label(measure: str) -> str:
    """What the shaded band of a measure's curves is (the registry's ``band_label``)."""
    return get_measure(measure).band_label if measure in measure_ids() \
        else "band: 95% bootstrap interval"


def save_figure(fig: plt.Figure, path: str | Path, dpi: int) -> Path:
    """Lay out, write ``fig`` to ``path`` as PNG atomically, close it; returns the path."""
    fig.tight_layout()
    out = Path(path)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format="png")
    plt.close(fig)
    return out


def layer_axis(ax: Any, layers: Any) -> None:
    """The x axis every by-layer panel shares: its label and one tick per layer."""
    ax.set_xlabel("layer (0 = embeddings)")
    ax.set_xticks(layers)


def side_legend(fig: Any, ax: Any) -> None:
    """One legend for the whole figure, right of the panels, from ``ax``'s lines."""
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False,
               fontsize=8)


def short_model_name(model: object) -> str:
    """A model's name for a title: a local folder's last part, a Hub name as it is."""
    return Path(str(model)).name or str(model)


def plot_similarity(rows: Sequence[SimilarityRow], path: str | Path,
                    measures: Sequence[str] | None = None, title: str | None = None) -> Path:
    """Write the curves of ``rows`` to ``path`` (PNG, atomically); returns the path."""
    df = similarity_frame(rows)
    if df.empty:
        raise ValueError("no similarity rows to plot")
    chosen = [m for m in (measures or measure_ids()) if m in set(df["metric"])]
    chosen += [m for m in df["metric"].unique() if m not in chosen and measures is None]
    fig, axes = plt.subplots(1, len(chosen), figsize=(4.6 * len(chosen), 3.8), squeeze=False,
                             sharex=True)
    colours = plt.get_cmap("tab10" if df["target"].nunique() <= 10 else "tab20")
    for ax, measure in zip(axes[0], chosen, strict=True):
        sub = df[df["metric"] == measure]
        for i, (target, curve) in enumerate(sub.groupby("target")):  # sorted by target
            curve = curve.sort_values("layer")
            colour = colours(i % colours.N)
            label = (f"{curve['source'].iloc[0]}–{target}" if curve["kind"].iloc[0] ==
                     "cross-lingual" else str(target))
            ax.plot(curve["layer"], curve["value"], marker="o", ms=3, lw=1.6, color=colour,
                    label=label)
            ax.fill_between(curve["layer"], curve["ci_low"], curve["ci_high"], color=colour,
                            alpha=0.18, lw=0)
        null = sub.groupby("layer")[["null_mean", "null_high"]].mean().sort_index()
        if null["null_mean"].notna().any():
            ax.plot(null.index, null["null_mean"], ls="--", color="0.35", lw=1.2,
                    label="shuffled pairs (null)")
            ax.fill_between(null.index, null["null_mean"], null["null_high"], color="0.6",
                            alpha=0.25, lw=0)
        band = band_label(measure)
        if sub["ci_low"].isna().all() and not (measure in measure_ids() and
                                               get_measure(measure).max_boot == 0):
            band = "no interval (n_boot = 0)"  # (a measure that never has one says why)
        ax.set_title(f"{measure_label(measure)}\n{band}", fontsize=10)
        layer_axis(ax, sorted(sub["layer"].unique()))
        ax.grid(alpha=0.3)
        low = sub["ci_low"].min() if sub["ci_low"].notna().any() else sub["value"].min()
        ax.set_ylim(min(0.0, float(low) - 0.02), 1.02)
    axes[0][0].set_ylabel("similarity")
    side_legend(fig, axes[0][0])
    first = df.iloc[0]
    model = short_model_name(first["model"])
    fig.suptitle(title or f"{model} · pooling={first['pooling']} · n={first['n']}",
                 fontsize=10)
    return save_figure(fig, path, dpi=150)


SIMILARITY_OUTPUTS = ("similarity.csv", "similarity.json", "provenance.json", "similarity.png",
                      "model-model.png")
"""The files a similarity run writes into its output folder."""


def write_similarity_outputs(rows: Sequence[SimilarityRow], out: str | Path,
                             ) -> dict[str, Path]:
    """The files of a similarity run in ``out``: ``similarity.csv`` and ``similarity.json``
    (every row), ``similarity.png`` (the cross-lingual curves) and, when there are
    model-vs-model rows, ``model-model.png`` titled ``model vs compare_model``."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    with writing_outputs(folder, SIMILARITY_OUTPUTS):
        written = {"csv": write_rows_csv(folder / "similarity.csv", rows),
                   "json": write_rows_json(folder / "similarity.json", rows)}
        cross = [r for r in rows if r.kind == "cross-lingual"]
        written["png"] = plot_similarity(cross, folder / "similarity.png")
        pairs = [r for r in rows if isinstance(r, ModelModelRow)]
        if pairs:
            written["model-model"] = plot_similarity(
                pairs, folder / "model-model.png",
                title=f"{pairs[0].model} vs {pairs[0].compare_model}")
    return written
