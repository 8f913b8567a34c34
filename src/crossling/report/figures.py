"""Study-level figures of the report (matplotlib, PNG, written atomically).

- :func:`alignment_before_after`: cross-lingual CKA per layer, mean over targets (band = range
  over targets), pretrained vs each fine-tuned task, with the shuffled-pairs null (P5);
- :func:`pretrained_vs_finetuned`: CKA(pretrained, fine-tuned) per layer and task (P4);
- :func:`delta_heatmap`: Δ vs REF, layer group x language, source first (P2, P3);
- :func:`similarity_vs_score`: each target's similarity at one layer vs its zero-shot score,
  with Spearman's rho (P6).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from crossling.analysis.deltas import group_order
from crossling.analysis.frames import language_code
from crossling.atomic import atomic_path


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=140, bbox_inches="tight", format="png")
    plt.close(fig)
    return path


def alignment_before_after(sim: pd.DataFrame, measure: str, path: Path) -> Path:
    cross = sim[(sim["kind"] == "cross-lingual") & (sim["metric"] == measure)]
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    groups = [("pretrained", cross[cross["task"].isna()])]
    groups += [(f"fine-tuned: {t}", g) for t, g in cross[cross["task"].notna()].groupby("task")]
    for i, (label, g) in enumerate(groups):
        if g.empty:
            continue
        per_layer = g.groupby("layer")["value"]
        mean = per_layer.mean()
        ax.plot(mean.index, mean.to_numpy(), marker="o", ms=3, lw=1.8, color=f"C{i}", label=label,
                ls="-" if i else "--")
        ax.fill_between(mean.index, per_layer.min(), per_layer.max(), color=f"C{i}", alpha=0.15,
                        lw=0)
    null = cross.groupby("layer")[["null_mean", "null_high"]].mean()
    if not null.empty:
        ax.plot(null.index, null["null_mean"], color="0.4", ls=":", lw=1.2,
                label="shuffled pairs (null)")
    ax.set_xlabel("layer (0 = embeddings)")
    ax.set_ylabel(f"{measure}, source vs targets")
    ax.set_title("Cross-lingual similarity before and after fine-tuning\n"
                 "(line: mean over targets; band: range over targets)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, frameon=False)
    return _save(fig, path)


def pretrained_vs_finetuned(table: pd.DataFrame, measure: str, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for i, (task, g) in enumerate(table.groupby("task")):
        ax.plot(g["layer"], g["mean"], marker="o", ms=3, color=f"C{i}", label=str(task))
        ax.fill_between(g["layer"], g["min"], g["max"], color=f"C{i}", alpha=0.15, lw=0)
    ax.set_ylim(top=1.02)
    ax.set_xlabel("layer (0 = embeddings)")
    ax.set_ylabel(f"{measure}(pretrained, fine-tuned)")
    ax.set_title("How much fine-tuning changes each layer\n(band: range over languages "
                 "and seeds)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, frameon=False)
    return _save(fig, path)


def delta_heatmap(d: pd.DataFrame, task: str, metric: str, path: Path) -> Path:
    sub = d[(d["task"] == task) & (d["metric"] == metric)]
    table = sub.pivot_table(index="reinit", columns="language", values="delta", aggfunc="mean")
    sources = sorted(set(sub[sub["is_source"]]["language"]))
    cols = sources + sorted(c for c in table.columns if c not in sources)
    rows = sorted(table.index, key=group_order)
    table = table.loc[rows, cols]
    lim = float(np.nanmax(np.abs(table.to_numpy()))) if table.size else 1.0
    fig, ax = plt.subplots(figsize=(1.0 + 0.62 * len(cols), 0.9 + 0.42 * len(rows)))
    im = ax.imshow(table.to_numpy(), cmap="RdBu", vmin=-lim, vmax=lim, aspect="auto")
    ax.set_xticks(range(len(cols)), [f"{c}\n(source)" if c in sources else c for c in cols],
                  fontsize=8)
    ax.set_yticks(range(len(rows)), rows, fontsize=8)
    for (i, j), v in np.ndenumerate(table.to_numpy()):
        if np.isfinite(v):
            ax.text(j, i, f"{v:.1f}", ha="center", va="center", fontsize=7)
    ax.set_xlabel("language")
    ax.set_ylabel("re-initialised blocks")
    ax.set_title(f"Δ {metric} vs REF ({task}; mean over seeds)", fontsize=10)
    fig.colorbar(im, ax=ax, shrink=0.8)
    return _save(fig, path)


def similarity_vs_score(sim: pd.DataFrame, score: pd.Series, measure: str, layer: int,
                        rho: float, task: str, metric: str, path: Path) -> Path:
    cross = sim[(sim["kind"] == "cross-lingual") & (sim["metric"] == measure) &
                (sim["layer"] == layer) & sim["task"].isna()]
    per_lang = cross.groupby(cross["target"].map(language_code))["value"].mean()
    langs = sorted(set(per_lang.index) & set(score.index))
    fig, ax = plt.subplots(figsize=(5.0, 4.0))
    ax.scatter(per_lang.loc[langs], score.loc[langs], color="C0")
    for lang in langs:
        ax.annotate(lang, (per_lang[lang], score[lang]), fontsize=8, xytext=(3, 3),
                    textcoords="offset points")
    ax.set_xlabel(f"{measure} (pretrained, layer {layer})")
    ax.set_ylabel(f"zero-shot {metric} ({task}, REF)")
    ax.set_title(f"Similarity vs transfer: Spearman ρ = {rho:.2f} (n = {len(langs)})",
                 fontsize=10)
    ax.grid(alpha=0.3)
    return _save(fig, path)
