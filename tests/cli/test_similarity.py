from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from crossling.cli import main
from crossling.data.resolve import resolve_ud
from crossling.results import SimilarityRow, read_rows_csv


def test_similarity_cli_end_to_end(tiny_bert: Path, tiny_xlmr: Path, ud_dir: Path,
                                   tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code = main(["similarity", "--model", str(tiny_bert), "--data", str(ud_dir), "--source",
                 "en", "--targets", "fr", "ru", "--n", "30", "--n-boot", "10", "--n-null", "5",
                 "--out", str(out), "--compare-model", str(tiny_bert)])
    assert code == 0
    df = pd.read_csv(out / "similarity.csv")
    assert set(df["kind"]) == {"cross-lingual", "model-model"}
    cross = df[df["kind"] == "cross-lingual"]
    assert set(cross["target"]) == {"fr", "ru"} and set(cross["layer"]) == set(range(5))
    assert (df["n"] == 30).all()
    # provenance once per run in the sidecar, a run_id per CSV row (issue 11: the CSV held the
    # provenance JSON on every row, which these lines used to read)
    assert "provenance" not in df.columns
    side = json.loads((out / "provenance.json").read_text())
    assert set(df["run_id"]) == set(side) and len(side) == 2  # cross-lingual, model-model
    prov = side[df["run_id"].iloc[0]]
    # named, not by this machine's path (the folder's name; data files below their folder)
    assert prov["model"] == tiny_bert.name and set(df["model"]) == {tiny_bert.name}
    files = [resolve_ud(ud_dir, lang) for lang in ("en", "fr", "ru")]
    assert set(prov["data"]) == {f"{f.parent.name}/{f.name}" for f in files}
    for name in ("similarity.csv", "similarity.json", "provenance.json"):
        text = (out / name).read_text()
        assert str(tiny_bert) not in text and str(ud_dir.resolve()) not in text, name
    assert read_rows_csv(out / "similarity.csv") == [
        SimilarityRow.from_record(r) for r in json.loads((out / "similarity.json").read_text())]
    assert len(json.loads((out / "similarity.json").read_text())) == len(df)
    for png in ("similarity.png", "model-model.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    printed = capsys.readouterr().out
    # the headline measure is debiased CKA, and the printout says what its interval is
    assert "debiased_cka per layer" in printed and "null (mean)" in printed
    assert "interval (ci_low, ci_high in similarity.csv): 95% CI" in printed
    assert set(df["metric"]) == {"debiased_cka", "linear_cka", "rbf_cka"}
    variants = prov["metric_variants"]
    assert variants["interval:debiased_cka"] == "95% CI"
    assert "not a CI" in variants["interval:linear_cka"]


def test_bad_language_is_one_line_error(tiny_bert: Path, ud_dir: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["similarity", "--model", str(tiny_bert), "--data", str(ud_dir),
                 "--targets", "xx", "--out", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("crossling: error: unknown language 'xx'") and "\n" not in err


def test_demo_runs_on_a_given_model(tiny_xlmr: Path, data_dir: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["demo", "--model", str(tiny_xlmr), "--data", str(data_dir), "--n", "12",
                 "--targets", "fr", "ja", "--n-boot", "5", "--n-null", "5", "--out",
                 str(tmp_path)])
    assert code == 0
    assert "demo finished" in capsys.readouterr().out
    assert (tmp_path / "similarity.png").is_file()


def _error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert err.startswith("crossling: error: ") and "\n" not in err
    return err


@pytest.mark.parametrize(("option", "message"), [
    (["--n", "-5"], "--n must be > 0, got -5"),
    (["--n", "0"], "--n must be > 0, got 0"),
    (["--n", "1"], "--n 1: debiased_cka needs at least 4"),
    (["--n", "2"], "--n 2: debiased_cka needs at least 4"),
    (["--n", "2", "--measures", "linear_cka"], "--n 2: linear_cka needs at least 3"),
    (["--n", "100000"], "--n 100000: only 1000 parallel sentences are available for en, fr"),
    (["--n-boot", "-3"], "--n-boot must be >= 0, got -3"),
    (["--n-null", "-1"], "--n-null must be >= 0, got -1"),
    (["--batch-tokens", "0"], "--batch-tokens must be > 0, got 0"),
    (["--batch-tokens", "-10"], "--batch-tokens must be > 0, got -10"),
    (["--targets", "fr", "fr"], "--targets 'fr' is given twice"),
    (["--measures", "linear_cka", "linear_cka"], "--measures 'linear_cka' is given twice"),
    (["--device", "bogus"], "--device 'bogus': not a torch device"),
    (["--dtype", "half"], "--precision must be one of fp32, bf16, fp16, auto"),
])
def test_bad_option_values_are_one_line_errors(tiny_bert: Path, ud_dir: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str],
                                               option: list[str], message: str) -> None:
    argv = ["similarity", "--model", str(tiny_bert), "--data", str(ud_dir), "--targets", "fr",
            "--n-boot", "5", "--n-null", "5", "--out", str(tmp_path / "out"), *option]
    err = _error(capsys, argv)
    assert message in err
    assert not (tmp_path / "out" / "similarity.csv").exists()


@pytest.mark.parametrize("where", ["--out", "--cache"])
def test_unusable_output_folder_fails_before_any_encoding(
        tiny_bert: Path, ud_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    """A file in the way of --out (or --cache) used to fail after the sentences were encoded
    (mkdir of OUT/cache): now it is refused before the model is even loaded."""
    import crossling.cli.similarity as cli_similarity

    def must_not_run(**kwargs: object) -> None:
        raise AssertionError("similarity computed before the output folder was checked")

    monkeypatch.setattr(cli_similarity, "run_similarity", must_not_run)
    blocker = tmp_path / "blocker"
    blocker.write_text("a file")
    out, cache = (blocker / "x", tmp_path / "c") if where == "--out" else (tmp_path / "o", blocker)
    err = _error(capsys, ["similarity", "--model", str(tiny_bert), "--data", str(ud_dir),
                          "--targets", "fr", "--n", "10", "--out", str(out),
                          "--cache", str(cache)])
    assert err.startswith(f"crossling: error: {where} ") and "a file, not a folder" in err


def test_cuda_device_without_cuda_is_refused(tiny_bert: Path, ud_dir: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    err = _error(capsys, ["similarity", "--model", str(tiny_bert), "--data", str(ud_dir),
                          "--targets", "fr", "--n", "10", "--device", "cuda", "--out",
                          str(tmp_path)])
    assert "--device 'cuda': CUDA is not available" in err


def test_model_folder_without_tokenizer_is_refused(tiny_bert: Path, ud_dir: Path,
                                                   tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """It used to run to completion: a 5-token tokenizer, every word [UNK], CKA ~ 1."""
    import shutil

    bare = tmp_path / "bare"
    bare.mkdir()
    for f in ("config.json", "model.safetensors"):
        shutil.copy(tiny_bert / f, bare / f)
    err = _error(capsys, ["similarity", "--model", str(bare), "--data", str(ud_dir),
                          "--targets", "fr", "--n", "10", "--out", str(tmp_path / "out")])
    assert f"{bare}: no tokenizer files" in err


def test_no_bootstrap_is_shown_as_no_interval(tiny_bert: Path, ud_dir: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["similarity", "--model", str(tiny_bert), "--data", str(ud_dir), "--targets",
                 "fr", "--n", "12", "--n-boot", "0", "--n-null", "0", "--out", str(tmp_path)])
    assert code == 0
    assert "interval (ci_low, ci_high in similarity.csv): no interval (n_boot = 0)" in \
        capsys.readouterr().out
    df = pd.read_csv(tmp_path / "similarity.csv")
    assert df["ci_low"].isna().all() and df["value"].notna().all()
    assert (tmp_path / "similarity.png").is_file()


def test_layer_difference_option(tiny_bert: Path, ud_dir: Path, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["similarity", "--model", str(tiny_bert), "--data", str(ud_dir), "--targets",
                 "fr", "--n", "20", "--n-boot", "10", "--n-null", "5", "--out", str(tmp_path),
                 "--layer-difference"])
    assert code == 0
    rows = read_rows_csv(tmp_path / "similarity.csv")
    falls = [r for r in rows if r.kind == "layer-difference"]
    assert [(r.target, r.metric, r.compare_layer) for r in falls] == [
        ("fr", m, 4) for m in ("debiased_cka", "linear_cka", "rbf_cka")]
    assert "p_top_ge_peak" in falls[0].provenance["layer_difference"]
    printed = capsys.readouterr().out
    assert "debiased_cka, peak layer minus top layer" in printed
    assert f"fr: layer {falls[0].layer} - layer 4 = " in printed
    assert (tmp_path / "similarity.png").is_file()


@pytest.mark.parametrize("command", ["similarity", "retrieval", "probe"])
def test_one_file_as_two_targets_is_refused(command: str, tiny_bert: Path, ud_dir: Path,
                                            tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """`--targets fr fr_pud` analysed French PUD twice, as two targets."""
    code = main([command, "--model", str(tiny_bert), "--data", str(ud_dir), "--targets", "fr",
                 "fr_pud", "--out", str(tmp_path / "out")])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert "'fr_pud' and 'fr' name the same file" in err and "\n" not in err
    assert not (tmp_path / "out" / "cache").exists()


def test_dtype_is_the_precision_option_and_is_recorded(
        tiny_bert: Path, ud_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--dtype bfloat16`` (issue 26's spelling) is ``--precision bf16``: the rows say so, and
    their vectors are cached under another key than fp32's (same cache folder)."""
    runs = {}
    for flag in (["--dtype", "bfloat16"], ["--precision", "fp32"]):
        out = tmp_path / flag[1]
        code = main(["similarity", "--model", str(tiny_bert), "--data", str(ud_dir), "--targets",
                     "fr", "--n", "12", "--n-boot", "0", "--n-null", "0", "--out", str(out),
                     "--measures", "linear_cka", "--cache", str(tmp_path / "cache"), *flag])
        assert code == 0
        side = json.loads((out / "provenance.json").read_text())
        runs[flag[1]] = (pd.read_csv(out / "similarity.csv"), next(iter(side.values())))
    assert runs["bfloat16"][1]["extraction_precision"] == "bfloat16"
    assert runs["fp32"][1]["extraction_precision"] == "float32"
    assert len(list((tmp_path / "cache").glob("*.safetensors"))) == 4  # 2 languages x 2
    bf16, fp32 = runs["bfloat16"][0]["value"], runs["fp32"][0]["value"]
    assert (bf16 - fp32).abs().max() < 0.05 and not bf16.equals(fp32)
