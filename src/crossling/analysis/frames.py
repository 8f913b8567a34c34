"""Result rows as pandas DataFrames, with the fields the analyses group by made explicit.

The grouping keys are typed fields of the rows (:mod:`crossling.results`):

- a score's *source* language: :attr:`ScoreRow.source` (set by
  `crossling.workflows.finetune.run_finetune`); missing -> no row is a source row and the
  source Δ of the RANDOM-INIT table is NaN rather than a guess;
- the fine-tuning *task* and *seed* of a similarity row: :attr:`SimilarityRow.task` /
  :attr:`SimilarityRow.seed` (set by the ``similarity_ft`` cell, with ``finetune_cell``);
  ``task`` None -> the row belongs to the pretrained model (``finetuned`` False).

- the *re-init group* of that fine-tuned model (:attr:`SimilarityRow.reinit`, None for the
  pretrained model and for REF rows of older versions) and, for ``seed-seed`` rows, the second
  model's seed (``compare_seed``). :func:`ref_models` keeps the rows of the pretrained and the
  REF fine-tuned models, which is what the analyses of fine-tuned similarity compare.

Legacy fallback, for rows written before these fields existed only (their fields are None):
the same keys in ``provenance`` (``source``; ``task``/``seed``, which the ``similarity_ft`` cell
has always recorded there). The pretrained cells record a bootstrap ``seed`` in their
provenance but never a ``task``, so ``seed`` alone never marks a fine-tuned row. Encoder names
are not parsed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from crossling.results import ScoreRow, SimilarityRow

SCORE_COLUMNS = ["task", "language", "metric", "value", "ci_low", "ci_high", "n_sentences",
                 "n_units", "model", "reinit", "seed", "source", "is_source"]
SIMILARITY_COLUMNS = ["kind", "source", "target", "layer", "metric", "value", "ci_low", "ci_high",
                      "null_mean", "null_high", "n", "pooling", "model", "compare_model", "task",
                      "seed", "finetune_cell", "finetuned", "reinit", "compare_seed"]

SIMILARITY_KINDS = ("cross-lingual", "model-model")
"""Kinds of rows that compare two sets of vectors of one model pair on the same sentences;
``seed-seed`` (two REF models of one task) and ``weight-change`` (no vectors) have their own
analyses."""


def scores_frame(rows: Sequence[ScoreRow]) -> pd.DataFrame:
    """One row per score, with ``source`` (the run's source test set) and ``is_source``."""
    records = []
    for r in rows:
        source = r.source if r.source is not None else r.provenance.get("source")  # legacy
        records.append({"task": r.task, "language": r.language, "metric": r.metric,
                        "value": r.value, "ci_low": r.ci_low, "ci_high": r.ci_high,
                        "n_sentences": r.n_sentences, "n_units": r.n_units, "model": r.model,
                        "reinit": str(r.reinit), "seed": r.seed, "source": source,
                        "is_source": source is not None and r.language == source})
    df = pd.DataFrame.from_records(records, columns=SCORE_COLUMNS)
    df["is_source"] = df["is_source"].astype(bool)
    return df


def without_other_source_sets(scores: pd.DataFrame) -> pd.DataFrame:
    """:func:`scores_frame` rows less the *other* test sets of the source language (e.g.
    Universal NER's en_pud beside WikiANN en, the NER source): they are neither the source
    score nor a target, and every analysis that averages "the targets" must leave them out
    (Table 1 still shows them)."""
    if scores.empty:
        return scores
    source_code = scores["source"].map(lambda s: language_code(str(s)) if s is not None
                                       else None)
    return scores[scores["is_source"] | (scores["language"].map(language_code) != source_code)]


def finetuning_of(row: SimilarityRow) -> tuple[str | None, int | None]:
    """(task, seed) of the fine-tuned model a similarity row measured; (None, None) if none.

    Reads the row's fields; only a row with none of them set (written by an older version)
    is looked up in its provenance's ``task``/``seed`` keys.
    """
    if row.task is not None or row.finetune_cell is not None:
        return row.task, row.seed
    task: Any = row.provenance.get("task")  # legacy rows: the cell's provenance tag
    if task is None:
        return None, None
    seed = row.provenance.get("seed")
    return str(task), None if seed is None else int(seed)


def similarity_frame(rows: Sequence[SimilarityRow]) -> pd.DataFrame:
    """One row per similarity value; ``task``/``seed``/``finetune_cell``/``finetuned`` say which
    fine-tuned model (if any) the value describes."""
    records = []
    for r in rows:
        task, seed = finetuning_of(r)
        cell = r.finetune_cell
        if cell is None and r.task is None:  # legacy rows: the cell's provenance tag
            cell = r.provenance.get("finetune_cell")
        records.append({"kind": r.kind, "source": r.source, "target": r.target,
                        "layer": int(r.layer), "metric": r.metric, "value": r.value,
                        "ci_low": r.ci_low, "ci_high": r.ci_high, "null_mean": r.null_mean,
                        "null_high": r.null_high, "n": r.n, "pooling": r.pooling,
                        "model": r.model, "compare_model": r.compare_model,
                        "task": task, "seed": seed, "finetune_cell": cell,
                        "finetuned": task is not None, "reinit": r.reinit,
                        "compare_seed": r.compare_seed})
    df = pd.DataFrame.from_records(records, columns=SIMILARITY_COLUMNS)
    df["finetuned"] = df["finetuned"].astype(bool)
    return df


def is_ref_model(row: SimilarityRow) -> bool:
    """The row measured the pretrained model or a REF fine-tuned one (no re-init group)."""
    return row.reinit is None or row.reinit.upper() == "REF"


def ref_models(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of :func:`similarity_frame` of the pretrained and REF fine-tuned models."""
    if "reinit" not in frame.columns:
        return frame
    keep = frame["reinit"].isna() | (frame["reinit"].astype(str).str.upper() == "REF")
    return frame[keep]


def language_code(label: str) -> str:
    """``fr`` from ``fr``, ``fr_pud`` or ``fr_gsd``: joins similarity targets and score labels."""
    return label.split("_", 1)[0].split(":", 1)[0]
