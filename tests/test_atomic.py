"""Atomic writes: a failed writer leaves the old file intact and no temporary behind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crossling.atomic import atomic_path, atomic_write, write_json, write_text


def test_failed_writer_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "scores.csv"
    write_text(target, "old\n")

    def crash(fh):  # type: ignore[no-untyped-def]
        fh.write("half a row,")
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError):
        atomic_write(target, crash)
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scores.csv"]


def test_atomic_path_keeps_the_suffix_and_creates_folders(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "er" / "plot.png"
    with atomic_path(target) as tmp:
        assert tmp.suffix == ".png" and tmp.parent == target.parent and not target.exists()
        tmp.write_bytes(b"\x89PNG")
    assert target.read_bytes() == b"\x89PNG" and not tmp.exists()


def test_write_json_is_sorted_and_stable(tmp_path: Path) -> None:
    path = write_json(tmp_path / "a.json", {"b": 1, "a": [Path("x")]})
    text = path.read_text()
    assert text.index('"a"') < text.index('"b"') and text.endswith("\n")
    assert json.loads(text) == {"a": ["x"], "b": 1}


def test_written_files_get_the_usual_permissions_not_mkstemps_0600(tmp_path: Path) -> None:
    import stat

    fresh = tmp_path / "plain.txt"
    fresh.write_text("x")  # what any new file gets under this umask
    out = write_text(tmp_path / "report.md", "# report\n")
    assert stat.S_IMODE(out.stat().st_mode) == stat.S_IMODE(fresh.stat().st_mode)
