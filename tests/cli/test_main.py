"""``crossling.cli.main``: unusable paths end in one ``error:`` line (exit 2), not a traceback."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from crossling.cli import main


def test_file_in_the_way_of_an_output_folder_is_one_line(
        tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`crossling run` with its store under a file: one line naming the file in the way (run checks
    its output locations up front; before, mkdir failed deep inside with a traceback)."""
    study = tmp_path / "s.yaml"
    shipped = Path(__file__).resolve().parents[2] / "studies" / "first-align-then-predict-cpu.yaml"
    study.write_text(shipped.read_text(encoding="utf-8"))
    blocker = tmp_path / "blocker"
    blocker.write_text("a file")
    code = main(["run", str(study), "--data", str(data_dir), "--store",
                 str(blocker / "results.sqlite"), "--dry-run"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0].startswith("crossling: error: ") and str(blocker) in err[0]


@pytest.mark.parametrize(("exc", "line"), [
    (PermissionError(13, "Permission denied", "/srv/runs/report.md"),
     "/srv/runs/report.md: Permission denied"),
    (IsADirectoryError(21, "Is a directory", "runs/x/scores.csv"),
     "runs/x/scores.csv: Is a directory"),
    (OSError(28, "No space left on device", "runs/x/last.pt"),
     "runs/x/last.pt: disk full (no space left on device)"),
    (OSError(18, "Invalid cross-device link", "a.tmp", None, "b"),
     "a.tmp -> b: Invalid cross-device link"),
])
def test_os_errors_about_paths_are_one_line(exc: OSError, line: str,
                                            capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    def fails(args: argparse.Namespace) -> int:
        raise exc

    monkeypatch.setattr("crossling.cli.report._report", fails)
    assert main(["report", "study.yaml"]) == 2
    assert capsys.readouterr().err.strip() == f"crossling: error: {line}"


def test_other_os_errors_stay_tracebacks(monkeypatch: pytest.MonkeyPatch) -> None:
    """An OS error about no file is a bug or an environment problem: hiding it would not help."""
    def fails(args: argparse.Namespace) -> int:
        raise ConnectionResetError(104, "Connection reset by peer")

    monkeypatch.setattr("crossling.cli.report._report", fails)
    with pytest.raises(ConnectionResetError):
        main(["report", "study.yaml"])


def test_full_disk_while_writing_is_one_line_exit_2(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """torch.save on a full disk raised a RuntimeError traceback ("unexpected pos"), an
    OSError(ENOSPC) without a file name one too: now one "disk full" line naming the file."""
    import errno
    from collections import namedtuple

    import torch

    import crossling.core.atomic as atomic

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(atomic.shutil, "disk_usage", lambda p: usage(10**9, 10**9, 0))
    target = tmp_path / "run" / "best.pt"

    def full_torch_save(obj: object, f: object) -> None:
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 64 vs 0")

    def writes(args: argparse.Namespace) -> int:
        with atomic.atomic_path(target) as tmp:
            full_torch_save({"w": torch.zeros(3)}, tmp)
        return 0

    monkeypatch.setattr("crossling.cli.report._report", writes)
    assert main(["report", "study.yaml"]) == 2
    assert capsys.readouterr().err.strip() == \
        f"crossling: error: {target}: disk full (no space left on device)"
    assert not any(target.parent.iterdir())  # no temporary, nothing half-written

    def unnamed(args: argparse.Namespace) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("crossling.cli.report._report", unnamed)
    assert main(["report", "study.yaml"]) == 2
    assert capsys.readouterr().err.strip() == \
        "crossling: error: disk full (no space left on device)"


def test_sqlite_full_is_one_line(capsys: pytest.CaptureFixture[str],
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3

    def full(args: argparse.Namespace) -> int:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr("crossling.cli.report._report", full)
    assert main(["report", "study.yaml"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "disk full (no space left on device)" in err
