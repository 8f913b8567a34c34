"""docs/api.md cannot rot: its Python blocks run, in order and in one namespace, as a test.

The document says which variables it expects (``model``, ``data``, ``workdir``); this harness
binds them to the tiny random BERT, the shared data folder and a temporary folder, so the
session runs in CI in seconds and needs no converted model.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "api.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def test_the_doc_has_the_whole_session() -> None:
    code = "\n".join(_python_blocks())
    for call in ("cross_lingual_similarity(", "finetune(", 'reinit=group', "build_report(",
                 "load_study(", "run_study("):
        assert call in code, call


@pytest.mark.slow
def test_api_doc_session_runs(tiny_bert: Path, data_dir: Path, tmp_path: Path,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CROSSLING_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)  # anything written to a default place lands here
    namespace: dict[str, object] = {"model": str(tiny_bert), "data": data_dir,
                                    "workdir": tmp_path / "work"}
    (tmp_path / "work").mkdir()
    for i, block in enumerate(_python_blocks()):
        code = compile(block, f"{DOC.name}[python block {i + 1}]", "exec")
        exec(code, namespace)
    assert (tmp_path / "work" / "report" / "index.html").is_file()
