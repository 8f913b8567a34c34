"""Result rows as pandas DataFrames, with the fields the analyses group by made explicit."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from crossling.results import ScoreRow, SimilarityRow


def scores_frame(rows: Sequence[ScoreRow]) -> pd.DataFrame:
    """One row per score, with ``source`` (the run's source test set) and ``is_source``."""
    records = []
    for r in rows:
        source = r.provenance.get("source")
        records.append({"task": r.task, "language": r.language, "metric": r.metric,
                        "value": r.value, "ci_low": r.ci_low, "ci_high": r.ci_high,
                        "n_sentences": r.n_sentences, "model": r.model, "reinit": r.reinit,
                        "seed": r.seed, "source": source, "is_source": r.language == source})
    return pd.DataFrame.from_records(records, columns=[
        "task", "language", "metric", "value", "ci_low", "ci_high", "n_sentences", "model",
        "reinit", "seed", "source", "is_source"])


def similarity_frame(rows: Sequence[SimilarityRow]) -> pd.DataFrame:
    """One row per similarity value; ``task``/``seed`` are set for fine-tuned models' rows."""
    records = []
    for r in rows:
        records.append({"kind": r.kind, "source": r.source, "target": r.target,
                        "layer": r.layer, "metric": r.metric, "value": r.value,
                        "ci_low": r.ci_low, "ci_high": r.ci_high, "null_mean": r.null_mean,
                        "null_high": r.null_high, "n": r.n, "pooling": r.pooling,
                        "model": r.model, "compare_model": r.compare_model,
                        "task": r.provenance.get("task"), "seed": r.provenance.get("seed")})
    return pd.DataFrame.from_records(records, columns=[
        "kind", "source", "target", "layer", "metric", "value", "ci_low", "ci_high",
        "null_mean", "null_high", "n", "pooling", "model", "compare_model", "task", "seed"])


def language_code(label: str) -> str:
    """``fr`` from ``fr``, ``fr_pud`` or ``fr_gsd``: joins similarity targets and score labels."""
    return label.split("_", 1)[0].split(":", 1)[0]
