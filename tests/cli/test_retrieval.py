"""``crossling retrieval`` on a tiny model: files, printout, cache reuse, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from crossling.cli import main
from crossling.results import SimilarityRow, read_rows_csv


def test_retrieval_cli_end_to_end(tiny_bert: Path, ud_dir: Path, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code = main(["retrieval", "--model", str(tiny_bert), "--data", str(ud_dir), "--source", "en",
                 "--targets", "fr", "ru", "--n", "20", "--n-boot", "50", "--n-null", "20",
                 "--device", "cpu", "--out", str(out)])
    assert code == 0
    df = pd.read_csv(out / "retrieval.csv")
    assert len(df) == 2 * 5 * 3 * 2  # targets x (4 blocks + embeddings) x variants x directions
    assert set(df["kind"]) == {"retrieval"} and set(df["target"]) == {"fr", "ru"}
    assert (df["n"] == 20).all() and (df["null_mean"] == 1 / 20).all()
    assert ((df["value"] >= 0) & (df["value"] <= 1)).all()
    assert ((df["ci_low"] <= df["value"]) & (df["value"] <= df["ci_high"])).all()
    rows = read_rows_csv(out / "retrieval.csv")
    assert rows == [SimilarityRow(**r) for r in
                    json.loads((out / "retrieval.json").read_text())]
    prov = rows[0].provenance
    assert prov["analysis"] == "retrieval" and prov["margin_k"] == 4
    assert "bootstrap over query sentences" in prov["metric_variants"]["interval"]
    assert (out / "retrieval.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    printed = capsys.readouterr().out
    assert "P@1 per layer, cosine scoring, mean of the two directions" in printed
    assert "chance (1/n)" in printed and "0.050" in printed


def test_similarity_and_retrieval_share_the_vector_cache(
        tiny_bert: Path, ud_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    common = ["--model", str(tiny_bert), "--data", str(ud_dir), "--targets", "fr", "--n", "12",
              "--n-boot", "5", "--n-null", "5", "--device", "cpu", "--cache", str(cache)]
    assert main(["similarity", *common, "--out", str(tmp_path / "sim")]) == 0
    from crossling.similarity import extract

    def no_encoding(*args: object, **kwargs: object) -> None:
        raise AssertionError("the retrieval command re-encoded cached sentences")

    monkeypatch.setattr(extract, "extract", no_encoding)
    assert main(["retrieval", *common, "--variants", "centred", "--out",
                 str(tmp_path / "ret")]) == 0
    assert set(pd.read_csv(tmp_path / "ret" / "retrieval.csv")["metric"]) == {
        "retrieval_p1_centred_s2t", "retrieval_p1_centred_t2s"}


def _error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert err.startswith("crossling: error: ") and "\n" not in err
    return err


@pytest.mark.parametrize(("option", "message"), [
    (["--n", "1"], "--n must be >= 2, got 1"),
    (["--n", "-5"], "--n must be >= 2, got -5"),
    (["--n", "3"], "--n must be >= 4 with the margin (k = 4 neighbours per query), got 3"),
    (["--n", "3", "--variants", "cosine"], None),  # 2 suffice without the margin
    (["--n", "100000"], "--n must be <= 1000, the parallel sentences of en, fr, got 100000"),
    (["--variants", "cosine", "cosine"], "--variants 'cosine' is given twice"),
    (["--targets", "fr", "fr"], "--targets 'fr' is given twice"),
    (["--targets", "en"], "--targets include the source language 'en'"),
    (["--targets", "xx"], "unknown language 'xx'"),
    (["--n-boot", "-1"], "--n-boot must be >= 0, got -1"),
    (["--layers", "0", "0"], "--layers 0 is given twice"),
    (["--device", "tpu"], "tpu"),
])
def test_bad_options_are_one_line_errors(tiny_bert: Path, ud_dir: Path, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str], option: list[str],
                                         message: str | None) -> None:
    argv = ["retrieval", "--model", str(tiny_bert), "--data", str(ud_dir), "--n-boot", "5",
            "--n-null", "5", "--device", "cpu", "--out", str(tmp_path / "o"), *option]
    if "--targets" not in option:
        argv += ["--targets", "fr"]
    if message is None:
        assert main(argv) == 0
        return
    assert message in _error(capsys, argv)
