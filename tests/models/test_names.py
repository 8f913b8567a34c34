"""A model name that cannot load fails at once with one line, without a Hub look-up."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from crossling.cli import build_parser, main


def _no_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    build_parser()  # the time bound is for the check, not for importing the subcommands
    from transformers import AutoConfig, AutoModel, AutoTokenizer  # noqa: F401

    def refuse(*a: object, **k: object) -> None:
        raise AssertionError("the Hugging Face Hub was asked")

    for cls in ("AutoConfig", "AutoTokenizer", "AutoModel"):
        monkeypatch.setattr(f"transformers.{cls}.from_pretrained", refuse)


@pytest.mark.parametrize("model", ["./missing-model", "runs/finetune/missing/encoder",
                                   "missing-folder/", "/nonexistent/e5-small"])
@pytest.mark.parametrize("command", ["probe", "finetune", "similarity", "retrieval"])
def test_a_missing_model_folder_is_one_line_at_once(
        command: str, model: str, ud_dir: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    _no_hub(monkeypatch)
    monkeypatch.chdir(tmp_path)
    argv = {"probe": ["probe", "--data", str(ud_dir), "--targets", "fr"],
            "finetune": ["finetune", "--task", "pos", "--data", str(ud_dir.parent),
                         "--eval", "fr"],
            "similarity": ["similarity", "--data", str(ud_dir), "--targets", "fr"],
            "retrieval": ["retrieval", "--data", str(ud_dir), "--targets", "fr"]}[command]
    start = time.perf_counter()
    code = main([*argv, "--model", model])
    assert time.perf_counter() - start < 2
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err == [f"crossling: error: {model}: no such model folder"]


@pytest.mark.parametrize("variable", ["HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"])
def test_an_uncached_hub_name_offline_is_one_line_at_once(
        variable: str, ud_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """`models/e5-small` (a mistyped folder in the form of a Hub id) spent ~50 s in Hub
    retries without network before failing."""
    monkeypatch.setenv(variable, "1")
    _no_hub(monkeypatch)
    start = time.perf_counter()
    code = main(["probe", "--model", "models/e5-small", "--data", str(ud_dir), "--targets",
                 "fr", "--out", str(tmp_path / "out")])
    assert time.perf_counter() - start < 2
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0].startswith("crossling: error: models/e5-small: no such local model folder, "
                             "and not in the Hugging Face cache (offline mode")


def test_an_unreachable_hub_is_said_at_once(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    from crossling.core.errors import ModelError
    from crossling.models import names

    def unreachable(*a: object, **k: object) -> None:
        raise OSError("no route")

    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HTTPS_PROXY", "https_proxy",
                "ALL_PROXY", "all_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "https://hub.invalid")
    monkeypatch.setattr(socket, "create_connection", unreachable)
    names._reachable.cache_clear()
    with pytest.raises(ModelError, match=r"^org/model: no such local model folder, not in the "
                                         r"Hugging Face cache, and https://hub\.invalid cannot "
                                         r"be reached$"):
        names.check_model_name("org/model")
    with pytest.raises(ModelError, match="nor a valid Hugging Face model id"):
        names.check_model_name("my model")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ModelError, match="a file, not a model folder"):
        names.check_model_name(str(tmp_path / "file"))
    names.check_model_name(str(tmp_path))  # a folder: whatever it holds is checked on loading
    names.check_model_name("org/model", hub=False)  # a Hub id: no look-up asked
    names._reachable.cache_clear()


def test_a_study_with_a_missing_model_folder_fails_before_any_cell(
        tmp_path: Path, ud_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    study = tmp_path / "s.yaml"
    study.write_text(f"name: s\nmodel: ./no/such/model\ndata: {{ud: {ud_dir}}}\n"
                     "similarity: {languages: [fr], n: 20}\n", encoding="utf-8")
    code = main(["run", str(study), "--store", str(tmp_path / "r.sqlite"), "--dry-run"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err == [f"crossling: error: {study}: model: ./no/such/model: no such "
                                 "model folder"]
