from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from crossling.cli import main
from crossling.results import read_rows_csv
from crossling.training.finetune import load_rows


def _command(model: Path, data: Path, *extra: str) -> list[str]:
    return ["finetune", "--task", "pos", "--model", str(model), "--data", str(data),
            "--train", "en_ewt:dev", "--dev", "en_ewt:dev", "--eval", "de",
            "--max-train-sentences", "16", "--max-eval-sentences", "8", "--epochs", "1",
            "--batch-size", "8", *extra]


def test_finetune_cli(tiny_bert: Path, data_dir: Path, tmp_path: Path,
                      capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code = main(_command(tiny_bert, data_dir, "--reinit", "1-2"))
    assert code == 0
    out = capsys.readouterr().out
    # the default folder is derived from the settings: two different runs never share it
    match = re.search(r"^output folder: (\S+)$", out, re.M)
    assert match is not None
    folder = Path(match.group(1))
    assert re.fullmatch(rf"runs/finetune/pos-{tiny_bert.name}-1-2-seed0-[0-9a-f]{{8}}",
                        folder.as_posix())
    df = pd.read_csv(folder / "scores.csv")
    assert set(df["language"]) == {"en", "de"} and set(df["reinit"]) == {"1-2"}
    # the source is a column; the provenance is in the sidecar, once, under the rows' run_id
    assert set(df["source"]) == {"en"} and "provenance" not in df.columns
    side = json.loads((folder / "provenance.json").read_text())
    assert list(side) == [df["run_id"].iloc[0]] and side[df["run_id"].iloc[0]]["seed"] == 0
    assert read_rows_csv(folder / "scores.csv") == load_rows(folder / "scores.json")
    assert "upos_acc" in out
    # the same command finds its finished run; another run pointed at it is refused, where
    # crossling used to print the new header over the old rows
    stamp = (folder / "scores.json").stat().st_mtime_ns
    assert main(_command(tiny_bert, data_dir, "--reinit", "1-2")) == 0
    assert (folder / "scores.json").stat().st_mtime_ns == stamp
    capsys.readouterr()
    code = main(_command(tiny_bert, data_dir, "--reinit", "REF", "--seed", "3",
                         "--out", str(folder)))
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0].startswith(f"crossling: error: {folder}: holds a different run: ")
    assert 'reinit_group ("1-2" -> "REF")' in err[0] and "seed (0 -> 3)" in err[0]
    assert "--overwrite" in err[0]
    assert (folder / "scores.json").stat().st_mtime_ns == stamp  # the old run is untouched
    assert main(_command(tiny_bert, data_dir, "--reinit", "REF", "--seed", "3",
                         "--out", str(folder), "--overwrite")) == 0
    df = pd.read_csv(folder / "scores.csv")
    assert set(df["reinit"]) == {"REF"} and set(df["seed"]) == {3}


