"""The report's tables as pandas DataFrames (rendered to Markdown and HTML by `report.render`).

Numbers stay numbers where a reader sorts or compares them; an estimate with its interval is one
formatted cell, ``12.34 [11.00, 13.70]``, as in papers. Each builder says which of the paper's
propositions (P2-P6, listed in docs/reproduction/README.md) it answers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from crossling.analysis.deltas import group_order, mean_ci
from crossling.analysis.frames import language_code, similarity_frame
from crossling.results import SimilarityRow


def similarity_table(rows: Sequence[SimilarityRow], measure: str) -> pd.DataFrame:
    """Layers x targets table of one measure; a last row gives each target's shuffled null."""
    df = similarity_frame(rows)
    df = df[df["metric"] == measure]
    table = df.pivot_table(index="layer", columns="target", values="value", aggfunc="first")
    null = df.pivot_table(index="layer", columns="target", values="null_mean", aggfunc="first")
    table.loc["null (mean)"] = null.mean(axis=0)
    table.columns.name = None
    return table


def fmt_ci(value: float, low: float, high: float, digits: int = 2) -> str:
    """``v [lo, hi]``; ``v`` alone when the interval is undefined; ``–`` when v is."""
    if value is None or math.isnan(value):
        return "–"
    if low is None or high is None or math.isnan(low) or math.isnan(high):
        return f"{value:.{digits}f}"
    return f"{value:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def _role(g: pd.DataFrame, lang: str) -> str:
    """``source``, ``source (other set)`` for another test set of the source language (Universal
    NER's en_pud beside WikiANN en: neither the source score nor a target of any Δ,
    `crossling.analysis.frames.without_other_source_sets`), else ``target``."""
    if bool(g["is_source"].any()):
        return "source"
    source = g["source"].dropna()
    if len(source) and language_code(lang) == language_code(str(source.iloc[0])):
        return "source (other set)"
    return "target"


def ref_table(scores: pd.DataFrame) -> pd.DataFrame:
    """Table 1: REF zero-shot score per task, metric and language, source first.

    ``score`` is the mean over seeds; ``95% CI (sentences)`` the per-seed bootstrap bounds over
    sentences averaged over seeds (sampling uncertainty of the test set); ``95% CI (seeds)`` a
    t-interval across seeds (training uncertainty; needs 2 seeds).
    """
    ref = scores[scores["reinit"].str.upper() == "REF"]
    rows = []
    for (task, metric, lang), g in ref.groupby(["task", "metric", "language"]):
        per_seed = g.groupby("seed")[["value", "ci_low", "ci_high"]].mean()
        mean, lo, hi = mean_ci(per_seed["value"].to_numpy())
        rows.append({"task": task, "metric": metric, "language": lang,
                     "role": _role(g, str(lang)),
                     "score": mean,
                     "95% CI (sentences)": fmt_ci(mean, float(per_seed["ci_low"].mean()),
                                                  float(per_seed["ci_high"].mean()), 1),
                     "95% CI (seeds)": fmt_ci(mean, lo, hi, 1),
                     "seeds": len(per_seed), "sentences": int(g["n_sentences"].max())})
    out = pd.DataFrame(rows)
    if not out.empty:
        out = out.sort_values(["task", "metric", "role", "language"]).reset_index(drop=True)
    return out


