"""The section registry: one function and one list entry make a section, drawn, exported and
rendered like every other; the HTML template escapes what it shows."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pandas as pd
import pytest

from crossling.report import sections as sec
from crossling.report.data import ReportData, compute_report
from crossling.report.render import render_html, render_markdown
from crossling.report.settings import ReportSettings
from crossling.report.write import write_report
from tests.analysis.synthetic import score_rows, similarity_rows


def test_a_new_section_is_one_function_and_one_entry(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    frame = pd.DataFrame({"language": ["fr", "de"], "value": [0.5, 0.25]})
    drawn: list[Path] = []

    def extra(data: ReportData) -> sec.Section:
        def draw(path: Path) -> Path:
            path.write_bytes(b"png")
            drawn.append(path)
            return path

        return sec.Section("Extra · a new section", f"Measure: {data.measure}.",
                           (("extra table", frame),), (sec.Figure("extra.png", "the extra", draw),),
                           {"extra.csv": frame})

    def nothing(data: ReportData) -> None:
        return None

    monkeypatch.setattr(sec, "SECTIONS", (*sec.SECTIONS[:-1], extra, nothing, sec.SECTIONS[-1]))
    data = compute_report([], similarity_rows(), settings=ReportSettings(n_boot=10))
    index = write_report(data, tmp_path, title="t")
    md = (tmp_path / "report.md").read_text()
    assert md.index("## Extra · a new section") < md.index("## Provenance")
    assert "| fr | 0.50 |" in md and "![the extra](extra.png)" in md
    assert pd.read_csv(tmp_path / "extra.csv").equals(frame)
    assert drawn == [tmp_path / "extra.png"]
    assert '<img src="extra.png" alt="the extra">' in index.read_text()


def test_every_section_is_built_in_registry_order_and_exports_what_it_names() -> None:
    data = compute_report(score_rows(), similarity_rows(), settings=ReportSettings(n_boot=20))
    built = sec.build_sections(data)
    titles = [s.title for s in built]
    assert titles[0].startswith("Verdicts") and titles[-1] == "Provenance"
    assert titles.index("Settings") < titles.index("Table 1 · Zero-shot transfer of the REF "
                                                   "models")
    csvs = sec.report_csvs(data, built)
    for s in built:  # a CSV a section's text names is one it exports (or a shared one)
        for name in s.csvs:
            assert name in csvs
    assert csvs["correlations.csv"] is data.correlations
    assert [f.name for s in built for f in s.figures][:2] == ["delta-by-group.png",
                                                             "alignment.png"]


def test_html_escapes_titles_text_captions_and_cells() -> None:
    table = pd.DataFrame({"<th>": ["<script>alert(1)</script>", "a & b"], "x": [0.001, 2.0]})
    section = sec.Section('Title "<i>"', "Text with <b> & 'quotes'", (("cap <1>", table),
                                                                      ("second", table)),
                          (sec.Figure('f "1".png', "cap <img>", lambda path: path),))
    html = render_html("<T>", [section])
    assert "<script>" not in html and "<i>" not in html and "<b>" not in html
    assert "<title>&lt;T&gt;</title>" in html and "<h1>&lt;T&gt;</h1>" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "a &amp; b" in html
    assert "<h3>cap &lt;1&gt;</h3>" in html and "&lt;th&gt;" in html
    assert '<img src="f &#34;1&#34;.png" alt="cap &lt;img&gt;">' in html
    assert "<td>0.001</td>" in html and "<td>2.00</td>" in html  # formatted as in Markdown
    md = render_markdown("T", [section])
    assert "**cap <1>**" in md and "| <script>alert(1)</script> | 0.001 |" in md


def test_the_template_ships_inside_the_package() -> None:
    template = resources.files("crossling.report") / "templates" / "report.html.j2"
    assert template.is_file() and "{{ title }}" in template.read_text(encoding="utf-8")
