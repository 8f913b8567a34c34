"""Result rows as pandas DataFrames, with the fields the analyses group by made explicit.

The rows do not carry every grouping key as a field; some live in ``provenance``. The lookups
below are the one place that knows where, so that every analysis agrees:

- a score's *source* language: ``provenance["source"]`` (set by
  :func:`crossling.training.finetune.run_finetune`); missing -> no row is a source row and the
  source Δ of the RANDOM-INIT table is NaN rather than a guess;
- the fine-tuning *task* and *seed* of a similarity row: ``provenance["task"]``/``["seed"]``
  (set by the ``similarity_ft`` cell), else parsed from a fine-tuned encoder name
  ``<model>+<task>-seed<N>``;
  neither -> the row belongs to the pretrained model (``task`` is None, ``finetuned`` False).
  The pretrained cells also record ``seed`` (of their bootstrap), so ``seed`` alone never marks a
  fine-tuned row.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import pandas as pd

from crossling.results import ScoreRow, SimilarityRow

SCORE_COLUMNS = ["task", "language", "metric", "value", "ci_low", "ci_high", "n_sentences",
                 "n_units", "model", "reinit", "seed", "source", "is_source"]
SIMILARITY_COLUMNS = ["kind", "source", "target", "layer", "metric", "value", "ci_low", "ci_high",
                      "null_mean", "null_high", "n", "pooling", "model", "compare_model", "task",
                      "seed", "finetuned"]
_TUNED_NAME = re.compile(r"\+(?P<task>[A-Za-z0-9_]+)-seed(?P<seed>\d+)$")


def scores_frame(rows: Sequence[ScoreRow]) -> pd.DataFrame:
    """One row per score, with ``source`` (the run's source test set) and ``is_source``."""
    records = []
    for r in rows:
        source = r.provenance.get("source")
        records.append({"task": r.task, "language": r.language, "metric": r.metric,
                        "value": r.value, "ci_low": r.ci_low, "ci_high": r.ci_high,
                        "n_sentences": r.n_sentences, "n_units": r.n_units, "model": r.model,
                        "reinit": str(r.reinit), "seed": r.seed, "source": source,
                        "is_source": source is not None and r.language == source})
    df = pd.DataFrame.from_records(records, columns=SCORE_COLUMNS)
    df["is_source"] = df["is_source"].astype(bool)
    return df


def finetuning_of(row: SimilarityRow) -> tuple[str | None, int | None]:
    """(task, seed) of the fine-tuned model a similarity row measured; (None, None) if none."""
    task: Any = row.provenance.get("task")
    if task is not None:
        seed = row.provenance.get("seed")
        return str(task), None if seed is None else int(seed)
    for name in (row.compare_model, row.model):
        m = _TUNED_NAME.search(name or "")
        if m:
            return m["task"], int(m["seed"])
    return None, None


def similarity_frame(rows: Sequence[SimilarityRow]) -> pd.DataFrame:
    """One row per similarity value; ``task``/``seed``/``finetuned`` say which fine-tuned model
    (if any) the value describes."""
    records = []
    for r in rows:
        task, seed = finetuning_of(r)
        records.append({"kind": r.kind, "source": r.source, "target": r.target,
                        "layer": int(r.layer), "metric": r.metric, "value": r.value,
                        "ci_low": r.ci_low, "ci_high": r.ci_high, "null_mean": r.null_mean,
                        "null_high": r.null_high, "n": r.n, "pooling": r.pooling,
                        "model": r.model, "compare_model": r.compare_model,
                        "task": task, "seed": seed, "finetuned": task is not None})
    df = pd.DataFrame.from_records(records, columns=SIMILARITY_COLUMNS)
    df["finetuned"] = df["finetuned"].astype(bool)
    return df


def language_code(label: str) -> str:
    """``fr`` from ``fr``, ``fr_pud`` or ``fr_gsd``: joins similarity targets and score labels."""
    return label.split("_", 1)[0].split(":", 1)[0]
