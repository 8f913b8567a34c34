"""Result rows as pandas DataFrames: the one place rows become frames (analyses and report).

The frames keep the typed fields the analyses group by: a score's ``source`` (``is_source``),
and for a similarity row the ``task``/``seed``/``finetune_cell``/``reinit`` of the fine-tuned
model it measured (``finetuned``: any). Rows of older versions were upgraded when read
(`crossling.results.compat`), so nothing here falls back to provenance keys.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from crossling.results import ScoreRow, SimilarityRow

SCORE_COLUMNS = ["task", "language", "metric", "value", "ci_low", "ci_high", "n_sentences",
                 "n_units", "model", "reinit", "seed", "source", "is_source"]
SENTENCE_COLUMNS = ["task", "metric", "model", "reinit", "seed", "language", "source", "is_source",
                    "sentence", "num", "den", "scale"]
"""The columns of `sentence_frame` (a contract: the statistics that resample sentences read
them)."""
SIMILARITY_COLUMNS = ["kind", "source", "target", "layer", "metric", "value", "ci_low", "ci_high",
                      "null_mean", "null_high", "n", "pooling", "model", "compare_model", "task",
                      "seed", "finetune_cell", "finetuned", "reinit", "compare_seed"]

SIMILARITY_KINDS = ("cross-lingual", "model-model")
"""Kinds of rows that compare two sets of vectors of one model pair on the same sentences;
``seed-seed`` (two REF models of one task) and ``weight-change`` (no vectors) have their own
analyses."""


def scores_frame(rows: Sequence[ScoreRow]) -> pd.DataFrame:
    """One row per score, with ``source`` (the run's source test set) and ``is_source``."""
    records = [{**r.record(), "reinit": str(r.reinit),
                "is_source": r.source is not None and r.language == r.source} for r in rows]
    df = pd.DataFrame.from_records(records, columns=SCORE_COLUMNS)
    df["is_source"] = df["is_source"].astype(bool)
    return df


def sentence_frame(rows: Sequence[ScoreRow]) -> pd.DataFrame:
    """One row per evaluated sentence of every score that kept its per-sentence counts
    (`crossling.results.SentenceCounts`): ``value = scale * sum(num) / sum(den)`` over a
    (task, metric, model, reinit, seed, language) group; ``sentence`` is the 0-based index in
    the evaluated set, the same sentence in every run of that set. Rows without counts (cells
    stored before they were kept) add nothing."""
    parts = []
    for r in rows:
        if r.sentences is None or not r.sentences.num:
            continue
        n = len(r.sentences.num)
        labels = {"task": r.task, "metric": r.metric, "model": r.model, "reinit": str(r.reinit),
                  "seed": r.seed, "language": r.language, "source": r.source,
                  "is_source": r.source is not None and r.language == r.source}
        parts.append(pd.DataFrame({
            **{k: [v] * n for k, v in labels.items()},
            "sentence": np.arange(n, dtype=np.int64),
            "num": np.asarray(r.sentences.num, dtype=np.float64),
            "den": np.asarray(r.sentences.den, dtype=np.float64),
            "scale": np.full(n, float(r.sentences.scale))}, columns=SENTENCE_COLUMNS))
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=_SENTENCE_DTYPES.get(c, object))
                             for c in SENTENCE_COLUMNS})
    return pd.concat(parts, ignore_index=True)


_SENTENCE_DTYPES = {"seed": "int64", "is_source": "bool", "sentence": "int64", "num": "float64",
                    "den": "float64", "scale": "float64"}


def without_other_source_sets(scores: pd.DataFrame) -> pd.DataFrame:
    """`scores_frame` rows less the *other* test sets of the source language (e.g.
    Universal NER's en_pud beside WikiANN en, the NER source): they are neither the source
    score nor a target, and every analysis that averages "the targets" must leave them out
    (Table 1 still shows them)."""
    if scores.empty:
        return scores
    source_code = scores["source"].map(lambda s: language_code(str(s)) if s is not None
                                       else None)
    return scores[scores["is_source"] | (scores["language"].map(language_code) != source_code)]


def test_set_of(label: str) -> str:
    """The test-set pattern of a score label: ``*_pud`` for ``de_pud``, ``*`` for ``de`` (a
    bare code: the task's default set, e.g. WikiANN for NER). Two labels of one language code
    with different patterns are different test sets and are never averaged."""
    base = label.split(":", 1)[0]
    return f"*_{base.split('_', 1)[1]}" if "_" in base else "*"


def judged_test_set(targets: pd.DataFrame) -> str:
    """The one test set of ``targets`` (`scores_frame` rows, targets only) that a statistic
    across languages uses: the only one, else the source's (``*`` for source ``en``), else
    the one with most languages. The others are side tables, never mixed in."""
    sets = targets["language"].map(test_set_of)
    if sets.empty:
        return "*"
    counts = targets.assign(test_set=sets).groupby("test_set")["language"].nunique()
    source = targets["source"].dropna()
    own = test_set_of(str(source.iloc[0])) if len(source) else None
    if own in counts.index:
        return str(own)
    return str(sorted(counts.index, key=lambda t: (-counts[t], t))[0])


def similarity_frame(rows: Sequence[SimilarityRow]) -> pd.DataFrame:
    """One row per similarity value, every kind; ``task``/``seed``/``finetune_cell``/
    ``finetuned`` say which fine-tuned model (if any) the value describes."""
    records = [{**r.record(), "layer": int(r.layer), "finetuned": r.task is not None}
               for r in rows]
    df = pd.DataFrame.from_records(records, columns=SIMILARITY_COLUMNS)
    df["finetuned"] = df["finetuned"].astype(bool)
    return df


def finetuning_of(row: SimilarityRow) -> tuple[str | None, int | None]:
    """(task, seed) of the fine-tuned model a similarity row measured; (None, None) if none."""
    return (row.task, row.seed) if row.task is not None else (None, None)


def is_ref_model(row: SimilarityRow) -> bool:
    """The row measured the pretrained model or a REF fine-tuned one (no re-init group)."""
    return row.reinit is None or row.reinit.upper() == "REF"


def ref_models(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of `similarity_frame` of the pretrained and REF fine-tuned models."""
    keep = frame["reinit"].isna() | (frame["reinit"].astype(str).str.upper() == "REF")
    return frame[keep]


def language_code(label: str) -> str:
    """``fr`` from ``fr``, ``fr_pud`` or ``fr_gsd``: joins similarity targets and score labels."""
    return label.split("_", 1)[0].split(":", 1)[0]
