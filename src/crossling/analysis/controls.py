"""The random-weights control beside the pretrained model: how much of the alignment the
architecture and the shared sub-words give alone.

A control's rows are the pretrained passes' rows (similarity, retrieval, probe) of the
model's architecture with fresh weights; they carry ``provenance["random_weights"]``
(`crossling.models.random_weights`). Per layer, the pretrained value and the mean, standard
deviation and range over the control's init seeds of three quantities, each a mean over the
target languages: cross-lingual similarity (the reported measure), retrieval P@1 (cosine, both
directions) and probe accuracy (zero-shot UPOS).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import pandas as pd

from crossling.models.random_weights import CONTROL_KEY
from crossling.results import CrossLingualRow, ProbeRow, RetrievalRow, ScoreRow, SimilarityRow
from crossling.retrieval.metrics import RETRIEVAL_METRICS

R = TypeVar("R", ScoreRow, SimilarityRow)

RETRIEVAL_VARIANT = "cosine"
"""The retrieval scoring the control table shows (the CLI's default one)."""

COLUMNS = ["model", "quantity", "layer", "pretrained", "random_mean", "random_sd",
           "random_min", "random_max", "n_seeds", "seeds"]
"""The columns of `control_frame` (controls.csv)."""


def control_of(row: ScoreRow | SimilarityRow) -> dict[str, Any] | None:
    """The control record of a control's row (init seed, pretrained model), None for any
    other row."""
    record = row.provenance.get(CONTROL_KEY) if isinstance(row.provenance, dict) else None
    return record if isinstance(record, dict) and {"seed", "of"} <= set(record) else None


def split_control_rows(rows: Sequence[R]) -> tuple[list[R], list[R]]:
    """(the controls' rows, the others): no analysis of a pretrained or fine-tuned model
    may count a control's rows as its own."""
    control = [r for r in rows if control_of(r) is not None]
    return control, [r for r in rows if control_of(r) is None]


def _quantity(row: ScoreRow | SimilarityRow, measure: str) -> str | None:
    """The table's quantity a row is a value of, None when it is of none."""
    if isinstance(row, CrossLingualRow) and row.metric == measure and row.task is None:
        return measure
    if isinstance(row, RetrievalRow) and \
            RETRIEVAL_METRICS.get(row.metric, ("",))[0] == RETRIEVAL_VARIANT:
        return f"retrieval P@1 ({RETRIEVAL_VARIANT})"
    if isinstance(row, ProbeRow) and row.metric == "upos_acc" and row.language != row.source:
        return "probe accuracy (targets)"
    return None


def _values(rows: Sequence[ScoreRow | SimilarityRow], measure: str) -> pd.DataFrame:
    """Per row that enters the table: model, quantity, layer, the init seed (-1 for the
    pretrained model) and the value."""
    records = []
    for r in rows:
        quantity, layer = _quantity(r, measure), getattr(r, "layer", None)
        if quantity is None or layer is None:  # a probe's majority baseline has no layer
            continue
        record = control_of(r)
        records.append({"model": r.model if record is None else str(record["of"]),
                        "quantity": quantity, "layer": int(layer),
                        "seed": -1 if record is None else int(record["seed"]),
                        "value": float(r.value)})
    return pd.DataFrame.from_records(records,
                                     columns=["model", "quantity", "layer", "seed", "value"])


def control_frame(rows: Sequence[ScoreRow | SimilarityRow], measure: str) -> pd.DataFrame:
    """Per model, quantity and layer: the pretrained value and the controls' mean, SD (ddof
    1; NaN for one seed), min and max over init seeds, each value a mean over targets. Empty
    when ``rows`` hold no control's row."""
    values = _values(rows, measure)
    if not (values["seed"] >= 0).any():
        return pd.DataFrame(columns=COLUMNS)
    keys = ["model", "quantity", "layer"]
    # one value per model, quantity, layer and seed: the mean over targets (and directions)
    per = values.groupby([*keys, "seed"], as_index=False)["value"].mean()
    pretrained = per[per["seed"] == -1].set_index(keys)["value"]
    random = per[per["seed"] != -1]
    stats = random.groupby(keys)["value"].agg(["mean", "std", "min", "max", "count"])
    seeds = random.groupby(keys)["seed"].agg(lambda s: " ".join(str(int(k)) for k in sorted(s)))
    out = pd.DataFrame({"pretrained": pretrained.reindex(stats.index),
                        "random_mean": stats["mean"], "random_sd": stats["std"],
                        "random_min": stats["min"], "random_max": stats["max"],
                        "n_seeds": stats["count"].astype(int), "seeds": seeds})
    order = {q: i for i, q in enumerate(sorted(set(out.index.get_level_values("quantity")),
                                               key=_quantity_order))}
    out = out.reset_index()
    out = out.sort_values(["model", "quantity", "layer"],
                          key=lambda c: c.map(order) if c.name == "quantity" else c)
    return out[COLUMNS].reset_index(drop=True)


def _quantity_order(quantity: str) -> tuple[int, str]:
    """Similarity first, then retrieval, then the probe."""
    rank = 2 if quantity.startswith("probe") else 1 if quantity.startswith("retrieval") else 0
    return rank, quantity
