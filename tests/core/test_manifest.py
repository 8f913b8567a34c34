"""Run-folder manifests: the same run resumes, another run is refused, overwrite starts afresh."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crossling.core.errors import ConfigError
from crossling.core.manifest import (
    MANIFEST,
    check_folder,
    claim_folder,
    differences,
    make_manifest,
    settings_key,
)

POS = {"task": "pos", "seed": 0, "train_config": {"epochs": 3, "lr": 5e-5}}


def test_key_is_a_stable_hash_of_the_settings() -> None:
    assert settings_key(POS) == settings_key(dict(reversed(list(POS.items()))))
    assert settings_key(POS) != settings_key({**POS, "seed": 1})
    record = make_manifest("finetune", POS)
    assert record["key"] == settings_key(POS) and record["settings"] == POS


def test_claim_writes_the_manifest_first_and_resumes_the_same_run(tmp_path: Path) -> None:
    out = tmp_path / "run"
    manifest = make_manifest("finetune", POS)
    assert check_folder(out, manifest) is False and not out.exists()  # checking creates nothing
    assert claim_folder(out, manifest) is False
    assert json.loads((out / MANIFEST).read_text()) == manifest
    (out / "scores.json").write_text("[]")
    assert check_folder(out, manifest) is True
    assert claim_folder(out, manifest) is True
    assert (out / "scores.json").exists()


def test_another_run_is_refused_naming_folder_and_settings(tmp_path: Path) -> None:
    out = tmp_path / "run"
    claim_folder(out, make_manifest("finetune", POS))
    (out / "scores.json").write_text("[]")
    other = make_manifest("finetune", {**POS, "task": "ner", "seed": 3,
                                       "train_config": {"epochs": 3, "lr": 1e-4}})
    with pytest.raises(ConfigError) as info:
        check_folder(out, other)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith(f"{out}: holds a different run")
    assert "seed (0 -> 3)" in msg and 'task ("pos" -> "ner")' in msg
    assert "train_config.lr" in msg and "train_config.epochs" not in msg
    assert "--overwrite" in msg
    with pytest.raises(ConfigError):
        claim_folder(out, other)
    assert (out / "scores.json").exists()
    assert claim_folder(out, other, overwrite=True, known=["scores.json"]) is False
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST]
    assert json.loads((out / MANIFEST).read_text())["key"] == other["key"]


def test_files_without_manifest_are_refused_and_foreign_folders_never_wiped(
        tmp_path: Path) -> None:
    old_run = tmp_path / "old"
    old_run.mkdir()
    (old_run / "scores.json").write_text("[]")  # written by a crossling without manifests
    (old_run / ".scores.json.a1b2c3d4.tmp.json").write_text("[")  # and its killed temporary
    manifest = make_manifest("finetune", POS)
    with pytest.raises(ConfigError, match=r"no manifest\.json"):
        claim_folder(old_run, manifest)
    claim_folder(old_run, manifest, overwrite=True, known=["scores.json"])
    assert not (old_run / "scores.json").exists()
    home = tmp_path / "home"
    home.mkdir()
    (home / "thesis.tex").write_text("precious")
    with pytest.raises(ConfigError, match="not a crossling run folder"):
        claim_folder(home, manifest, overwrite=True, known=["scores.json"])
    assert (home / "thesis.tex").read_text() == "precious"


def test_differences_lists_nested_settings() -> None:
    assert differences({"a": {"b": 1, "c": 2}}, {"a": {"b": 1, "c": 3}, "d": 4}) == \
        ["a.c (2 -> 3)", "d (null -> 4)"]


def test_overwrite_removes_only_the_previous_runs_files(tmp_path: Path) -> None:
    """--overwrite used to empty the whole folder, a user's notes.txt and analysis/ with it."""
    out = tmp_path / "run"
    claim_folder(out, make_manifest("finetune", POS))
    (out / "scores.json").write_text("[]")
    (out / "fit").mkdir()
    (out / "fit" / "last.pt").write_bytes(b"x")
    (out / "notes.txt").write_text("precious")
    (out / "analysis").mkdir()
    (out / "analysis" / "plot.py").write_text("print(1)")
    other = make_manifest("finetune", {**POS, "seed": 3})
    assert claim_folder(out, other, overwrite=True, known=["scores.json", "fit"]) is False
    assert sorted(p.name for p in out.iterdir()) == ["analysis", MANIFEST, "notes.txt"]
    assert (out / "notes.txt").read_text() == "precious"
    assert (out / "analysis" / "plot.py").read_text() == "print(1)"
    assert claim_folder(out, other) is True  # the new run resumes beside the user's files


def test_outputs_are_recorded_and_foreign_files_never_replaced(tmp_path: Path) -> None:
    from crossling.core.manifest import OUTPUTS, check_outputs, owned_outputs, writing_outputs

    out = tmp_path / "out"
    with writing_outputs(out, ["a.csv", "*.png"]):
        out.mkdir()
        (out / "a.csv").write_text("1")
        (out / "f.png").write_text("2")
    assert owned_outputs(out) == {"a.csv", "f.png"}
    check_outputs(out, ["a.csv", "*.png"])  # crossling's own files: fine to replace
    (out / "g.png").write_text("user's")
    (out / "b.csv").write_text("user's")  # not a name the command writes: no conflict
    with pytest.raises(ConfigError, match=r"g\.png exists and was not written by crossling"):
        check_outputs(out, ["a.csv", "*.png"])
    assert (out / OUTPUTS).is_file() and (out / "g.png").read_text() == "user's"
    (out / "g.png").unlink()
    (out / "a.csv").write_text("edited by hand, longer than before")  # changed since written
    with pytest.raises(ConfigError, match=r"a\.csv was changed since crossling wrote it"):
        check_outputs(out, ["a.csv", "*.png"])


def test_owned_outputs_survive_a_copy_and_catch_a_same_size_edit(tmp_path: Path) -> None:
    """The record holds content hashes: a fresh clone (new modification times) keeps the
    files crossling's, and an edit that keeps the size is still seen."""
    import os
    import shutil

    from crossling.core.manifest import check_outputs, owned_outputs, writing_outputs

    out = tmp_path / "out"
    with writing_outputs(out, ["*.csv"]):
        out.mkdir()
        (out / "a.csv").write_text("1,2")
        (out / "b.csv").write_text("3,4")
    clone = tmp_path / "clone"
    shutil.copytree(out, clone)  # copies bytes, new times: as a checkout of a committed report
    for p in clone.iterdir():
        os.utime(p, ns=(10**18, 10**18))
    assert owned_outputs(clone) == {"a.csv", "b.csv"}
    check_outputs(clone, ["*.csv"])
    (clone / "b.csv").write_text("3,5")  # same size, other content
    with pytest.raises(ConfigError, match=r"b\.csv was changed since crossling wrote it"):
        check_outputs(clone, ["*.csv"])
