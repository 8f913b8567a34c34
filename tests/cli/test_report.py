"""``crossling report``: errors are one line naming the store; rows reach the report."""

from __future__ import annotations

from pathlib import Path

import pytest

from crossling.cli import main
from crossling.experiments.store import ResultStore
from crossling.experiments.study import expand, load_study
from tests.analysis.synthetic import score_rows

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
