from __future__ import annotations

from crossling.report.data import compute_report
from crossling.report.depth import base_model, split_by_model
from crossling.report.sections import build_sections
from crossling.results import ScoreRow, SimilarityRow
from tests.analysis.test_controls import _rows


def test_the_report_shows_the_control_in_its_own_section_only() -> None:
    rows = _rows()
    sims = [r for r in rows if isinstance(r, SimilarityRow)]
    scores = [r for r in rows if isinstance(r, ScoreRow)]
    data = compute_report(scores, sims)
    assert set(data.similarity["model"]) == {"m"} and set(data.retrieval["model"]) == {"m"}
    assert set(data.probe["model"]) == {"m"}
    assert len(data.controls) == 3 * 2 and list(data.controls_table["layer"]) == [0, 1]
    assert "debiased_cka: random weights (2 seeds)" in data.controls_table.columns
    section = next(s for s in build_sections(data) if s.title == "Control: random weights")
    assert "controls.csv" in section.csvs and "init seeds 0 1" in section.text
    # a control belongs to the model it has the architecture of: one model, not three
    assert {base_model(r) for r in rows} == {"m"} and list(split_by_model(scores, sims)) == ["m"]


def test_no_control_no_section() -> None:
    rows = [r for r in _rows() if "random_weights" not in r.provenance]
    data = compute_report([r for r in rows if isinstance(r, ScoreRow)],
                          [r for r in rows if isinstance(r, SimilarityRow)])
    assert data.controls.empty and data.controls_table.empty
    assert all(s.title != "Control: random weights" for s in build_sections(data))
