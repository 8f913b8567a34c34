"""A fine-tuning cell whose training diverges ends ``failed`` with its one-line reason, with no
rows and no finished run folder, and is run again when failed cells are retried (it used to be
``done``: its NaN model's scores entered the report and a rerun never redid it)."""

from __future__ import annotations

from pathlib import Path

from crossling.experiments.executors import RunSettings
from crossling.experiments.store import ResultStore
from crossling.experiments.workflows import run_study

FIXTURE_EN = "UD_English-Fixture/en_fixture-ud-test.conllu"


def test_a_diverging_cell_fails_and_is_retried(fixture_bert: Path, fixture_dir: Path,
                                               tmp_path: Path) -> None:
    train = fixture_dir / "ud" / FIXTURE_EN
    study = tmp_path / "study.yaml"
    study.write_text(
        f"name: diverges\nmodel: {fixture_bert}\ndata: {{ud: {fixture_dir / 'ud'}}}\n"
        # the fixture treebank has test files only: train on English, test on the others
        "allow_test_training: true\n"
        f"tasks:\n  pos: {{train: ['{train}'], dev: ['{train}'], test: fr, eval: [de]}}\n"
        "seeds: [0]\n"
        "training: {epochs: 1, batch_size: 2, max_length: 64, lr: 1.0e+30, head_lr: 1.0e+30}\n",
        encoding="utf-8")
    store_path = tmp_path / "store.sqlite"
    outcome = run_study(study, store=store_path)
    assert outcome.counts == {"failed": 1}
    [(label, error)] = outcome.failed
    assert label == "finetune pos reinit=REF seed=0"
    assert error.startswith("pos: training diverged at epoch 1/1, step 2/4: loss is nan")
    store = ResultStore(store_path)
    assert store.score_rows() == [] and store.similarity_rows() == []
    [cell] = store.cells()
    folder = tmp_path / "cells" / cell["key"]
    assert not (folder / "scores.json").exists() and not (folder / "encoder").exists()
    # not done, so not skipped: retrying failed cells runs it again (and it fails again)
    again = run_study(study, store=store_path, settings=RunSettings(retry_failed=True))
    assert again.counts == {"failed": 1}
    assert ResultStore(store_path).cells()[0]["attempts"] == 2
