"""Summaries of the cross-lingual alignment curve: across measures, and across fine-tunings.

`alignment_robustness` asks whether the rise-then-fall (P5) is a property of the model or of
one measure: every measure's curve normalised to its null and peak, and the top-layer fall with
an interval that resamples the target languages. `finetuned_alignment` joins P2 and P5: the
fine-tuned models' curves per re-initialised group beside the pretrained one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from crossling.similarity.measures import measure_ids

FALLS = "falls after the peak"
NO_CLEAR_FALL = "no clear fall (interval reaches 0)"
RISES_AT_TOP = "rises at the top (interval below 0)"
PEAKS_LAST = "no fall: peaks at the last layer"
ONE_TARGET = "one target: no interval"


def measure_order(measures: Sequence[str]) -> list[str]:
    """Registry (display) order, then ids the registry does not know (older stores)."""
    known = measure_ids()
    return sorted(measures, key=lambda m: (known.index(m) if m in known else len(known), m))


def alignment_robustness(sf: pd.DataFrame, *, n_boot: int = 1000, seed: int = 0,
                         ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(curves, summary)`` of the pretrained cross-lingual rows of a
    `crossling.analysis.frames.similarity_frame`, per model and measure.

    With V[t, l] the value of target t at layer l (mean over duplicate rows; targets lacking a
    layer are left out) and N[t, l] its shuffled-pairs null mean (0 without a null):
    ``curves`` has per layer the mean over targets of V (``value``) and of N (``null_mean``)
    and ``normalised = (value - null_mean) / max over layers of (value - null_mean)``;
    ``summary`` has the peak layer, the top-layer ``fall`` = mean of V[t, peak] - V[t, last],
    its 95% percentile interval over ``n_boot`` resamples of the targets with the peak
    re-selected in each, ``peak_stability`` (share of resamples picking the same peak) and a
    verdict: `FALLS` (interval above 0), `RISES_AT_TOP` (below 0), `NO_CLEAR_FALL` (it
    contains 0), `PEAKS_LAST`, `ONE_TARGET`. Seeded: the same rows give the same intervals.
    """
    cross = sf[(sf["kind"] == "cross-lingual") & ~sf["finetuned"]] if not sf.empty else sf
    if cross.empty:
        return pd.DataFrame(), pd.DataFrame()
    rng = np.random.default_rng(seed)
    curves: list[pd.DataFrame] = []
    summary: list[dict[str, object]] = []
    for model in sorted(set(cross["model"])):
        by_model = cross[cross["model"] == model]
        for measure in measure_order(list(set(by_model["metric"]))):
            one = _one_measure(by_model[by_model["metric"] == measure], n_boot, rng)
            if one is not None:
                curve, row = one
                curves.append(curve.assign(model=model, measure=measure)[
                    ["model", "measure", "layer", "value", "null_mean", "normalised"]])
                summary.append({"model": model, "measure": measure, **row})
    if not summary:
        return pd.DataFrame(), pd.DataFrame()
    return pd.concat(curves, ignore_index=True), pd.DataFrame(summary)


def _one_measure(g: pd.DataFrame, n_boot: int, rng: np.random.Generator,
                 ) -> tuple[pd.DataFrame, dict[str, object]] | None:
    """One model's and measure's curve and summary row (None without a complete target)."""
    values = g.pivot_table(index="target", columns="layer", values="value",
                           aggfunc="mean").dropna()
    if values.empty:
        return None
    has_null = bool(g["null_mean"].notna().any())
    v = values.to_numpy(dtype=float)
    nn = np.nan_to_num(g.pivot_table(index="target", columns="layer", values="null_mean",
                                     aggfunc="mean").reindex_like(values).to_numpy(dtype=float)) \
        if has_null else np.zeros_like(v)
    layers = [int(c) for c in values.columns]
    mean_v, mean_n = v.mean(0), nn.mean(0)
    excess = mean_v - mean_n
    peak = int(np.argmax(excess))
    top = float(excess[peak])
    curve = pd.DataFrame({"layer": layers, "value": mean_v, "null_mean": mean_n,
                          "normalised": excess / top if top > 0
                          else np.full_like(excess, np.nan)})
    fall = float(mean_v[peak] - mean_v[-1])
    low, high, stability = _fall_interval(v, nn, peak, n_boot, rng)
    if peak == len(layers) - 1:
        verdict = PEAKS_LAST
    elif math.isnan(low):
        verdict = ONE_TARGET
    else:
        verdict = FALLS if low > 0 else RISES_AT_TOP if high < 0 else NO_CLEAR_FALL
    return curve, {
        "targets": v.shape[0], "peak_layer": layers[peak], "last_layer": layers[-1],
        "peak_excess": top, "fall": fall, "fall_ci_low": low, "fall_ci_high": high,
        "fall_normalised": fall / top if top > 0 else float("nan"),
        "peak_stability": stability, "null": "shuffled pairs" if has_null else "none",
        "verdict": verdict}


def _fall_interval(v: np.ndarray, nn: np.ndarray, peak: int, n_boot: int,
                   rng: np.random.Generator) -> tuple[float, float, float]:
    """(low, high, peak stability) of the fall over resampled targets; NaN with one target."""
    t = v.shape[0]
    if t < 2 or n_boot <= 0:
        return float("nan"), float("nan"), float("nan")
    idx = rng.integers(0, t, size=(n_boot, t))
    vb = v[idx].mean(1)
    peaks = np.argmax(vb - nn[idx].mean(1), axis=1)
    falls = vb[np.arange(n_boot), peaks] - vb[:, -1]
    # np.percentile at exactly 2.5/97.5: core.stats' level arithmetic differs in the last bits
    low, high = (float(q) for q in np.percentile(falls, [2.5, 97.5]))
    return low, high, float(np.mean(peaks == peak))


def finetuned_alignment(sf: pd.DataFrame, measure: str) -> pd.DataFrame:
    """Cross-lingual ``measure`` of the fine-tuned models by task, re-init group and layer (mean
    over targets and seeds; ``seeds`` and ``targets`` say over how many), beside the pretrained
    curve (task ``pretrained``, group ``-``): does re-initialising the low blocks change the
    fine-tuned model's alignment?"""
    cols = ["task", "reinit", "layer", "value", "seeds", "targets"]
    if sf.empty:
        return pd.DataFrame(columns=cols)
    cross = sf[(sf["kind"] == "cross-lingual") & (sf["metric"] == measure)]
    if not cross["finetuned"].any():
        return pd.DataFrame(columns=cols)
    cross = cross.assign(task=cross["task"].fillna("pretrained"),
                         reinit=cross["reinit"].fillna("REF").where(cross["finetuned"], "-"),
                         seed=cross["seed"].fillna(-1))
    out = cross.groupby(["task", "reinit", "layer"]).agg(
        value=("value", "mean"), seeds=("seed", "nunique"),
        targets=("target", "nunique")).reset_index()
    return out[cols]
