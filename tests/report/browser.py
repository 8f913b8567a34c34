"""Headless Chromium through Selenium for the report's browser tests (skipped without it)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.conftest import missing

FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync")


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


@contextmanager
def headless_chromium(profile: Path, width: int = 1280, height: int = 800) -> Iterator[Any]:
    """A Selenium Chrome driver of a ``width`` x ``height`` window, browser log kept; skips the
    test (fails it under CI) without chromium, chromedriver or selenium."""
    binary, driver_bin = _chromium(), shutil.which("chromedriver")
    if binary is None or driver_bin is None:
        missing("no chromium + chromedriver (Debian: apt-get install chromium "
                "chromium-driver)")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing("selenium not installed (pip install -e .[dev])")
    opts = webdriver.ChromeOptions()
    opts.binary_location = binary
    for flag in (*FLAGS, f"--window-size={width},{height}", f"--user-data-dir={profile}"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=opts, service=Service(driver_bin))
    try:
        yield driver
    finally:
        driver.quit()
