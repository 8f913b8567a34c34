"""The report's study-level figures (matplotlib, PNG, written atomically), one function each.

Each draws from frames already computed (`crossling.report.data.ReportData`) and computes no
statistic. Every figure shows its uncertainty and its null: a CKA curve without its null (biased
CKA of unrelated data is far from 0 at small n) cannot be read. Saving and measure labels are
shared with one run's curves (`crossling.report.plots`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from crossling.analysis.correlate import MAIN_METRIC
from crossling.analysis.deltas import group_order
from crossling.analysis.scatter import ScatterChoice
from crossling.report.plots import layer_axis, measure_label, save_figure, side_legend

DPI = 140
"""Resolution of the report's figures (one run's curves: 150 dpi, `crossling.report.plots`)."""


def _save(fig: plt.Figure, path: Path) -> Path:
    return save_figure(fig, path, dpi=DPI)


def alignment_before_after(sim: pd.DataFrame, measures: Sequence[str], path: Path) -> Path:
    """One panel per measure: pretrained (dashed) and fine-tuned (solid, one colour per task)
    cross-lingual similarity, mean over targets, band = range over targets; grey band: the
    pretrained model's shuffled-pairs null (mean to 95th percentile, mean over targets)."""
    cross = sim[sim["kind"] == "cross-lingual"]
    measures = [m for m in measures if m in set(cross["metric"])]
    if not measures:
        raise ValueError("no cross-lingual similarity rows to plot")
    tasks = sorted(str(t) for t in cross[cross["finetuned"]]["task"].unique())
    cols = min(4, len(measures))  # rows of at most four panels: eight measures make a 2 x 4
    rows = -(-len(measures) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(max(7.0, 4.8 * cols), 3.6 * rows + 0.3),
                             squeeze=False, sharex=True)
    flat = list(axes.flat)
    for ax in flat[len(measures):]:
        ax.set_visible(False)
    for ax, measure in zip(flat, measures, strict=False):
        sub = cross[cross["metric"] == measure]
        curves = [("pretrained", sub[~sub["finetuned"]], "C0", "--")]
        curves += [(f"fine-tuned: {t}", sub[sub["task"] == t], f"C{i + 1}", "-")
                   for i, t in enumerate(tasks)]
        for label, g, colour, style in curves:
            if g.empty:
                continue
            per_target = g.groupby(["layer", "target"])["value"].mean().groupby("layer")
            mean = per_target.mean()
            ax.plot(mean.index, mean.to_numpy(), marker="o", ms=3, lw=1.8, color=colour,
                    ls=style, label=label)
            ax.fill_between(mean.index, per_target.min().to_numpy(),
                            per_target.max().to_numpy(), color=colour, alpha=0.13, lw=0)
        base = sub[~sub["finetuned"]] if (~sub["finetuned"]).any() else sub
        null = base.groupby("layer")[["null_mean", "null_high"]].mean().sort_index()
        if null["null_mean"].notna().any():
            ax.fill_between(null.index, null["null_mean"], null["null_high"], color="0.55",
                            alpha=0.35, lw=0, label="shuffled pairs (null: mean–95th pct)")
            ax.plot(null.index, null["null_mean"], color="0.4", ls=":", lw=1.0)
        ax.set_title(measure_label(measure), fontsize=10)
        layer_axis(ax, sorted(sub["layer"].unique()))
        ax.grid(alpha=0.3)
    for row in axes:
        row[0].set_ylabel("similarity, source vs target")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), frameon=False,
               fontsize=8, ncol=min(4, len(labels)))
    fig.suptitle("Cross-lingual similarity before and after fine-tuning "
                 "(line: mean over targets; band: range over targets)", fontsize=10)
    return _save(fig, path)


