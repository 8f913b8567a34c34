"""Probing rows as frames: accuracy by layer per language, and the best layer per language.

Probing rows (`crossling.probing`) are `ScoreRow` s of
task ``probe_pos`` with a ``layer``; they share the score table with fine-tuning scores, so
every analysis of fine-tuning must leave them out (`split_probe_rows`) and the report
shows them in their own section. No drawing here (the figure is
`crossling.report.probing.plot_probe`).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from crossling.results import ProbeRow, ScoreRow

PROBE_COLUMNS = ["language", "layer", "metric", "value", "ci_low", "ci_high", "n_sentences",
                 "n_units", "model", "seed", "source", "is_source"]


def split_probe_rows(rows: Sequence[ScoreRow]) -> tuple[list[ProbeRow], list[ScoreRow]]:
    """(probing rows, every other score row)."""
    probe = [r for r in rows if isinstance(r, ProbeRow)]
    return probe, [r for r in rows if not isinstance(r, ProbeRow)]


def probe_frame(rows: Sequence[ScoreRow]) -> pd.DataFrame:
    """One row per probing score; ``layer`` is NaN for the majority baseline."""
    records = [{"language": r.language, "layer": r.layer, "metric": r.metric, "value": r.value,
                "ci_low": r.ci_low, "ci_high": r.ci_high, "n_sentences": r.n_sentences,
                "n_units": r.n_units, "model": r.model, "seed": r.seed, "source": r.source,
                "is_source": r.source is not None and r.language == r.source}
               for r in rows if isinstance(r, ProbeRow)]
    df = pd.DataFrame.from_records(records, columns=PROBE_COLUMNS)
    df["layer"] = df["layer"].astype("float64")  # None -> NaN, whichever rows are present
    df["is_source"] = df["is_source"].astype(bool)
    return df


def language_order(frame: pd.DataFrame) -> list[str]:
    """Languages of a probe frame, the source first, then the targets alphabetically."""
    source = sorted(set(frame.loc[frame["is_source"], "language"]))
    return source + sorted(set(frame["language"]) - set(source))


def layer_table(frame: pd.DataFrame, metric: str = "upos_acc") -> pd.DataFrame:
    """Layers x languages table of ``metric`` (mean over models/seeds if there are several),
    with a last row ``majority`` holding each language's majority baseline."""
    sub = frame[frame["metric"] == metric].dropna(subset=["layer"])
    if sub.empty:
        return pd.DataFrame()
    table = sub.pivot_table(index="layer", columns="language", values="value", aggfunc="mean")
    table.index = table.index.astype(int)
    majority = frame[frame["metric"] == "majority_acc"].groupby("language")["value"].mean()
    if not majority.empty:
        table.loc["majority"] = majority.reindex(table.columns)
    table = table[[c for c in language_order(frame) if c in table.columns]]
    table.columns.name = None
    return table


def _at(frame: pd.DataFrame, language: str, metric: str, layer: int | None,
        ) -> tuple[float, float, float]:
    sub = frame[(frame["language"] == language) & (frame["metric"] == metric)]
    sub = sub[sub["layer"].isna()] if layer is None else sub[sub["layer"] == layer]
    if sub.empty:
        return float("nan"), float("nan"), float("nan")
    mean = sub[["value", "ci_low", "ci_high"]].mean()
    return float(mean["value"]), float(mean["ci_low"]), float(mean["ci_high"])


def best_layers(frame: pd.DataFrame) -> pd.DataFrame:
    """Per language (source first): the layer with the highest probe accuracy and, there, the
    accuracy, control accuracy and selectivity with their intervals; the majority baseline;
    and the accuracy at the *source's* best layer (a layer chosen without the target's labels).

    The best layer is selected on the very test set it is reported on, so its accuracy is
    optimistic; the source-layer column is the unselected alternative.
    """
    acc = frame[(frame["metric"] == "upos_acc")].dropna(subset=["layer"])
    if acc.empty:
        return pd.DataFrame()
    means = acc.groupby(["language", "layer"])["value"].mean()
    order = language_order(acc)
    src = [lang for lang in order if bool(acc.loc[acc["language"] == lang, "is_source"].any())]
    src_layer = int(means[src[0]].idxmax()) if src else None
    records = []
    for lang in order:
        layer = int(means[lang].idxmax())
        rec: dict[str, object] = {"language": lang, "role": "source" if lang in src else "target",
                                  "best_layer": layer}
        for metric, name in (("upos_acc", "acc"), ("control_acc", "control"),
                             ("selectivity", "selectivity")):
            rec[name], rec[f"{name}_low"], rec[f"{name}_high"] = _at(frame, lang, metric, layer)
        rec["majority"], rec["majority_low"], rec["majority_high"] = \
            _at(frame, lang, "majority_acc", None)
        rec["source_layer"] = src_layer
        if src_layer is not None:
            rec["acc_at_source_layer"], rec["acc_at_source_layer_low"], \
                rec["acc_at_source_layer_high"] = _at(frame, lang, "upos_acc", src_layer)
        records.append(rec)
    return pd.DataFrame.from_records(records)


def probe_settings(rows: Sequence[ScoreRow]) -> pd.DataFrame:
    """The settings the probing numbers depend on, from the rows' provenance (several values:
    the rows come from runs that differ, look before comparing)."""
    items: dict[str, set[str]] = {}

    def add(label: str, value: object) -> None:
        if value is not None:
            items.setdefault(label, set()).add(str(value))

    for r in rows:
        if not isinstance(r, ProbeRow):
            continue
        p = r.provenance
        add("model", r.model)
        add("training set", p.get("source_train"))
        add("training sentences", p.get("n_train_sentences"))
        add("training words", p.get("n_train_words"))
        add("majority tag", p.get("majority_tag"))
        settings = p.get("probe") or {}
        add("L2 penalty", settings.get("l2"))
        add("L-BFGS iterations (max)", settings.get("max_iter"))
        add("seed (control task, bootstrap)", r.seed)
        add("interval", p.get("ci"))
    return pd.DataFrame([{"setting": k, "value": ", ".join(sorted(v))} for k, v in items.items()],
                        columns=["setting", "value"])
