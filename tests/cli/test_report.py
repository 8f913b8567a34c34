"""``crossling report``: errors are one line naming the store; rows reach the report."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from crossling.cli import main
from crossling.experiments.config import load_study
from crossling.experiments.grid import expand
from crossling.experiments.store import ResultStore
from tests.analysis.synthetic import score_rows, similarity_rows

STUDY = """
name: tiny
model: {model}
data: {{ud: {ud}}}
tasks:
  pos: {{train: [en_ewt], dev: [en_ewt], test: en, eval: [fr, de],
         max_train_sentences: 16, max_eval_sentences: 8}}
reinit: [REF]
seeds: [0]
similarity: {{languages: [fr, de], n: 12, measures: [linear_cka]}}
"""


def test_report_errors_and_rows_from_the_store(tiny_bert: Path, data_dir: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    study = tmp_path / "tiny.yaml"
    study.write_text(STUDY.format(model=tiny_bert, ud=data_dir / "ud"), encoding="utf-8")
    store_path = tmp_path / "store.sqlite"
    assert main(["report", str(study), "--store", str(store_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(store_path) in err and "crossling run" in err

    store = ResultStore(store_path)
    cells = expand(load_study(study))
    store.add_cells("tiny", cells)
    assert main(["report", str(study), "--store", str(store_path)]) == 2
    assert "no finished cells" in capsys.readouterr().err

    # a finished fine-tuning cell (rows stand in for a real run): the report shows its scores
    cell = next(c for c in cells if c.kind == "finetune")
    assert store.claim(cell.key)
    rows = [r for r in score_rows(seeds=(0,)) if r.reinit == "REF"]
    store.finish(cell.key, rows, rows[0].provenance)
    out = tmp_path / "report"
    assert main(["report", str(study), "--store", str(store_path), "--out", str(out)]) == 0
    assert "1/3 cells done" in capsys.readouterr().out
    md = (out / "report.md").read_text()
    assert "| pos | upos_acc | fr | target | 82.50 |" in md
    assert "Table 2" not in md  # REF only: no re-init groups, no Δ table


def _store_with_one_finished_cell(tiny_bert: Path, data_dir: Path, tmp_path: Path,
                                  ) -> tuple[Path, Path]:
    study = tmp_path / "tiny.yaml"
    study.write_text(STUDY.format(model=tiny_bert, ud=data_dir / "ud"), encoding="utf-8")
    store_path = tmp_path / "store.sqlite"
    store = ResultStore(store_path)
    cells = expand(load_study(study))
    store.add_cells("tiny", cells)
    cell = next(c for c in cells if c.kind == "finetune")
    assert store.claim(cell.key)
    rows = [r for r in score_rows(seeds=(0,)) if r.reinit == "REF"]
    store.finish(cell.key, rows, rows[0].provenance)
    return study, store_path


def test_report_counts_the_study_as_it_is_now_and_checks_its_options(
        tiny_bert: Path, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The study grew from 3 to 5 cells (a seed was added) and was not run since: the report
    used to say "1/3 cells done"; the 2 new cells count as pending, missing from the store."""
    study, store_path = _store_with_one_finished_cell(tiny_bert, data_dir, tmp_path)
    study.write_text(study.read_text().replace("seeds: [0]", "seeds: [0, 1]"), encoding="utf-8")
    out = tmp_path / "report"
    assert main(["report", str(study), "--store", str(store_path), "--out", str(out)]) == 0
    line = capsys.readouterr().out
    assert line.startswith("1/5 cells done (4 pending, 2 not in the store yet")
    assert len(ResultStore(store_path).cells()) == 3  # reading added nothing

    # --measure: an unknown name is refused (it silently fell back to linear CKA), and so is a
    # known one the store lacks; both before any work
    assert main(["report", str(study), "--store", str(store_path), "--measure", "bogus"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--measure bogus: unknown similarity measure" in err
    assert "debiased_cka, linear_cka, rbf_cka" in err
    sims_cell = next(c for c in expand(load_study(study)) if c.kind == "similarity")
    store = ResultStore(store_path)
    store.add_cells("tiny", [sims_cell])
    assert store.claim(sims_cell.key)
    sims = [r for r in similarity_rows() if r.metric == "linear_cka"]
    store.finish(sims_cell.key, sims, {})
    assert main(["report", str(study), "--store", str(store_path), "--measure", "rbf_cka",
                 "--out", str(out)]) == 2
    assert "--measure rbf_cka: not among the store's similarity rows" in capsys.readouterr().err
    # the default, debiased CKA, falls back to linear CKA when the store has only that
    assert main(["report", str(study), "--store", str(store_path), "--out", str(out)]) == 0
    assert "reported measure | linear_cka" in (out / "report.md").read_text()

    # an output folder that cannot be written fails before the study is even expanded
    import crossling.experiments.workflows as report_cli  # the command's logic lives there

    def no_work(*args: object, **kwargs: object) -> None:
        raise AssertionError("work done before the output folder was checked")

    monkeypatch.setattr(report_cli, "load_study", no_work)
    blocker = tmp_path / "a-file"
    blocker.write_text("x", encoding="utf-8")
    for target, message in ((blocker, "a file, not a folder"),
                            (blocker / "report", f"({blocker} is in the way)")):
        assert main(["report", str(study), "--store", str(store_path), "--out",
                     str(target)]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and f"--out {target}" in err and message in err
    monkeypatch.setattr(os, "access", lambda *a, **k: False)  # as a read-only folder (root
    # may write anywhere, so a chmod cannot show it here)
    assert main(["report", str(study), "--store", str(store_path), "--out", str(out)]) == 2
    assert "is not writable" in capsys.readouterr().err


@pytest.mark.parametrize("content", [b"", b"not a database\n"])
def test_report_refuses_an_empty_or_non_sqlite_store_and_leaves_it(
        tiny_bert: Path, data_dir: Path, tmp_path: Path, content: bytes,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A 0-byte store used to be turned into a database by the report (and a text file ended
    in a sqlite3 traceback): the report opens the store read-only."""
    study = tmp_path / "tiny.yaml"
    study.write_text(STUDY.format(model=tiny_bert, ud=data_dir / "ud"), encoding="utf-8")
    store_path = tmp_path / "store.sqlite"
    store_path.write_bytes(content)
    assert main(["report", str(study), "--store", str(store_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(store_path) in err
    assert ("empty file (0 bytes)" if not content else "not an SQLite database") in err
    assert store_path.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store.sqlite", "tiny.yaml"]


def test_report_into_a_folder_with_a_users_readme_is_refused(
        tiny_bert: Path, data_dir: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    study, store_path = _store_with_one_finished_cell(tiny_bert, data_dir, tmp_path)
    out = tmp_path / "mine"
    out.mkdir()
    (out / "README.md").write_text("my own readme")
    code = main(["report", str(study), "--store", str(store_path), "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and str(out / "README.md") in err[0]
    assert (out / "README.md").read_text() == "my own readme"
    assert [p.name for p in out.iterdir()] == ["README.md"]