def pretrained_vs_finetuned(table: pd.DataFrame, measure: str, path: Path,
                            baselines: pd.DataFrame | None = None) -> Path:
    """similarity(pretrained, fine-tuned) per layer, one line per task (band: range over
    languages and seeds), with the mean shuffled-pairs null band; with ``baselines``
    (`crossling.analysis.verdicts.p4_frames` per-layer frame): the same measure between
    two fine-tuned seeds (dotted, per task) and, in a second panel, the relative weight change
    of each block."""
    has_weights = baselines is not None and "weight_change" in baselines \
        and baselines["weight_change"].notna().any()
    fig, axes = plt.subplots(1, 2 if has_weights else 1, figsize=(11.5 if has_weights else 6.4,
                                                               4.0), squeeze=False)
    ax = axes[0][0]
    for i, (task, g) in enumerate(table.groupby("task")):
        g = g.sort_values("layer")
        ax.plot(g["layer"], g["mean"], marker="o", ms=3, color=f"C{i + 1}",
                label=f"{task}: pretrained vs fine-tuned")
        ax.fill_between(g["layer"], g["min"], g["max"], color=f"C{i + 1}", alpha=0.15, lw=0)
        if baselines is not None and "seed_seed" in baselines:
            b = baselines[baselines["task"] == task].dropna(subset=["seed_seed"])
            if not b.empty:
                b = b.sort_values("layer")
                ax.plot(b["layer"], b["seed_seed"], ls=":", lw=1.6, color=f"C{i + 1}",
                        label=f"{task}: fine-tuned seed vs seed")
    null = table.groupby("layer")[["null_mean", "null_high"]].mean().sort_index()
    if null["null_mean"].notna().any():
        ax.fill_between(null.index, null["null_mean"], null["null_high"], color="0.55",
                        alpha=0.35, lw=0, label="shuffled pairs (null)")
    ax.set_ylim(top=1.02)
    ax.set_xticks(sorted(table["layer"].unique()))
    ax.set_xlabel("layer (0 = embeddings)")
    ax.set_ylabel(f"{measure_label(measure)}")
    ax.set_title("How much fine-tuning changes each layer\n(same sentences; band: range over "
                 "languages and seeds)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, frameon=False)
    if has_weights and baselines is not None:
        wax = axes[0][1]
        for i, (task, g) in enumerate(baselines.dropna(subset=["weight_change"]).groupby("task")):
            g = g.sort_values("layer")
            wax.plot(g["layer"], g["weight_change"], marker="o", ms=3, color=f"C{i + 1}",
                     label=str(task))
        wax.set_xticks(sorted(baselines["layer"].unique()))
        wax.set_xlabel("block (0 = embeddings)")
        wax.set_ylabel("‖W_tuned − W_pretrained‖ / ‖W_pretrained‖")
        wax.set_title("Relative weight change per block (REF, mean over seeds)", fontsize=10)
        wax.grid(alpha=0.3)
        wax.legend(fontsize=8, frameon=False)
    return _save(fig, path)


def delta_heatmap(d: pd.DataFrame, task: str, metric: str, path: Path) -> Path:
    """Δ vs REF (mean over seeds): re-init group (rows, low layers first) x language (source
    first, then targets, then their mean); diverging colours centred on 0."""
    sub = d[(d["task"] == task) & (d["metric"] == metric)]
    table = sub.pivot_table(index="reinit", columns="language", values="delta", aggfunc="mean")
    sources = sorted(set(sub[sub["is_source"]]["language"]))
    targets = sorted(c for c in table.columns if c not in sources)
    rows = sorted(table.index, key=group_order)
    table = table.loc[rows, sources + targets]
    table["mean"] = table[targets].mean(axis=1)
    values = table.to_numpy(dtype=float)
    lim = float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 1.0
    lim = lim or 1.0
    cols = list(table.columns)
    fig, ax = plt.subplots(figsize=(1.6 + 0.62 * len(cols), 1.2 + 0.42 * len(rows)))
    im = ax.imshow(values, cmap="RdBu", vmin=-lim, vmax=lim, aspect="auto")
    ticks = [f"{c}\n(source)" if c in sources else ("targets\nmean" if c == "mean" else c)
             for c in cols]
    ax.set_xticks(range(len(cols)), ticks, fontsize=8)
    ax.set_yticks(range(len(rows)), rows, fontsize=8)
    ax.axvline(len(cols) - 1.5, color="black", lw=1.0)
    if sources:
        ax.axvline(len(sources) - 0.5, color="black", lw=1.0)
    for (i, j), v in np.ndenumerate(values):
        if np.isfinite(v):
            ax.text(j, i, f"{v:.1f}", ha="center", va="center", fontsize=7,
                    color="white" if abs(v) > 0.6 * lim else "black")
    ax.set_xlabel("language")
    ax.set_ylabel("re-initialised blocks")
    ax.set_title(f"Δ {metric} vs REF ({task}; mean over seeds)", fontsize=10)
    fig.colorbar(im, ax=ax, shrink=0.8, label=f"Δ {metric}")
    return _save(fig, path)


def _task_panels(frame: pd.DataFrame, width: float) -> tuple[Any, Any, list[tuple[Any, Any]]]:
    """A figure with one panel (``width`` inches) per task's main metric (`MAIN_METRIC`; every
    metric of a task without one, or of all tasks when none has its main metric), its axes
    and the panels' (task, metric) groups of ``frame`` of RANDOM-INIT rows."""
    if frame.empty:
        raise ValueError("no RANDOM-INIT rows to plot")
    main = [str(t) not in MAIN_METRIC or MAIN_METRIC[str(t)] == m
            for t, m in zip(frame["task"], frame["metric"], strict=True)]
    panels = list(frame[main].groupby(["task", "metric"], sort=True)) or \
        list(frame.groupby(["task", "metric"], sort=True))
    fig, axes = plt.subplots(1, len(panels), figsize=(max(6.0, width * len(panels)), 3.8),
                             squeeze=False)
    return fig, axes[0], panels


def delta_by_group(summary: pd.DataFrame, path: Path) -> Path:
    """One panel per task of `crossling.analysis.deltas.summarize`, its main metric
    (UPOS accuracy, LAS, span F1; every metric of a task without one): source Δ and mean target
    Δ by re-initialised group (low blocks left), each the mean over seeds with its 95%
    t-interval across seeds as error bars (no bar where the seeds give none). The other metrics
    (UAS, span precision and recall) are in the CSV and the per-metric appendix figures, which
    keeps the figure to one panel per task."""
    fig, axes, panels = _task_panels(summary, 4.6)
    for ax, ((task, metric), g) in zip(axes, panels, strict=True):
        g = g.sort_values("reinit", key=lambda col: col.map(group_order))
        x = np.arange(len(g))
        for offset, side, colour, label in ((-0.08, "source", "C3", "source (English)"),
                                            (0.08, "target", "C0", "targets (mean)")):
            value = g[f"{side}_delta"].to_numpy(dtype=float)
            low = np.nan_to_num(value - g[f"{side}_ci_low"].to_numpy(dtype=float))
            high = np.nan_to_num(g[f"{side}_ci_high"].to_numpy(dtype=float) - value)
            ax.errorbar(x + offset, value, yerr=[low, high], fmt="o-", ms=4, lw=1.4,
                        capsize=3, color=colour, label=label)
        ax.axhline(0.0, color="0.4", lw=0.8)
        ax.set_xticks(x, list(g["reinit"]), fontsize=8)
        ax.set_xlabel("re-initialised blocks")
        ax.set_ylabel(f"Δ {metric} vs REF (points)")
        ax.set_title(f"{task}", fontsize=10)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8, frameon=False)
    fig.suptitle("RANDOM-INIT: what re-initialising each pair of blocks costs the source and "
                 "the targets\n(mean over seeds; bars: 95% t-interval across seeds)",
                 fontsize=10)
    return _save(fig, path)


