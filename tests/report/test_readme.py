"""The generated README: every number in its verdict table is a cell of verdicts.csv."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from crossling.report.readme import fmt_estimate, render_readme, verdict_table
from crossling.report.settings import ReportSettings
from crossling.report.write import build_report
from tests.analysis.synthetic import score_rows, similarity_rows


def readme_rows(text: str) -> list[list[str]]:
    """The cells of the README's verdict table (the one whose header starts 'proposition')."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| proposition |"))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip().strip("|").split(" | ")])
    return rows


def check_readme_against_csv(readme: Path, csv: Path) -> int:
    """Assert that README's verdict table is verdicts.csv, row by row; returns the row count."""
    verdicts = pd.read_csv(csv)
    rows = readme_rows(readme.read_text(encoding="utf-8"))
    assert len(rows) == len(verdicts)
    for cells, (_, v) in zip(rows, verdicts.iterrows(), strict=True):
        assert cells[0] == v["proposition"] and cells[1] == str(v["task"])
        assert cells[2] == str(v["metric"]) and cells[3] == v["statistic"]
        assert cells[4] == fmt_estimate(v)  # estimate [low, high] from the CSV's numbers
        assert cells[5] == str(v["n"]) and cells[6] == v["verdict"]
        number = float(cells[4].split(" ")[0]) if cells[4] != "–" else math.nan
        assert math.isclose(number, round(float(v["estimate"]), 2), abs_tol=1e-9) or (
            math.isnan(number) and math.isnan(float(v["estimate"])))
    return len(rows)


def test_build_report_writes_a_readme_from_verdicts_csv(tmp_path: Path) -> None:
    build_report(score_rows(seeds=(0, 1, 2)), similarity_rows(), tmp_path, title="t",
                 settings=ReportSettings(n_boot=50, n_perm=2000),
                 readme=("crossling run s.yaml", [("model", "m"), ("code", "abc123")]))
    readme = tmp_path / "README.md"
    assert check_readme_against_csv(readme, tmp_path / "verdicts.csv") >= 2
    text = readme.read_text()
    assert "- **model**: m" in text and "crossling run s.yaml" in text
    assert "## P2:" in text and "*The paper (mBERT):*" in text
    assert "[verdicts.csv](verdicts.csv)" in text and "[index.html](index.html)" in text
    # a hand edit of a number is caught
    readme.write_text(text.replace(readme_rows(text)[0][4], "-99.00 [-99.00, -1.00]", 1))
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
