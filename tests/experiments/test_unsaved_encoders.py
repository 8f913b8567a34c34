"""A study whose fine-tuned models were not kept (nothing measured them) and which then asks
for them (``similarity.after``): the finished fine-tuning cells train again and keep their
encoder, instead of every measuring cell failing with "fine-tuned encoder ... is missing"."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from crossling.experiments.kinds import KINDS
from crossling.experiments.kinds import finetune as finetune_kind
from crossling.experiments.store import ResultStore
from crossling.experiments.workflows import run_study
from crossling.results import ScoreRow
from crossling.training.loop import TrainConfig

STUDY = """
name: unsaved
model: {model}
data: {{ud: {ud}}}
allow_test_training: true  # the fixture treebank has test files only
tasks:
  pos: {{train: [{train}], dev: [{train}], test: fr, eval: [de], max_train_sentences: 4}}
seeds: [0]
training: {{epochs: 1, batch_size: 4}}
similarity: {{languages: [fr], measures: [linear_cka], n: 8, n_boot: 2, n_null: 2,
              before: false, after: {after}}}
"""


def _row(name: str) -> ScoreRow:
    return ScoreRow("pos", name, "test", "upos_acc", 50.0, 40.0, 60.0, 1, 1, "m", "REF", 0, {})


def test_a_finished_finetune_cell_trains_again_to_keep_a_newly_needed_encoder(
        tmp_path: Path, fixture_dir: Path, fixture_bert: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    trained: list[bool] = []  # save_model of each fine-tuning run

    def finetune(params: finetune_kind.Params, workdir: Path) -> Any:
        trained.append(params.save_model)
        if params.save_model:
            (workdir / "encoder").mkdir(parents=True)
        return [_row("en")], {}

    def measure(params: Any, workdir: Path) -> Any:
        if not (workdir.parent / params.finetune / "encoder").is_dir():
            raise FileNotFoundError("fine-tuned encoder is missing")
        return [_row("fr")], {}

    monkeypatch.setattr(KINDS["finetune"], "run", finetune)
    monkeypatch.setattr(KINDS["similarity_ft"], "run", measure)
    train = next((fixture_dir / "ud").glob("*/en_fixture-ud-test.conllu"))
    study, store = tmp_path / "study.yaml", tmp_path / "run" / "results.sqlite"
    fields = {"model": fixture_bert, "ud": fixture_dir / "ud", "train": train}
    study.write_text(STUDY.format(after="false", **fields), encoding="utf-8")
    assert run_study(study, store=store).counts == {"done": 1}
    assert trained == [False]

    study.write_text(STUDY.format(after="true", **fields), encoding="utf-8")
    outcome = run_study(study, store=store)
    assert outcome.failed == [] and outcome.counts == {"done": 2}
    assert trained == [False, True]  # trained again, keeping its encoder
    assert run_study(study, store=store).counts == {"done": 2} and len(trained) == 2
    assert len(ResultStore(store).score_rows()) == 2  # the retrained cell's rows replaced


def test_the_finetune_runner_retrains_a_finished_run_that_kept_no_encoder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its folder holds the finished run (scores.json) without ``encoder``: the runner asks
    for a fresh run (overwrite), since a finished run would be returned as it is."""
    import crossling.workflows.finetune as finetune

    calls: list[dict[str, Any]] = []

    def fake(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs)
        return [_row("en")], []

    monkeypatch.setattr(finetune, "run_finetune_rows", fake)
    params = finetune_kind.Params(
        task="pos", reinit="REF", scheme="model", seed=0, training=TrainConfig(),
        max_train_sentences=None, max_eval_sentences=None, model="m", source="en", train=[],
        dev=[], evals={}, save_model=True)
    cell = tmp_path / "cell"
    cell.mkdir()
    finetune_kind.run(params, cell)
    (cell / "scores.json").write_text("[]")
    finetune_kind.run(params, cell)
    finetune_kind.run(replace(params, save_model=False), cell)
    (cell / "encoder").mkdir()
    finetune_kind.run(params, cell)
    assert [c["overwrite"] for c in calls] == [False, True, False, False]


def test_only_one_kind_runs_without_the_cells_it_merely_follows(
        tmp_path: Path, fixture_dir: Path, fixture_bert: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """``retrieval`` follows the pretrained ``similarity`` cell only to share its cached
    vectors: ``only="retrieval"`` runs it (it was left pending, silently, waiting on a cell
    of a kind not selected), while ``only="similarity_ft"`` still waits for its fine-tuning
    cell and says so."""
    ran: list[str] = []
    for kind in ("similarity", "retrieval", "similarity_ft", "finetune"):
        def runner(params: Any, workdir: Path, _k: str = kind) -> Any:
            ran.append(_k)
            return [_row(_k)], {}
        monkeypatch.setattr(KINDS[kind], "run", runner)
    train = next((fixture_dir / "ud").glob("*/en_fixture-ud-test.conllu"))
    study, store = tmp_path / "study.yaml", tmp_path / "run" / "results.sqlite"
    study.write_text(STUDY.format(model=fixture_bert, ud=fixture_dir / "ud", train=train,
                                  after="true").replace("before: false", "before: true")
                     + "retrieval: {languages: [fr], n: 8, n_boot: 2, n_null: 2}\n",
                     encoding="utf-8")
    assert run_study(study, store=store, only="retrieval").counts == {"done": 1}
    assert ran == ["retrieval"]
    outcome = run_study(study, store=store, only="similarity_ft")
    assert outcome.counts == {"pending": 1} and ran == ["retrieval"]
    assert outcome.unfinished[0][1].startswith("waits on a cell of a kind not selected")


def test_with_an_artifact_store_the_kept_encoder_is_looked_for_there(tmp_path: Path) -> None:
    """Nodes without a shared disk: the driver's cells folder never holds the encoder, so a
    finished fine-tuning cell is reopened only when the artifact store lacks it."""
    from crossling.experiments.artifacts import ArtifactStore
    from crossling.experiments.cell import Cell
    from crossling.experiments.workflows import reopen_unsaved_encoders

    ft = finetune_kind.Params(
        task="pos", reinit="REF", scheme="model", seed=0, training=TrainConfig(),
        max_train_sentences=4, max_eval_sentences=4, model="m", source="en", train=[], dev=[],
        evals={}, save_model=True)
    cells = [Cell("ft", "finetune", ft), Cell("sim", "similarity_ft", replace(ft),
                                               depends_on=("ft",), reads=("ft",))]
    store = ResultStore(tmp_path / "s.sqlite")
    store.add_cells("s", cells)
    store.finish("ft", [_row("en")], {})
    url = str(tmp_path / "artifacts")
    encoder = tmp_path / "enc"
    encoder.mkdir()
    (encoder / "config.json").write_text("{}")
    ArtifactStore(url).put("ft", "encoder", encoder)
    assert reopen_unsaved_encoders(cells, store, tmp_path / "cells", url) == []
    assert store.status("ft") == "done"
    assert reopen_unsaved_encoders(cells, store, tmp_path / "cells", str(tmp_path / "empty")) \
        == ["ft"]
    assert store.status("ft") == "pending"
