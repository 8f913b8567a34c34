from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from crossling.cli import main
from crossling.results import PROBE_TASK, ScoreRow, read_rows_csv


def test_probe_cli_end_to_end(tiny_bert: Path, ud_dir: Path, tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code = main(["probe", "--model", str(tiny_bert), "--data", str(ud_dir), "--targets", "fr",
                 "de", "--layers", "0", "2", "4", "--max-train-sentences", "60",
                 "--max-eval-sentences", "20", "--n-boot", "20", "--device", "cpu",
                 "--out", str(out)])
    assert code == 0
    rows = read_rows_csv(out / "probe.csv")
    assert rows == [ScoreRow.from_record(r) for r in json.loads((out / "probe.json").read_text())]
    assert {r.task for r in rows} == {PROBE_TASK}
    assert {r.language for r in rows} == {"en", "fr", "de"} and {r.source for r in rows} == {"en"}
    assert {r.layer for r in rows} == {None, 0, 2, 4}
    assert {r.metric for r in rows if r.layer is None} == {"majority_acc"}
    assert {r.metric for r in rows if r.layer is not None} == {"upos_acc", "control_acc",
                                                               "selectivity"}
    assert all(r.n_sentences == 20 for r in rows)
    assert (out / "probe.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = pd.read_csv(out / "accuracy-by-layer.csv", index_col=0)
    assert list(table.columns) == ["en", "de", "fr"]  # the source first
    assert list(table.index) == ["0", "2", "4", "majority"]
    assert (out / "cache").is_dir() and any((out / "cache").glob("words-*.safetensors"))
    printed = capsys.readouterr().out
    assert "UPOS accuracy of a linear probe per layer" in printed and "majority" in printed
    assert "selectivity" in printed and "best layer per language" in printed


@pytest.mark.parametrize(("args", "message"), [
    (["--layers", "0", "9"], "--layers must be in 0..4 (0 = embeddings), got 9"),
    (["--targets", "fr", "en"], "'en' is the source test set"),
    (["--n-boot", "-1"], "--n-boot must be >= 0, got -1"),
    (["--seed", "-1"], "--seed must be an integer in [0, "),
    (["--train", "en_ewt:test"], "train: 'en_ewt:test' is a test split"),
    (["--train", "fr_pud:test", "--allow-test-training", "--targets", "fr"],
     "1000 of 1000 sentences of test set 'fr' are train sentences"),
])
def test_probe_cli_errors_are_one_line(tiny_bert: Path, ud_dir: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str], args: list[str],
                                       message: str) -> None:
    code = main(["probe", "--model", str(tiny_bert), "--data", str(ud_dir), "--out",
                 str(tmp_path / "out"), *args])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("crossling: error: ") and message in err
    assert err.count("\n") == 1
    assert not (tmp_path / "out" / "probe.csv").exists()


def test_max_train_sentences_takes_all_or_a_positive_number(
        tiny_bert: Path, ud_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["probe", "--model", str(tiny_bert), "--data", str(ud_dir),
              "--max-train-sentences", "0"])
    assert "must be >= 1 (or 'all')" in capsys.readouterr().err
