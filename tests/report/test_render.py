from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from crossling.core.errors import ConfigError
from crossling.core.manifest import OUTPUTS
from crossling.report import tables
from crossling.report.data import compute_report
from crossling.report.markdown import markdown_table
from crossling.report.readme import is_overall, verdict_table
from crossling.report.settings import ReportSettings
from crossling.report.write import StudyInputs, build_report, write_report
from tests.analysis.synthetic import TARGETS, score_rows, similarity_rows
from tests.report.browser import headless_chromium

FEW, SOME = ReportSettings(n_boot=20), ReportSettings(n_boot=50)


def test_report_files_and_tables(tmp_path: Path) -> None:
    index = build_report(score_rows(), similarity_rows(), tmp_path, title="synthetic")
    md = (tmp_path / "report.md").read_text()
    for heading in ("Table 1", "Table 2", "Table 3", "P5", "Provenance"):
        assert heading in md
    assert "| pos | upos_acc | 1-2 |" in md
    html = index.read_text()
    imgs = [p.split('"')[0] for p in html.split('<img src="')[1:]]
    assert {"alignment.png", "alignment-per-target.png", "pretrained-vs-finetuned.png",
            "delta-pos-upos_acc.png", "scatter-pos.png"} <= set(imgs)
    for name in imgs:
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"


def test_report_writes_tidy_csvs_and_escapes_text(tmp_path: Path) -> None:
    scores = score_rows(seeds=(0,))
    index = build_report(scores, similarity_rows(), tmp_path, title="<b>A & B</b>", settings=SOME)
    html = index.read_text()
    assert "<title>&lt;b&gt;A &amp; B&lt;/b&gt;</title>" in html and "<b>A" not in html
    d = pd.read_csv(tmp_path / "deltas.csv")
    assert len(d) == 2 * (1 + len(TARGETS)) and set(d["reinit"]) == {"1-2", "11-12"}
    summary = pd.read_csv(tmp_path / "delta-summary.csv")
    assert summary.set_index("reinit").loc["1-2", "gap"] == pytest.approx(-8.0)
    corr = pd.read_csv(tmp_path / "correlations.csv")
    assert set(corr["measure"]) == {"linear_cka", "debiased_cka"}
    md = (tmp_path / "report.md").read_text()
    assert "1 seed: no CI" in md  # a single seed says why there is no interval
    assert md.index("Appendix") > md.index("Table 3") > md.index("Table 2")


def test_report_of_similarity_only_headline_measure_and_unknown_measure(tmp_path: Path) -> None:
    """Debiased linear CKA is the headline measure: it is the default, and the report falls
    back to biased linear CKA only when the rows lack it, saying so. An unknown measure name
    is refused before anything is written."""
    build_report([], similarity_rows(), tmp_path, title="sim only")
    md = (tmp_path / "report.md").read_text()
    assert "Table 1" not in md and "P5" in md
    assert "reported measure | debiased_cka" in md and "rows have no" not in md
    build_report([], similarity_rows(), tmp_path, title="sim only",
                 settings=ReportSettings(measure="linear_cka"))
    assert "reported measure | linear_cka" in (tmp_path / "report.md").read_text()
    biased = [r for r in similarity_rows() if r.metric == "linear_cka"]
    build_report([], biased, tmp_path / "biased", title="biased only")
    md = (tmp_path / "biased" / "report.md").read_text()
    assert "reported measure | linear_cka" in md and "(the rows have no debiased_cka)" in md
    with pytest.raises(ConfigError, match=r"measure must be one of debiased_cka, linear_cka, "
                                          r"rbf_cka, svcca, .*, got 'no_such'"):
        build_report([], similarity_rows(), tmp_path / "typo", title="t",
                     settings=ReportSettings(measure="no_such"))
    assert not (tmp_path / "typo").exists()
    with pytest.raises(ValueError, match="no result rows"):
        build_report([], [], tmp_path / "empty", title="nothing")


def test_rendered_report_writes_and_shows_the_computed_frames(tmp_path: Path) -> None:
    """The report is compute_report's frames rendered, nothing recomputed. The CSVs are those
    frames, byte for byte; every table of report.md is one of them; and build_report writes
    exactly what write_report(compute_report(...)) writes."""
    data = compute_report(score_rows(), similarity_rows(), settings=SOME)
    index = write_report(data, tmp_path / "split", title="split")
    out = index.parent
    for name, frame in (("deltas.csv", data.deltas), ("delta-summary.csv", data.delta_summary),
                        ("correlations.csv", data.correlations),
                        ("robustness.csv", data.robustness),
                        ("robustness-curves.csv", data.robustness_curves)):
        assert not frame.empty
        assert (out / name).read_text() == frame.to_csv(index=False)
    md = (out / "report.md").read_text()
    overall = is_overall(data.verdicts)  # the overall verdicts first, then every task's
    assert overall.any() and (~overall).any()
    shown = [verdict_table(data.verdicts[overall]), verdict_table(data.verdicts[~overall]),
             data.settings, data.ref_table, data.delta_table,
             tables.contrast_table(data.contrasts), data.p4_seeds, tables.p6_table(data.p6),
             tables.p6_confounds_table(data.p6_confounds),
             data.pretrained_vs_finetuned_table, data.correlation_table, data.provenance,
             data.robustness_table, *(table for _, table in data.appendix)]
    assert data.p5.empty  # no layer-difference rows in these synthetic rows: no P5 table
    for table in shown:
        assert not table.empty and markdown_table(table) in md
    assert md.count("\n|---|") == len(shown)  # and no other table
    assert f"layer {data.scatter[0].layer}, the layer with the largest" in md

    build_report(score_rows(), similarity_rows(), tmp_path / "whole", title="split", settings=SOME)
    written = sorted(p.name for p in out.iterdir())
    assert written == sorted(p.name for p in (tmp_path / "whole").iterdir())
    for name in written:
        assert (out / name).read_bytes() == (tmp_path / "whole" / name).read_bytes(), name


