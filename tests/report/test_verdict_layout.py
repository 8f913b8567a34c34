"""The verdict table reads at a glance: at 1280 x 800 every verdict is on screen, no sideways
scrolling of the page or of the table's scroll box needed to reach it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from crossling.report.data import ReportData
from crossling.report.render import render_html
from crossling.report.sections import build_sections
from tests.report.browser import headless_chromium

REPRO = Path(__file__).resolve().parents[2] / "docs" / "reproduction"
WIDTH, HEIGHT = 1280, 800

VERDICT_CELLS = """
const cells = [];
for (const table of document.querySelectorAll('table')) {
  const heads = Array.from(table.querySelectorAll('thead th'), th => th.textContent.trim());
  if (heads[0] !== 'proposition') continue;  // the verdict table, not robustness's verdicts
  const col = heads.indexOf('verdict');
  const box = table.parentElement.getBoundingClientRect();  // the table's scroll box
  for (const row of table.querySelectorAll('tbody tr')) {
    const r = row.children[col].getBoundingClientRect();
    cells.push({text: row.children[col].textContent, left: r.left, right: r.right,
                box_right: box.right, table_right: table.getBoundingClientRect().right});
  }
}
return {cells: cells, inner: window.innerWidth,
        page: document.documentElement.scrollWidth, scroll_x: window.scrollX};
"""


def _rendered_from_verdicts_csv(folder: Path) -> Path:
    """index.html of the report code path (sections, template) fed docs/reproduction's
    verdicts.csv, which tests/test_reproduction_redraw.py checks the report code computes."""
    empty = pd.DataFrame()
    data = ReportData(measure="debiased_cka", requested_measure="debiased_cka", scores=empty,
                      similarity=empty, pretrained_rows=(), settings=empty, provenance=empty,
                      verdicts=pd.read_csv(REPRO / "verdicts.csv"))
    page = folder / "index.html"
    page.write_text(render_html("verdicts", build_sections(data)), encoding="utf-8")
    return page


def _measure(page: Path, profile: Path) -> dict[str, Any]:
    with headless_chromium(profile, WIDTH, HEIGHT) as driver:
        driver.get(page.resolve().as_uri())
        measured: dict[str, Any] = driver.execute_script(VERDICT_CELLS)
    return measured


@pytest.mark.parametrize("source", ["rendered", "committed"])
def test_every_verdict_is_on_screen_at_1280_px(source: str, tmp_path: Path) -> None:
    """Each verdict cell of the verdict table lies inside the window and inside the table's
    horizontal scroll box, the page does not scroll sideways; both for the report code's
    rendering and for the committed docs/reproduction/index.html."""
    page = _rendered_from_verdicts_csv(tmp_path) if source == "rendered" \
        else REPRO / "index.html"
    m = _measure(page, tmp_path / "profile")
    verdicts = pd.read_csv(REPRO / "verdicts.csv")
    assert [c["text"] for c in m["cells"]] == list(verdicts["verdict"])
    assert m["inner"] <= WIDTH and m["page"] <= m["inner"] and m["scroll_x"] == 0
    hidden = [c for c in m["cells"]
              if c["left"] < 0 or c["right"] > min(m["inner"], c["box_right"])]
    assert not hidden, (f"{len(hidden)} of {len(m['cells'])} verdicts off screen at "
                        f"{m['inner']} px: {hidden[0]}")
