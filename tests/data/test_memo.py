"""A CoNLL-U file is parsed once per process and version; the sentences equal read_conllu's."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import crossling.data.memo as memo
from crossling.core.errors import DataError
from crossling.data.conllu import read_conllu
from crossling.data.resolve import resolve_ud


def test_parsed_once_until_the_file_changes(ud_dir: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "x.conllu"
    lines = resolve_ud(ud_dir, "fr").read_text(encoding="utf-8").split("\n\n")[:5]
    path.write_text("\n\n".join(lines) + "\n\n", encoding="utf-8")
    calls: list[str] = []
    real = memo.read_conllu
    monkeypatch.setattr(memo, "read_conllu", lambda p: calls.append(str(p)) or real(p))
    first = memo.read_conllu_once(path)
    assert first == read_conllu(path) and len(first) == 5
    again = memo.read_conllu_once(path)
    assert again == first and again is not first and len(calls) == 1
    path.write_text("\n\n".join(lines[:3]) + "\n\n", encoding="utf-8")
    os.utime(path, ns=(1, 1))  # a new version, even within the clock's resolution
    assert len(memo.read_conllu_once(path)) == 3 and len(calls) == 2
    with pytest.raises(DataError, match="no such CoNLL-U file"):
        memo.read_conllu_once(tmp_path / "missing.conllu")
