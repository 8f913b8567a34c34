"""A tiny study keeps every score's per-sentence counts: in each cell's folder, in the store and
in the report's sentence-scores.csv.gz, and they re-aggregate to exactly the stored scores."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from crossling.analysis.frames import SENTENCE_COLUMNS
from crossling.cli import main
from crossling.experiments.store import ResultStore
from crossling.results import SENTENCE_FILE, read_sentence_counts

STUDY = """
name: sentences
model: {model}
data: {{ud: {ud}, ner: {ner}}}
tasks:
  pos: {{train: [en_ewt], dev: [en_ewt], test: en, eval: [fr, de],
         max_train_sentences: 16, max_eval_sentences: 6, max_source_sentences: 10}}
  parsing: {{train: [en_ewt], dev: [en_ewt], test: en, eval: [de],
             max_train_sentences: 16, max_eval_sentences: 6, reinit: [REF]}}
  ner: {{eval: [de], max_train_sentences: 16, max_eval_sentences: 6, reinit: [REF]}}
reinit: [REF, 1-1]
seeds: [0]
training: {{epochs: 1, batch_size: 8, max_length: 64}}
"""

METRICS = {"upos_acc", "uas", "las", "span_f1", "span_precision", "span_recall"}


@pytest.mark.slow
def test_per_sentence_counts_reaggregate_to_every_stored_score(
        tiny_bert: Path, data_dir: Path, tmp_path: Path) -> None:
    study = tmp_path / "s.yaml"
    study.write_text(STUDY.format(model=tiny_bert, ud=data_dir / "ud", ner=data_dir / "ner"),
                     encoding="utf-8")
    store_path = tmp_path / "s.sqlite"
    assert main(["run", str(study), "--store", str(store_path)]) == 0
    store = ResultStore(store_path)
    rows = store.score_rows(sentences=True)
    assert {r.metric for r in rows} == METRICS and {r.reinit for r in rows} == {"REF", "1"}
    for r in rows:  # every run, set and metric
        assert r.sentences is not None, (r.task, r.reinit, r.language, r.metric)
        assert len(r.sentences.num) == r.n_sentences
        zero = 0.0 if r.metric.startswith("span_") else float("nan")
        assert r.sentences.value(zero) == r.value, (r.task, r.language, r.metric)
        assert r.sentences.scale == (200.0 if r.metric == "span_f1" else 100.0)
    # the source is cut to its own limit, the targets to theirs
    pos = {(r.language, r.reinit, r.metric): r.n_sentences for r in rows if r.task == "pos"}
    assert pos == {("en", g, "upos_acc"): 10 for g in ("REF", "1")} | {
        (lang, g, "upos_acc"): 6 for lang in ("fr", "de") for g in ("REF", "1")}
    # the same sentence set scores the same sentences in every run: REF and 1 share the
    # per-sentence word counts (the denominators of accuracy)
    den = {(r.language, r.reinit): r.sentences.den for r in rows
           if r.task == "pos" and r.sentences is not None}
    assert den[("fr", "REF")] == den[("fr", "1")] and den[("en", "REF")] == den[("en", "1")]

    # each cell's folder has them too, and a finished folder gives them back when its cell runs
    # again (the store's rows are replaced by the folder's)
    cells = {c["key"]: c for c in store.cells() if c["kind"] == "finetune"}
    for key in cells:
        folder = tmp_path / "cells" / key
        stored = {(r.language, r.metric): r.sentences for r in
                  store.score_rows(keys={key}, sentences=True)}
        assert read_sentence_counts(folder / SENTENCE_FILE) == stored
    key = next(iter(cells))
    before = {(r.language, r.metric): r.sentences
              for r in store.score_rows(keys={key}, sentences=True)}
    assert store.reopen(key)
    assert main(["run", str(study), "--store", str(store_path)]) == 0
    assert {(r.language, r.metric): r.sentences
            for r in store.score_rows(keys={key}, sentences=True)} == before

    out = tmp_path / "report"
    assert main(["report", str(study), "--store", str(store_path), "--out", str(out)]) == 0
    sentences = pd.read_csv(out / "sentence-scores.csv.gz", dtype={"reinit": str})
    assert list(sentences.columns) == SENTENCE_COLUMNS
    scores = pd.read_csv(out / "scores.csv", dtype={"reinit": str})
    keys = ["task", "metric", "model", "reinit", "seed", "language"]
    sums = sentences.groupby(keys).agg(num=("num", "sum"), den=("den", "sum"),
                                       scale=("scale", "first"), n=("sentence", "size"),
                                       sentence_is_source=("is_source", "first"),
                                       ).reset_index()
    both = scores.merge(sums, on=keys, how="outer", indicator=True)
    assert (both["_merge"] == "both").all() and len(both) == len(rows)
    total = both["scale"] * both["num"] / both["den"]
    again = total.where(both["den"] > 0, 0.0)  # span metrics of no entity: 0, as stored
    assert (again == both["value"]).all()
    assert (both["n"] == both["n_sentences"]).all()
    assert (both["sentence_is_source"] == both["is_source"]).all()
    assert both["is_source"].sum() == sum(r.language == r.source for r in rows) == 7