@pytest.mark.browser
def test_report_renders_in_a_real_headless_browser(tmp_path: Path) -> None:
    index = build_report(score_rows(), similarity_rows(), tmp_path, title="browser check")
    with headless_chromium(tmp_path / "profile") as driver:
        driver.get(index.resolve().as_uri())
        assert driver.title == "browser check"
        assert driver.find_element("tag name", "h1").text == "browser check"
        widths = driver.execute_script(
            "return Array.from(document.images).map(i => i.complete ? i.naturalWidth : 0)")
        assert len(widths) >= 4 and all(w > 0 for w in widths)
        tables = driver.execute_script("return document.querySelectorAll('table').length")
        assert tables >= 3
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == []


def test_report_has_a_probing_section_with_its_figure(tmp_path: Path) -> None:
    from tests.analysis.test_probing import probe_rows

    build_report([*score_rows(seeds=(0,)), *probe_rows()], similarity_rows(), tmp_path,
                 title="with probes", settings=FEW)
    md = (tmp_path / "report.md").read_text()
    assert "Layer-wise probing" in md and "![probe accuracy" in md and "probe settings" in md
    assert "| en | source | 8 | 90.0 [88.5, 91.5] |" in md
    assert "probe_pos" not in md.split("## Table 2")[0]  # not a Table 1 task
    assert (tmp_path / "probe.png").read_bytes()[:4] == b"\x89PNG"
    build_report(score_rows(seeds=(0,)), [], tmp_path / "none", title="no probes", settings=FEW)
    assert "Layer-wise probing" not in (tmp_path / "none" / "report.md").read_text()


def test_report_has_the_robustness_section_figure_and_csvs(tmp_path: Path) -> None:
    """Every measure of the pretrained cross-lingual rows gets a row in the robustness table
    and a curve in its figure; the CSVs are the ReportData frames."""
    build_report([], similarity_rows(), tmp_path, title="robust", settings=SOME)
    md = (tmp_path / "report.md").read_text()
    assert "Robustness of the alignment curve across measures" in md
    assert "![every measure's curve, normalised" in md and "| verdict |" in md
    assert (tmp_path / "robustness.png").read_bytes()[:4] == b"\x89PNG"
    summary = pd.read_csv(tmp_path / "robustness.csv")
    assert list(summary["measure"]) == ["debiased_cka", "linear_cka"]
    assert (summary["peak_layer"] == 5).all() and (summary["targets"] == len(TARGETS)).all()
    curves = pd.read_csv(tmp_path / "robustness-curves.csv")
    assert len(curves) == 2 * 13
    assert md.index("Robustness") > md.index("P5")


def test_report_never_replaces_a_file_it_did_not_write(tmp_path: Path) -> None:
    """A user's own README.md in the output folder is never overwritten by the generated
    one: a one-line error names it before anything is computed or written. Files the
    report does not write stay; the report's own files are replaced on the next run."""
    import fnmatch

    from crossling.report.write import REPORT_OUTPUTS

    out = tmp_path / "out"
    out.mkdir()
    (out / "README.md").write_text("my notes")
    with pytest.raises(ConfigError) as info:
        build_report(score_rows(), similarity_rows(), out, title="t", settings=FEW,
                     study=StudyInputs("crossling run x"))
    assert "\n" not in str(info.value) and str(out / "README.md") in str(info.value)
    assert sorted(p.name for p in out.iterdir()) == ["README.md"]
    assert (out / "README.md").read_text() == "my notes"

    (out / "README.md").rename(out / "notes.md")
    (out / "notes.csv").write_text("a,b\n")
    for _ in range(2):  # the second run replaces the files the first one wrote
        build_report(score_rows(), similarity_rows(), out, title="t", settings=FEW,
                     study=StudyInputs("crossling run x"))
    assert (out / "notes.md").read_text() == "my notes"
    assert (out / "notes.csv").read_text() == "a,b\n"
    written = {p.name for p in out.iterdir()} - {"notes.md", "notes.csv", OUTPUTS}
    assert "README.md" in written
    # every file the report wrote is one the up-front check knows about
    assert all(any(fnmatch.fnmatchcase(n, pat) for pat in REPORT_OUTPUTS) for n in written), \
        written