def similarity_vs_score(choice: ScatterChoice, measure: str, path: Path) -> Path:
    """A task's scatter (`crossling.analysis.scatter.ScatterChoice`): each target's pretrained
    similarity at the selected layer (x, 95% bootstrap CI over sentences) vs its REF zero-shot
    score (y, mean of per-seed bootstrap CIs); title: Spearman ρ with its bootstrap CI over
    languages."""
    pts, corr, layer = choice.points, choice.row, choice.layer
    langs = list(pts["language"])
    x, y = pts["similarity"], pts["score"]
    fig, ax = plt.subplots(figsize=(5.2, 4.2))
    ax.errorbar(x, y, xerr=[x - pts["similarity_ci_low"], pts["similarity_ci_high"] - x],
                yerr=[y - pts["score_ci_low"], pts["score_ci_high"] - y],
                fmt="o", color="C0", ecolor="0.6", elinewidth=1, capsize=2)
    for lang, xv, yv in zip(langs, x, y, strict=True):
        ax.annotate(lang, (xv, yv), fontsize=8, xytext=(4, 4), textcoords="offset points")
    ax.set_xlabel(f"{measure_label(measure)} with the source (pretrained, layer {layer})")
    ax.set_ylabel(f"zero-shot {choice.metric} ({choice.task}, REF)")
    lo, hi = float(corr["ci_low"]), float(corr["ci_high"])
    ci = f" [{lo:.2f}, {hi:.2f}]" if np.isfinite(lo) and np.isfinite(hi) else ""
    ax.set_title(f"Similarity vs transfer, {choice.task}: Spearman ρ = "
                 f"{float(corr['rho']):.2f}{ci}"
                 f"\n(n = {len(langs)} languages; CI: bootstrap over languages)", fontsize=10)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def alignment_robustness(curves: pd.DataFrame, path: Path) -> Path:
    """Every measure's pretrained cross-lingual curve on one axis (one panel per model), each
    normalised to its shuffled-pairs null (0) and its peak (1): mean over targets
    (`crossling.analysis.alignment.alignment_robustness`)."""
    if curves.empty:
        raise ValueError("no cross-lingual similarity rows to plot")
    models = sorted(set(curves["model"]))
    fig, axes = plt.subplots(1, len(models), figsize=(max(6.8, 5.6 * len(models)), 4.2),
                             squeeze=False, sharey=True)
    styles = ["-", "--", "-.", ":"]
    for ax, model in zip(axes[0], models, strict=True):
        sub = curves[curves["model"] == model]
        for i, measure in enumerate(dict.fromkeys(sub["measure"])):
            g = sub[sub["measure"] == measure].sort_values("layer")
            ax.plot(g["layer"], g["normalised"], marker="o", ms=3, lw=1.6, color=f"C{i % 10}",
                    ls=styles[(i // 10) % len(styles)], label=measure_label(str(measure)))
        ax.axhline(0.0, color="0.35", ls=":", lw=1.0, label="shuffled pairs (null mean)")
        ax.axhline(1.0, color="0.75", lw=0.8)
        ax.set_title(Path(str(model)).name or str(model), fontsize=10)
        layer_axis(ax, sorted(sub["layer"].unique()))
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("(value − null) / (peak − null)")
    side_legend(fig, axes[0][0])
    fig.suptitle("Robustness of the alignment curve: every measure, mean over targets, "
                 "normalised to its null (0) and its peak (1)", fontsize=10)
    return _save(fig, path)


def depth_similarity(sim: pd.DataFrame, measure: str, path: Path) -> Path:
    """Models of different depth on one axis: each model's pretrained cross-lingual
    ``measure``, mean over targets, against relative depth (layer / L; 0 = embeddings, 1 = top
    block), its shuffled-pairs null mean dotted in the same colour."""
    t = sim[sim["metric"] == measure]
    if t.empty:
        raise ValueError(f"no cross-lingual {measure} rows to plot")
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for i, (model, g) in enumerate(t.groupby("model", sort=False)):
        g = g.sort_values("relative_depth")
        blocks = int(g["layer"].max())
        ax.plot(g["relative_depth"], g["value"], "o-", ms=3, lw=1.5, color=f"C{i}",
                label=f"{model} ({blocks} blocks)")
        ax.plot(g["relative_depth"], g["null_mean"], ":", lw=1.0, color=f"C{i}")
    ax.set_xlim(-0.02, 1.02)
    ax.set_xlabel("relative depth (layer / blocks; 0 = embeddings, 1 = top block)")
    ax.set_ylabel(measure_label(measure))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, frameon=False)
    ax.set_title("Cross-lingual similarity by relative depth, mean over targets\n"
                 "(dotted: shuffled-pairs null mean)", fontsize=10)
    return _save(fig, path)


def depth_deltas(dl: pd.DataFrame, path: Path) -> Path:
    """RANDOM-INIT Δ vs REF against the relative depth of the re-initialised group (the
    midpoint of the depth it spans), one panel per task (its main metric), one colour per
    model: targets' mean solid, source dashed, bars the 95% t-interval across seeds."""
    fig, axes, panels = _task_panels(dl[dl["relative_depth"].notna()], 4.8)
    for ax, ((task, metric), g) in zip(axes, panels, strict=True):
        for i, (model, m) in enumerate(g.groupby("model", sort=False)):
            m = m.sort_values("relative_depth")
            x = m["relative_depth"].to_numpy(dtype=float)
            for side, style, label in (("target", "o-", "targets"), ("source", "s--", "source")):
                value = m[f"{side}_delta"].to_numpy(dtype=float)
                low = np.nan_to_num(value - m[f"{side}_ci_low"].to_numpy(dtype=float))
                high = np.nan_to_num(m[f"{side}_ci_high"].to_numpy(dtype=float) - value)
                ax.errorbar(x, value, yerr=[low, high], fmt=style, ms=4, lw=1.3, capsize=3,
                            color=f"C{i}", label=f"{model}: {label}")
        ax.axhline(0.0, color="0.4", lw=0.8)
        ax.set_xlim(-0.02, 1.02)
        ax.set_xlabel("relative depth of the re-initialised group")
        ax.set_ylabel(f"Δ {metric} vs REF (points)")
        ax.set_title(str(task), fontsize=10)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, frameon=False)
    fig.suptitle("RANDOM-INIT by relative depth, models side by side (mean over seeds)",
                 fontsize=10)
    return _save(fig, path)