def delta_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Table 2 (P2, P3): per re-init group, source Δ vs mean target Δ and their gap, each with a
    95% t-interval across seeds (descriptive: the P2 test is the pre-registered contrast)."""
    if summary.empty:
        return summary
    return pd.DataFrame({
        "task": summary["task"], "metric": summary["metric"], "re-init": summary["reinit"],
        "seeds": summary["seeds"],
        "Δ source": [fmt_ci(*v) for v in zip(summary["source_delta"], summary["source_ci_low"],
                                             summary["source_ci_high"], strict=True)],
        "Δ targets (mean)": [fmt_ci(*v) for v in zip(summary["target_delta"],
                                                     summary["target_ci_low"],
                                                     summary["target_ci_high"], strict=True)],
        "gap (targets − source)": [fmt_ci(*v) for v in zip(summary["gap"], summary["gap_ci_low"],
                                                           summary["gap_ci_high"], strict=True)],
        "n targets": summary["n_targets"], "note": summary["note"]})


def contrast_table(contrasts: pd.DataFrame) -> pd.DataFrame:
    """Table P2: the gaps and contrasts (`crossling.analysis.crossed.p2_contrasts`), contrasts
    first, with every interval, Holm p and the per-seed values."""
    c = contrasts.assign(_kind=contrasts["kind"].map({"contrast": 0, "gap": 1}),
                         _group=contrasts["reinit"].map(lambda g: group_order(str(g))[0]))
    c = c.sort_values(["task", "metric", "_kind", "_group"])
    return pd.DataFrame({
        "task": c["task"], "metric": c["metric"],
        "estimate": [f"gap({g}) − gap({v})" if k == "contrast" else f"gap({g})"
                     for g, v, k in zip(c["reinit"], c["versus"], c["kind"], strict=True)],
        "value [95% boot]": [fmt_ci(*v) for v in zip(c["estimate"], c["boot_low"],
                                                      c["boot_high"], strict=True)],
        "95% t (seeds)": [fmt_ci(*v) for v in zip(c["estimate"], c["t_low"], c["t_high"],
                                                  strict=True)],
        **({"95% crossed vc (decision)": [fmt_ci(*v) for v in zip(
            c["estimate"], c["vc_low"], c["vc_high"], strict=True)],
            "p (crossed, Holm)": [fmt_p(p) for p in c["p_crossed_holm"]]}
           if "vc_low" in c else {}),
        "p (t)": [fmt_p(p) for p in c["p_value"]], "p (Holm)": [fmt_p(p) for p in c["p_holm"]],
        **({"Holm family": c["holm_family"]} if "holm_family" in c else {}),
        "per seed": [", ".join(f"{v:.2f}" for v in vals) for vals in c["seed_values"]],
        "seeds": c["n_seeds"], "targets": c["n_targets"], "note": c["note"]})


def p6_table(perm: pd.DataFrame) -> pd.DataFrame:
    """Table P6: per task, test set and layer, ρ with its permutation, layer-corrected and
    partial p; a side test set (not judged) is labelled so."""
    sets = perm["test_set"] if "test_set" in perm else pd.Series("", index=perm.index)
    judged = perm["judged"] if "judged" in perm else pd.Series(True, index=perm.index)
    return pd.DataFrame({
        "task": perm["task"], "metric": perm["metric"],
        "test set": [f"{t}" if j else f"{t} (side table, not judged)"
                     for t, j in zip(sets, judged, strict=True)],
        "layer": perm["layer"],
        "ρ": perm["rho"], "p": [fmt_p(p) for p in perm["p_raw"]],
        "p (layer-corrected)": [fmt_p(p) for p in perm["p_max"]],
        "partial ρ (typology)": perm["partial_rho"],
        "p (partial)": [fmt_p(p) for p in perm["partial_p"]],
        "languages": perm["n_languages"],
        "permutations": ["exact" if e else str(n) for e, n in
                         zip(perm["exact"], perm["n_permutations"], strict=True)]})


def p6_confounds_table(conf: pd.DataFrame) -> pd.DataFrame:
    """P6 confounds per task and layer: ρ, partial ρ given all covariates with its p (raw and
    layer-corrected), the single partials, leave-one-family-out range, R² and power."""
    from crossling.analysis.confounds import survives_confounds

    def rng(lo: float, hi: float) -> str:
        return "–" if math.isnan(lo) or math.isnan(hi) else f"{lo:.2f} to {hi:.2f}"

    return pd.DataFrame({
        "task": conf["task"], "layer": conf["layer"], "ρ": conf["rho"],
        "partial ρ (all)": conf["partial_rho_all"],
        "p (all)": [fmt_p(p) for p in conf["partial_p_all"]],
        "p (all, layer-corrected)": [fmt_p(p) for p in conf["partial_p_all_max"]],
        "partial ρ (syntax)": conf["partial_rho_syntax_distance"],
        "partial ρ (overlap)": conf["partial_rho_subword_overlap"],
        "partial ρ (script)": conf["partial_rho_same_script"],
        "ρ leaving a family out": [rng(*v) for v in zip(conf["lo_family_min"],
                                                         conf["lo_family_max"], strict=True)],
        "R² (similarity)": conf["r2_similarity"],
        "|ρ| at 80% power (all)": conf["mdr80_all"],
        "survives": ["–" if (v := survives_confounds(r)) is None else ("yes" if v else "no")
                     for r in conf.to_dict("records")],
        "languages": conf["n_partial"]})


def fmt_p(p: float) -> str:
    """A p-value with 3 significant digits (0.03125 -> 0.0312); ``–`` when undefined."""
    return "–" if p is None or math.isnan(p) else f"{p:.3g}"


def appendix_tables(d: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """Per (task, metric): Δ vs REF for each group (rows) and language (columns, source first),
    mean over seeds, with the mean over targets last (the paper's per-language appendix)."""
    out = []
    for (task, metric), g in d.groupby(["task", "metric"]):
        table = g.pivot_table(index="reinit", columns="language", values="delta",
                              aggfunc="mean")
        sources = sorted(set(g[g["is_source"]]["language"]))
        targets = sorted(c for c in table.columns if c not in sources)
        table = table.loc[sorted(table.index, key=group_order), sources + targets]
        table["targets (mean)"] = table[targets].mean(axis=1)
        table = table.rename(columns={s: f"{s} (source)" for s in sources})
        table.columns.name = None
        out.append((f"{task} · {metric}", table.reset_index().rename(
            columns={"reinit": "re-init"})))
    return out


def correlation_table(corr: pd.DataFrame) -> pd.DataFrame:
    """Table 3 (P6): layers (rows) x (task/metric, pretrained or fine-tuned) (columns) of
    ``rho [95% bootstrap CI]`` for one measure; n languages in the column name."""
    if corr.empty:
        return pd.DataFrame()
    cols: dict[str, pd.Series] = {}
    for (task, metric, tuned), g in corr.groupby(["task", "metric", "finetuned"]):
        n = int(g["n_languages"].max())
        name = f"{task} {metric} ({'fine-tuned' if tuned else 'pretrained'}, n={n})"
        cols[name] = pd.Series([fmt_ci(*v) for v in zip(g["rho"], g["ci_low"], g["ci_high"],
                                                        strict=True)], index=g["layer"])
    table = pd.DataFrame(cols)
    table.index.name = "layer"
    return table.reset_index()


def probe_table(best: pd.DataFrame) -> pd.DataFrame:
    """Probing summary per language (`crossling.analysis.probing.best_layers`): the best
    layer with its accuracy, selectivity and control accuracy, each ``v [95% CI]``; the
    majority baseline; the accuracy at the source's best layer (not selected on the target)."""
    if best.empty:
        return pd.DataFrame()

    def col(name: str) -> list[str]:
        return [fmt_ci(*v, digits=1) for v in zip(best[name], best[f"{name}_low"],
                                                   best[f"{name}_high"], strict=True)]

    table = pd.DataFrame({"language": best["language"], "role": best["role"],
                          "best layer": best["best_layer"], "accuracy": col("acc"),
                          "selectivity": col("selectivity"), "control task": col("control"),
                          "majority": col("majority")})
    if "acc_at_source_layer" in best:
        layer = best["source_layer"].iloc[0]
        table[f"accuracy at layer {layer} (source's best)"] = col("acc_at_source_layer")
    return table


def robustness_table(summary: pd.DataFrame) -> pd.DataFrame:
    """The robustness of the alignment curve (`crossling.analysis.alignment.
    alignment_robustness`), one row per model and measure."""
    if summary.empty:
        return summary
    table = pd.DataFrame({
        "measure": summary["measure"], "peak layer": summary["peak_layer"],
        "top fall (peak − last) [95% CI]": [
            fmt_ci(*v, digits=3) for v in zip(
                summary["fall"], summary["fall_ci_low"], summary["fall_ci_high"], strict=True)],
        "fall / (peak − null)": summary["fall_normalised"],
        "peak stability": summary["peak_stability"], "targets": summary["targets"],
        "verdict": summary["verdict"]})
    if summary["model"].nunique() > 1:
        table.insert(0, "model", summary["model"])
    return table


def pretrained_vs_finetuned_table(mm: pd.DataFrame) -> pd.DataFrame:
    """Layer x task means of similarity(pretrained, fine-tuned) and the mean null (P4)."""
    if mm.empty:
        return pd.DataFrame()
    table = mm.pivot_table(index="layer", columns="task", values="mean")
    table.columns = [f"{c} (mean)" for c in table.columns]
    table["null (mean)"] = mm.groupby("layer")["null_mean"].mean()
    return table.reset_index()


def finetuned_alignment_table(tuned: pd.DataFrame) -> pd.DataFrame:
    """Layer x (task, re-init group) of the fine-tuned models' alignment beside the pretrained
    curve (`crossling.analysis.alignment.finetuned_alignment`); empty unless a re-initialised
    group is there besides REF and the pretrained model (P2 and P5)."""
    if tuned.empty or tuned["reinit"].nunique() <= 2:
        return pd.DataFrame()
    table = tuned.pivot_table(index="layer", columns=["task", "reinit"], values="value")
    table.columns = [f"{c[0]} {c[1]}" if c[1] != "-" else str(c[0]) for c in table.columns]
    return table.reset_index()


# train_config key -> settings label (the similarity rows have a max length of their own).
_TRAINING_SETTINGS = {"epochs": "epochs", "batch_size": "batch_size", "lr": "lr",
                      "head_lr": "head_lr", "max_length": "max sub-words (training)"}


def settings_table(sims: pd.DataFrame, scores: pd.DataFrame,
                   prov: Sequence[dict[str, Any]], measure: str) -> pd.DataFrame:
    """The settings every number depends on: the reported measure (debiased linear CKA unless
    the report was asked for another, or the rows lack it), every measure computed, pooling, n,
    bootstrap and null sizes, seeds, tasks, re-init groups and scheme."""
    items: dict[str, set[str]] = {"reported measure": {measure}}
    if not sims.empty:
        items["similarity measures"] = {", ".join(sorted(set(sims["metric"])))}
        items["pooling"] = {str(v) for v in sims["pooling"].unique()}
        items["n sentences (similarity)"] = {str(v) for v in sims["n"].unique()}
    if not scores.empty:
        items["tasks · metrics"] = {", ".join(sorted({f"{t} · {m}" for t, m in zip(
            scores["task"], scores["metric"], strict=True)}))}
        items["seeds"] = {", ".join(str(s) for s in sorted(set(scores["seed"])))}
        items["re-init groups"] = {", ".join(sorted(set(scores["reinit"]), key=group_order))}
        items["n sentences (evaluation)"] = {str(v) for v in sorted(set(scores["n_sentences"]))}
    for p in prov:
        for key in ("n_boot", "n_null", "max_train_sentences", "n_train"):
            if p.get(key) is not None:
                items.setdefault(key, set()).add(str(p[key]))
        if p.get("max_length") is not None:  # a similarity row's sub-word cap
            items.setdefault("max sub-words (similarity)", set()).add(str(p["max_length"]))
        train = p.get("train_config")
        if isinstance(train, dict):  # a fine-tuning row: the recipe its score depends on
            for key, label in _TRAINING_SETTINGS.items():
                if train.get(key) is not None:
                    items.setdefault(label, set()).add(str(train[key]))
        scheme = (p.get("reinit") or {}).get("scheme") if isinstance(p.get("reinit"), dict) \
            else None
        if scheme:
            items.setdefault("re-init scheme", set()).add(str(scheme))
    return pd.DataFrame([{"setting": k, "value": ", ".join(sorted(v))} for k, v in items.items()])


# A fine-tuning row's "pretrained_fingerprint" is taken before RANDOM-INIT (one value per model is
# expected), "after_reinit_fingerprint" as training starts (one per group and seed).
_PROVENANCE_LABELS = {"pretrained_fingerprint": "pretrained weights (before re-init)",
                      "after_reinit_fingerprint": "weights as fine-tuning starts (after re-init)"}


def provenance_table(prov: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Model, weight fingerprints, git commit, device, package versions and the SHA-256 of every
    data file, merged over all rows (several values = the rows disagree: look before trusting)."""
    items: dict[str, set[str]] = {}
    for p in prov:
        for key in ("model", "model_fingerprint", "pretrained_fingerprint",
                    "after_reinit_fingerprint", "git_commit", "device"):
            if p.get(key) is not None:
                items.setdefault(_PROVENANCE_LABELS.get(key, key), set()).add(str(p[key]))
        for name, version in (p.get("versions") or {}).items():
            items.setdefault(f"version: {name}", set()).add(str(version))
        for path, digest in (p.get("data") or {}).items():
            items.setdefault(f"sha256: {Path(path).name}", set()).add(str(digest))
    return pd.DataFrame([{"item": k, "value": ", ".join(sorted(v))}
                         for k, v in sorted(items.items())], columns=["item", "value"])


def control_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The random-weights control per layer (`crossling.analysis.controls.control_frame`): for
    each quantity, the pretrained value and the controls' ``mean ± SD [min, max]`` over init
    seeds; a model column only when there are several models."""
    if frame.empty:
        return pd.DataFrame()
    digits = {True: 1, False: 3}  # accuracies and P@1 are percentages only for the probe

    def spread(r: pd.Series) -> str:
        d = digits[str(r["quantity"]).startswith("probe")]
        sd = "" if math.isnan(r["random_sd"]) else f" ± {r['random_sd']:.{d}f}"
        return f"{r['random_mean']:.{d}f}{sd} [{r['random_min']:.{d}f}, {r['random_max']:.{d}f}]"

    def value(r: pd.Series) -> str:
        d = digits[str(r["quantity"]).startswith("probe")]
        return "–" if math.isnan(r["pretrained"]) else f"{r['pretrained']:.{d}f}"

    cells = frame.assign(pre=frame.apply(value, axis=1), rnd=frame.apply(spread, axis=1))
    index = ["model", "layer"] if frame["model"].nunique() > 1 else ["layer"]
    wide = cells.pivot(index=index, columns="quantity", values=["pre", "rnd"])
    out = pd.DataFrame(index=wide.index)
    quantities = list(dict.fromkeys(frame["quantity"]))
    n = int(frame["n_seeds"].max())
    for q in quantities:
        out[f"{q}: pretrained"] = wide[("pre", q)]
        out[f"{q}: random weights ({n} seeds)"] = wide[("rnd", q)]
    return out.fillna("–").reset_index()
