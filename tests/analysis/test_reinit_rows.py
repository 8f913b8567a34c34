"""Rows of re-init models, seed-seed and weight-change rows stay out of REF's curves."""

from __future__ import annotations

import math

from crossling.analysis.correlate import pretrained_vs_finetuned
from crossling.analysis.frames import ref_models, similarity_frame
from crossling.results import SimilarityRow


def _row(kind: str, value: float, reinit: str | None, **kw: object) -> SimilarityRow:
    record = dict(kind=kind, source="fr", target="fr", layer=1, metric="linear_cka",
                  value=value, ci_low=value, ci_high=value, null_mean=0.1, null_high=0.2, n=10,
                  pooling="mean", model="m", compare_model="m+pos", task="pos", seed=0,
                  finetune_cell="c", reinit=reinit, **kw)
    if kind == "weight-change":
        record.update(compare_model=None, ci_low=math.nan, ci_high=math.nan,
                      null_mean=math.nan, null_high=math.nan, n=0, pooling="-")
    return SimilarityRow.from_record(record)


def test_pretrained_vs_finetuned_reads_ref_models_only() -> None:
    legacy = _row("model-model", 0.9, None)  # a REF row of an older version: no reinit
    rows = [legacy, _row("model-model", 0.7, "REF"), _row("model-model", 0.1, "1-2"),
            _row("seed-seed", 0.5, "REF", compare_seed=1),
            _row("weight-change", 0.01, "REF")]
    frame = similarity_frame(rows)
    assert list(frame["compare_seed"].dropna()) == [1]
    assert len(ref_models(frame)) == 4
    table = pretrained_vs_finetuned(frame, "linear_cka")
    assert len(table) == 1 and math.isclose(table["mean"].iloc[0], 0.8)
