from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from crossling.report.render import build_report
from tests.analysis.synthetic import score_rows, similarity_rows


def test_report_files_and_tables(tmp_path: Path) -> None:
    index = build_report(score_rows(), similarity_rows(), tmp_path, title="synthetic")
    md = (tmp_path / "report.md").read_text()
    for heading in ("Table 1", "Table 2", "Table 3", "P5", "Provenance"):
        assert heading in md
    assert "| pos | upos_acc | 1-2 |" in md
    html = index.read_text()
    imgs = [p.split('"')[0] for p in html.split('<img src="')[1:]]
    assert {"alignment.png", "pretrained-vs-finetuned.png", "delta-pos-upos_acc.png",
            "scatter-pos.png"} <= set(imgs)
    for name in imgs:
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


@pytest.mark.slow
def test_report_renders_in_a_real_headless_browser(tmp_path: Path) -> None:
    binary = _chromium()
    driver_bin = shutil.which("chromedriver")
    if binary is None or driver_bin is None:
        pytest.skip("no chromium + chromedriver (Debian: apt-get install chromium "
                    "chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver")
    index = build_report(score_rows(), similarity_rows(), tmp_path, title="browser check")
    opts = webdriver.ChromeOptions()
    opts.binary_location = binary
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={tmp_path / 'profile'}"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    from selenium.webdriver.chrome.service import Service

    driver = webdriver.Chrome(options=opts, service=Service(driver_bin))
    try:
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
    finally:
        driver.quit()
