from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from crossling.cli import main


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
    prov = json.loads(df["provenance"].iloc[0])
    assert prov["model"] == str(tiny_bert) and len(prov["data"]) == 3
    assert len(json.loads((out / "similarity.json").read_text())) == len(df)
    for png in ("similarity.png", "model-model.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    printed = capsys.readouterr().out
    assert "linear_cka per layer" in printed and "null (mean)" in printed


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
