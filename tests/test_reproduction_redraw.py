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

import math
import re
from dataclasses import fields
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from crossling.report.data import compute_report
from crossling.report.write import write_report
from crossling.results import ScoreRow, SimilarityRow
from crossling.results.rows import SIMILARITY_RECORD

pytestmark = pytest.mark.slow  # the reproduction's 23,000 rows through every analysis: ~90 s

REPRO = Path(__file__).resolve().parents[1] / "docs" / "reproduction"
NOT_REDRAWN = {"provenance.csv", "settings.csv", "retrieval.csv", "probe.csv"}
CLOSE = {"p6-permutation.csv"}
"""Partial correlations summed in the store's row order, not the CSV's: last digits may move."""


def _record(row: dict[str, Any], names: set[str]) -> dict[str, Any]:
    out = {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()
           if k in names}
    for key in ("seed", "compare_seed", "compare_layer", "layer"):
        if out.get(key) is not None:
            out[key] = int(out[key])
    return out


def _rows() -> tuple[list[ScoreRow], list[SimilarityRow]]:
    text = {"reinit": str, "finetune_cell": str}
    score_names = {f.name for f in fields(ScoreRow)}
    scores = [ScoreRow(**{"split": "test", **_record(r, score_names)})
              for r in pd.read_csv(REPRO / "scores.csv", dtype=text).to_dict("records")]
    sim_names = set(SIMILARITY_RECORD)
    frame = pd.read_csv(REPRO / "similarity.csv", dtype=text)
    # the report's similarity.csv of 0.2.0 has no compare_layer: a layer-difference row's
    # second layer is the top layer the curves were measured at
    top = int(frame.loc[frame["kind"] == "cross-lingual", "layer"].max())
    sims = []
    for r in frame.to_dict("records"):
        rec = _record(r, sim_names)
        if rec["kind"] == "layer-difference" and rec.get("compare_layer") is None:
            rec["compare_layer"] = top
        for key in ("ci_low", "ci_high", "null_mean", "null_high"):
            rec[key] = float("nan") if rec[key] is None else rec[key]
        sims.append(SimilarityRow.from_record(rec))
    return scores, sims


def _facts(readme: str) -> tuple[str, list[tuple[str, str]]]:
    command = re.search(r"```bash\n(.*)\n```", readme)
    assert command is not None
    facts = re.findall(r"^- \*\*(.+?)\*\*: (.*)$", readme.split("## Verdicts")[0], flags=re.M)
    return command.group(1), facts


@pytest.fixture(scope="module")
def redrawn(tmp_path_factory: pytest.TempPathFactory) -> Path:
    readme = (REPRO / "README.md").read_text(encoding="utf-8")
    title = readme.splitlines()[0].removeprefix("# Reproduction: ")
    out = tmp_path_factory.mktemp("reproduction")
    write_report(compute_report(*_rows()), out, title=title, readme=_facts(readme))
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
