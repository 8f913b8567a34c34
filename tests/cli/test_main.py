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
     "runs/x/last.pt: No space left on device"),
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
