"""Rows written by crossling 0.2.0 (tests/fixtures/v0.2.0, see its README) read as typed rows,
and rewriting them gives the very same files: the formats did not change."""

from __future__ import annotations

import gzip
import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from crossling.experiments.store import ResultStore
from crossling.results import (
    CrossLingualRow,
    LayerDifferenceRow,
    ModelModelRow,
    ProbeRow,
    RetrievalRow,
    ScoreRow,
    SeedSeedRow,
    WeightChangeRow,
    read_rows_csv,
    read_rows_json,
    write_rows_csv,
    write_rows_json,
)

V020 = Path(__file__).resolve().parents[1] / "fixtures" / "v0.2.0"
MODEL = "/tmp/xl020/run/tiny-bert"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> ResultStore:
    path = tmp_path_factory.mktemp("v020") / "results.sqlite"
    with gzip.open(V020 / "results.sqlite.gz") as src, path.open("wb") as dst:
        shutil.copyfileobj(src, dst)
    return ResultStore(path, readonly=True)


def test_store_similarity_rows_are_typed_by_kind(store: ResultStore) -> None:
    rows = store.similarity_rows("tiny")
    assert Counter(type(r).__name__ for r in rows) == {
        "CrossLingualRow": 25, "LayerDifferenceRow": 1, "ModelModelRow": 40,
        "SeedSeedRow": 10, "RetrievalRow": 10, "WeightChangeRow": 40}
    (diff,) = [r for r in rows if isinstance(r, LayerDifferenceRow)]
    assert diff.compare_layer == 4 and diff.layer == diff.provenance["layer_difference"][
        "peak_layer"] and diff.target == "fr" and diff.task is None
    seeds = [r for r in rows if isinstance(r, SeedSeedRow)]
    assert {(r.task, r.seed, r.compare_seed, r.reinit) for r in seeds} == {("pos", 0, 1, "REF")}
    assert {r.target for r in seeds} == {"en", "fr"} and all(r.source == r.target for r in seeds)
    tuned = [r for r in rows if isinstance(r, ModelModelRow)]
    assert {(r.task, r.reinit, r.seed) for r in tuned} == {
        ("pos", g, s) for g in ("REF", "1-2") for s in (0, 1)}
    assert all(r.compare_model.startswith(MODEL + "+pos") and r.model == MODEL for r in tuned)
    weights = [r for r in rows if isinstance(r, WeightChangeRow)]
    assert {r.metric for r in weights} == {"rel_change_from_start", "rel_change_from_pretrained"}
    assert {r.layer for r in weights} == set(range(5)) and all(r.finetune_cell for r in weights)
    assert {r.metric for r in rows if isinstance(r, RetrievalRow)} == {
        "retrieval_p1_s2t", "retrieval_p1_t2s"}
    cross = [r for r in rows if isinstance(r, CrossLingualRow)]
    assert sum(r.task is None for r in cross) == 5 and {r.n for r in cross} == {12}


def test_store_score_rows_are_scores_and_probe_rows(store: ResultStore) -> None:
    rows = store.score_rows("tiny")
    probes = [r for r in rows if isinstance(r, ProbeRow)]
    assert len(probes) == 20 and len(rows) == 32
    assert {r.layer for r in probes} == {None, 0, 2, 4}
    assert {r.metric for r in probes if r.layer is None} == {"majority_acc"}
    scores = [r for r in rows if not isinstance(r, ProbeRow)]
    assert {(r.reinit, r.seed) for r in scores} == {(g, s) for g in ("REF", "1-2")
                                                    for s in (0, 1)}
    assert {r.source for r in rows} == {"en"} and {r.language for r in scores} == {
        "en", "fr", "de"}


@pytest.mark.parametrize(("folder", "name", "kinds"), [
    ("similarity", "similarity", {CrossLingualRow: 10, LayerDifferenceRow: 2}),
    ("model-model", "similarity", {CrossLingualRow: 5, ModelModelRow: 10}),
    ("retrieval", "retrieval", {RetrievalRow: 10}),
    ("probe", "probe", {ProbeRow: 20}),
    ("finetune", "scores", {ScoreRow: 3})])
def test_csvs_read_as_typed_rows_and_rewrite_byte_for_byte(
        tmp_path: Path, folder: str, name: str, kinds: dict[type, int]) -> None:
    rows = read_rows_csv(V020 / folder / f"{name}.csv")
    assert Counter(type(r) for r in rows) == kinds
    out = write_rows_csv(tmp_path / f"{name}.csv", rows)
    assert out.read_bytes() == (V020 / folder / f"{name}.csv").read_bytes()
    assert json.loads((tmp_path / "provenance.json").read_text()) == json.loads(
        (V020 / folder / "provenance.json").read_text())


@pytest.mark.parametrize("name", ["similarity/similarity.json", "finetune/scores.json",
                                  "finetune/weight-change.json"])
def test_json_files_read_as_typed_rows_and_rewrite_byte_for_byte(tmp_path: Path,
                                                                 name: str) -> None:
    rows = read_rows_json(V020 / name)
    if name.endswith("weight-change.json"):
        assert all(isinstance(r, WeightChangeRow) and r.task == "pos" and r.reinit == "1-2"
                   for r in rows) and len(rows) == 10
    out = write_rows_json(tmp_path / "rows.json", rows)
    assert out.read_bytes() == (V020 / name).read_bytes()


def test_csv_and_json_of_one_run_hold_the_same_rows() -> None:
    assert read_rows_csv(V020 / "similarity" / "similarity.csv") == read_rows_json(
        V020 / "similarity" / "similarity.json")
    assert read_rows_csv(V020 / "finetune" / "scores.csv") == read_rows_json(
        V020 / "finetune" / "scores.json")
