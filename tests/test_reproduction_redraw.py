"""docs/reproduction, redrawn from its own rows, is what is committed: the report code still
computes the reproduction's numbers and verdicts.

The study's store is not committed, only the report it drew; its ``scores.csv`` and
``similarity.csv`` hold every fine-tuning and similarity row (all fields but the provenance).
Those rows, reported again, must give every analysis CSV byte for byte and the README up to its
file list (the facts of "What was run" come from the store, so they are read back from the
committed README). Not redrawn: ``provenance.csv`` and ``settings.csv`` (they read the rows'
provenance), the retrieval and probe tables (their rows are not among these CSVs), the figures.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from crossling.report.data import compute_report
from crossling.report.write import write_report

pytestmark = pytest.mark.slow  # the reproduction's 23,000 rows through every analysis: ~90 s

_spec = importlib.util.spec_from_file_location(
    "redraw_reproduction", Path(__file__).resolve().parents[1] / "tools" /
    "redraw_reproduction.py")
assert _spec is not None and _spec.loader is not None
redraw: Any = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(redraw)
REPRO: Path = redraw.REPRO
NOT_REDRAWN: set[str] = redraw.NOT_REDRAWN
CLOSE = {"p6-permutation.csv"}
"""Partial correlations summed in the store's row order, not the CSV's: last digits may move."""


@pytest.fixture(scope="module")
def redrawn(tmp_path_factory: pytest.TempPathFactory) -> Path:
    readme = (REPRO / "README.md").read_text(encoding="utf-8")
    title = readme.splitlines()[0].removeprefix("# Reproduction: ")
    out = tmp_path_factory.mktemp("reproduction")
    write_report(compute_report(*redraw.committed_rows()), out, title=title,
                 readme=redraw.readme_facts(readme))
    return out


def test_every_analysis_csv_is_the_committed_one(redrawn: Path) -> None:
    names = sorted(p.name for p in REPRO.glob("*.csv") if p.name not in NOT_REDRAWN)
    assert {"verdicts.csv", "deltas.csv", "p2-contrasts.csv", "correlations.csv"} <= set(names)
    for name in names:
        if name in CLOSE:
            pd.testing.assert_frame_equal(pd.read_csv(redrawn / name), pd.read_csv(REPRO / name),
                                          check_exact=False, rtol=1e-12)
        else:
            assert (redrawn / name).read_bytes() == (REPRO / name).read_bytes(), name


def test_the_readme_is_the_committed_one_up_to_its_file_list(redrawn: Path) -> None:
    def head(path: Path) -> str:
        return path.read_text(encoding="utf-8").split("\n## Files")[0]

    assert head(redrawn / "README.md") == head(REPRO / "README.md")
