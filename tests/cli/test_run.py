"""A whole study on a tiny model: crossling run (dry run, real run, rerun) and crossling report."""

from __future__ import annotations

from pathlib import Path

import pytest

from crossling.cli import main
from crossling.experiments.store import ResultStore

STUDY = """
name: tiny
model: {model}
data: {{ud: {ud}}}
tasks:
  pos: {{train: [en_ewt], dev: [en_ewt], test: en, eval: [fr, de, ru],
         max_train_sentences: 16, max_eval_sentences: 8}}
reinit: [REF, 1-2]
seeds: [0]
training: {{epochs: 1, batch_size: 8, max_length: 64}}
similarity: {{languages: [fr, de, ru], n: 12, n_boot: 10, n_null: 5,
              measures: [linear_cka]}}
"""


@pytest.mark.slow
def test_tiny_study_end_to_end(tiny_bert: Path, data_dir: Path, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    study = tmp_path / "tiny.yaml"
    study.write_text(STUDY.format(model=tiny_bert, ud=data_dir / "ud"), encoding="utf-8")
    store = tmp_path / "results.sqlite"
    assert main(["run", str(study), "--store", str(store), "--dry-run"]) == 0
    listing = capsys.readouterr().out
    assert "4 cells" in listing and "finetune pos reinit=1-2 seed=0" in listing
    assert main(["run", str(study), "--store", str(store)]) == 0
    cells = ResultStore(store).cells("tiny")
    assert [c["status"] for c in cells] == ["done"] * 4
    finished = {c["key"]: c["finished"] for c in cells}
    assert main(["run", str(study), "--store", str(store)]) == 0  # nothing to redo
    assert {c["key"]: c["finished"] for c in ResultStore(store).cells("tiny")} == finished
    sims = ResultStore(store).similarity_rows("tiny")
    assert {r.kind for r in sims} == {"cross-lingual", "model-model", "weight-change"}
    assert {r.provenance.get("task") for r in sims if r.kind == "model-model"} == {"pos"}
    # the study is edited: the report shows the cells of the study as it is now
    study.write_text(STUDY.format(model=tiny_bert, ud=data_dir / "ud").replace(
        "reinit: [REF, 1-2]", "reinit: [REF]"), encoding="utf-8")
    out = tmp_path / "report"
    assert main(["report", str(study), "--store", str(store), "--out", str(out)]) == 0
    assert "1 cells" not in capsys.readouterr().out
    assert "1-2" not in (out / "report.md").read_text().split("Provenance")[0]
    study.write_text(STUDY.format(model=tiny_bert, ud=data_dir / "ud"), encoding="utf-8")
    assert main(["report", str(study), "--store", str(store), "--out", str(out)]) == 0
    md = (out / "report.md").read_text()
    assert "Table 1" in md and "Table 2" in md and "| pos | upos_acc | 1-2 |" in md
    assert (out / "index.html").is_file() and (out / "alignment.png").is_file()
    from crossling.core.provenance import git_commit

    # the cells' commit and the checkout that drew the report, each named
    readme = (out / "README.md").read_text()
    assert f"- **report code**: {git_commit() or 'not recorded'}\n" in readme
    assert "- **code**: " in readme


def test_dry_run_into_a_closed_pipe_exits_quietly(tiny_bert: Path, data_dir: Path,
                                                   tmp_path: Path) -> None:
    """`crossling run STUDY --dry-run | head -1` must not end in a BrokenPipeError traceback."""
    import subprocess
    import sys

    study = tmp_path / "tiny.yaml"
    study.write_text(STUDY.format(model=tiny_bert, ud=data_dir / "ud"), encoding="utf-8")
    code = ("import sys; from crossling.cli import main; "
            "sys.exit(main(['run', sys.argv[1], '--store', sys.argv[2], '--dry-run']))")
    proc = subprocess.Popen([sys.executable, "-c", code, str(study),
                             str(tmp_path / "r.sqlite")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, bufsize=0)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before the first line
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141
    assert "Traceback" not in err and "BrokenPipeError" not in err


def test_run_checks_its_output_locations_before_any_work(
        tiny_bert: Path, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A file in the way, a non-SQLite store or a read-only folder used to surface as a
    traceback, after the study's model and data were hashed (and, for the cells folder, after
    the store was written): now one line, before the study is even read."""
    import os

    import crossling.experiments.workflows as run_cli  # the command's logic lives there

    study = tmp_path / "tiny.yaml"
    study.write_text(STUDY.format(model=tiny_bert, ud=data_dir / "ud"), encoding="utf-8")
    blocker = tmp_path / "a-file"
    blocker.write_text("x", encoding="utf-8")
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n", encoding="utf-8")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "cells").write_text("x", encoding="utf-8")
    real_load = run_cli.load_study

    def no_work(*args: object, **kwargs: object) -> None:
        raise AssertionError("work done before the output locations were checked")

    monkeypatch.setattr(run_cli, "load_study", no_work)
    for store, message in (
            (blocker / "results.sqlite", f"--store folder {blocker}: a file, not a folder"),
            (notes, f"{notes}: not an SQLite database, so not a results store; refusing"),
            (tmp_path / "busy" / "results.sqlite", "cells folder"),
            (tmp_path, "a folder, not a results store file")):
        assert main(["run", str(study), "--store", str(store)]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and message in err, err
    assert notes.read_text() == "my notes\n"
    assert not (tmp_path / "busy" / "results.sqlite").exists()
    with monkeypatch.context() as m:
        m.setattr(os, "access", lambda *a, **k: False)  # a read-only folder (root writes all)
        assert main(["run", str(study), "--store", str(tmp_path / "new" / "r.sqlite")]) == 2
        assert "is not writable" in capsys.readouterr().err
    # an empty file is taken as a new store (SQLite's own convention), by run only
    monkeypatch.setattr(run_cli, "load_study", real_load)
    empty = tmp_path / "empty.sqlite"
    empty.touch()
    assert main(["run", str(study), "--store", str(empty), "--dry-run"]) == 0
    assert "4 cells" in capsys.readouterr().out
    assert len(ResultStore(empty, readonly=True).cells("tiny")) == 4