@pytest.mark.parametrize(("option", "value", "named"), [
    ("--batch-size", "0", "--batch-size"), ("--batch-size", "-4", "--batch-size"),
    ("--epochs", "0", "--epochs"), ("--epochs", "-1", "--epochs"),
    ("--max-train-sentences", "-40", "--max-train-sentences"),
    ("--max-train-sentences", "0", "--max-train-sentences"),
    ("--max-eval-sentences", "0", "--max-eval-sentences"),
    ("--max-source-sentences", "0", "--max-source-sentences must be > 0, got 0"),
    ("--max-source-sentences", "half", "--max-source-sentences must be a number of sentences "
                                       "or 'all', got 'half'"),
    ("--max-length", "0", "--max-length"), ("--max-length", "-3", "--max-length"),
    ("--max-length", "100000", "--max-length"),
    # no room for a word: every score was 0.00 (studies refused it already)
    ("--max-length", "2", "--max-length must be >= 3, got 2"),
    # numpy refused these only once the model had loaded: a traceback
    ("--seed", "-1", "--seed must be an integer in [0, 4294967295], got -1"),
    ("--seed", str(2**32), "--seed must be an integer in [0, 4294967295]"),
    ("--lr", "0", "--lr"), ("--lr", "-0.00001", "--lr"), ("--head-lr", "0", "--head-lr"),
    ("--device", "bogus", "--device 'bogus'"), ("--test", "xx_nope", "unknown language 'xx'"),
    ("--train", "en_ewt:test", "train: 'en_ewt:test' is a test split"),
    ("--dev", "de_gsd:test", "dev: 'de_gsd:test' is a test split"),
])
def test_bad_options_are_one_line_before_any_training(
        option: str, value: str, named: str, tiny_bert: Path, data_dir: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    def no_training(*a: object, **k: object) -> None:
        raise AssertionError("the model was loaded")

    monkeypatch.setattr("crossling.workflows.finetune.load_encoder", no_training)
    monkeypatch.chdir(tmp_path)
    code = main([*_command(tiny_bert, data_dir), option, value])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith("crossling: error: ") and named in err[0]
    assert not (tmp_path / "runs").exists()  # no empty output folder left behind


def test_cuda_without_cuda_is_one_line(tiny_bert: Path, data_dir: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    code = main([*_command(tiny_bert, data_dir), "--device", "cuda", "--out",
                 str(tmp_path / "o")])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith(
        "crossling: error: --device 'cuda': CUDA is not available on this machine")
    assert not (tmp_path / "o").exists()


def test_empty_eval_file_is_refused_before_training(tiny_bert: Path, data_dir: Path,
                                                    tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "xx-empty.conllu"
    empty.write_text("")
    code = main([*_command(tiny_bert, data_dir), "--eval", str(empty), "--out",
                 str(tmp_path / "o")])
    assert code == 2
    assert capsys.readouterr().err.strip() == \
        f"crossling: error: {empty}: no sentences in this CoNLL-U file (empty file?)"
    assert not (tmp_path / "o").exists()


def test_unusable_output_folder_fails_before_training(tiny_bert: Path, data_dir: Path,
                                                      tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    def no_training(*a: object, **k: object) -> None:
        raise AssertionError("the model was loaded")

    monkeypatch.setattr("crossling.workflows.finetune.load_encoder", no_training)
    blocker = tmp_path / "taken"
    blocker.write_text("a file")
    for out, problem in ((blocker, "is a file, not a folder"),
                         (blocker / "run", f"has {blocker} in its way")):
        assert main([*_command(tiny_bert, data_dir), "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"crossling: error: --out {out}: ") and problem in err


def test_finetune_cli_bad_reinit_is_one_line(tiny_bert: Path, data_dir: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["finetune", "--task", "pos", "--model", str(tiny_bert), "--data",
                 str(data_dir), "--train", "en_ewt:dev", "--dev", "en_ewt:dev",
                 "--max-train-sentences", "8", "--max-eval-sentences", "4", "--reinit", "5-6",
                 "--out", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == "crossling: error: layer 5 out of range 1..4"


def test_overwrite_keeps_files_the_run_did_not_write(tiny_bert: Path, data_dir: Path,
                                                     tmp_path: Path) -> None:
    """`finetune --overwrite` used to delete everything in the folder, the user's notes.txt and
    analysis/ too; it now removes only what a fine-tuning run writes."""
    out = tmp_path / "run"
    assert main(_command(tiny_bert, data_dir, "--out", str(out))) == 0
    (out / "notes.txt").write_text("precious")
    (out / "analysis").mkdir()
    (out / "analysis" / "plot.py").write_text("print(1)")
    assert main(_command(tiny_bert, data_dir, "--seed", "3", "--out", str(out),
                         "--overwrite")) == 0
    assert (out / "notes.txt").read_text() == "precious"
    assert (out / "analysis" / "plot.py").read_text() == "print(1)"
    assert set(pd.read_csv(out / "scores.csv")["seed"]) == {3}


def test_divergence_is_one_line_and_leaves_no_finished_run(
        fixture_bert: Path, fixture_dir: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """``--lr 1e3`` on e5 gave a NaN loss, exit 0, ~5% accuracy with intervals and an all-NaN
    encoder saved as finished."""
    train = str(fixture_dir / "ud" / "UD_English-Fixture" / "en_fixture-ud-test.conllu")
    out = tmp_path / "run"
    command = ["finetune", "--task", "pos", "--model", str(fixture_bert), "--data",
               str(fixture_dir), "--train", train, "--dev", train, "--test", "fr", "--eval",
               "de", "--allow-test-training", "--epochs", "1", "--batch-size", "2",
               "--max-length", "64", "--lr", "1e30", "--head-lr", "1e30", "--out", str(out)]
    for _ in range(2):  # the rerun is no finished run either
        assert main(command) == 2
        # the progress bar is cleared (its \r-separated frames): the error has its own line
        err = [x for x in capsys.readouterr().err.splitlines() if "error" in x]
        assert len(err) == 1 and err[0].startswith(
            "crossling: error: pos: training diverged at epoch 1/1, step 2/4: loss is nan")
        left = {p.name for p in out.rglob("*")}
        assert not left & {"scores.json", "scores.csv", "encoder", "head.pt", "fit.json",
                           "best.pt", "weight-change.json"}, left


def test_training_defaults_are_train_configs() -> None:
    """The command passes only the options given, so its defaults are TrainConfig's (those of
    the API and of studies); the help states them, and must say the same."""
    import argparse

    from crossling.cli import build_parser
    from crossling.training.loop import TrainConfig

    sub = next(a for a in build_parser()._actions
               if isinstance(a, argparse._SubParsersAction)).choices["finetune"]
    actions = {a.dest: a for a in sub._actions}
    for name in ("epochs", "batch_size", "lr", "head_lr", "max_length"):
        assert actions[name].default is None
        stated = re.search(r"\(default ([^)]+)\)", actions[name].help or "")
        assert stated is not None and float(stated.group(1)) == getattr(TrainConfig(), name)
