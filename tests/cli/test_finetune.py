from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from crossling.cli import main


def test_finetune_cli(tiny_bert: Path, data_dir: Path, tmp_path: Path,
                      capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["finetune", "--task", "pos", "--model", str(tiny_bert), "--data",
                 str(data_dir), "--train", "en_ewt:dev", "--dev", "en_ewt:dev", "--eval", "de",
                 "--max-train-sentences", "16", "--max-eval-sentences", "8", "--epochs", "1",
                 "--batch-size", "8", "--reinit", "1-2", "--out", str(tmp_path)])
    assert code == 0
    df = pd.read_csv(tmp_path / "scores.csv")
    assert set(df["language"]) == {"en", "de"} and set(df["reinit"]) == {"1-2"}
    assert "upos_acc" in capsys.readouterr().out


def test_finetune_cli_bad_reinit_is_one_line(tiny_bert: Path, data_dir: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["finetune", "--task", "pos", "--model", str(tiny_bert), "--data",
                 str(data_dir), "--train", "en_ewt:dev", "--dev", "en_ewt:dev",
                 "--max-train-sentences", "8", "--max-eval-sentences", "4", "--reinit", "5-6",
                 "--out", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == "crossling: error: layer 5 out of range 1..4"
