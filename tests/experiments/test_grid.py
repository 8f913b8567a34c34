"""A study cell's key covers every input by role: which file is training and which dev data,
which language a file is, and every file of a local model folder (config, tokenizer, weights).
A change that keeps the key would report the old cell's result as the new one's."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from crossling.experiments.cell import Cell
from crossling.experiments.config import load_study
from crossling.experiments.grid import expand

STUDY = """
name: keys
model: {model}
data: {{ud: {ud}}}
tasks:
  pos: {{train: {train}, dev: {dev}, test: {test}, eval: [{eval}], max_train_sentences: 4}}
seeds: [0]
training: {{epochs: 1, batch_size: 4}}
similarity: {{languages: [fr, de], measures: [linear_cka], n: 8, n_boot: 2, n_null: 2}}
retrieval: {{languages: [fr, de], n: 8, n_boot: 2, n_null: 2}}
probe: {{train: {probe_train}, targets: [fr, de], n_boot: 2}}
"""


@pytest.fixture
def world(tmp_path: Path, fixture_dir: Path, fixture_bert: Path) -> dict[str, Path]:
    """A copy of the fixture treebank and of the fixture model (both edited by the tests), and
    three distinct training files."""
    ud = tmp_path / "ud"
    shutil.copytree(fixture_dir / "ud", ud)
    model = tmp_path / "model"
    shutil.copytree(fixture_bert, model)
    files = {}
    for lang in ("en", "fr", "de"):
        src = next((ud).glob(f"*/{lang}_fixture-ud-test.conllu"))
        files[lang] = tmp_path / f"train_{lang}.conllu"
        shutil.copy(src, files[lang])
    return {"ud": ud, "model": model, **files}


def _cells(tmp_path: Path, world: dict[str, Path], **fields: str) -> dict[str, Cell]:
    values = {"model": str(world["model"]), "ud": str(world["ud"]),
              "train": f"[{world['en']}, {world['fr']}]", "dev": f"[{world['de']}]",
              "test": "en", "eval": "fr", "probe_train": str(world["en"]), **fields}
    path = tmp_path / "study.yaml"
    path.write_text(STUDY.format(**values), encoding="utf-8")
    return {c.label: c for c in expand(load_study(path))}


def _keys(cells: dict[str, Cell]) -> dict[str, str]:
    return {label: c.key for label, c in cells.items()}


def test_training_and_dev_files_are_keyed_by_role(tmp_path: Path,
                                                  world: dict[str, Path]) -> None:
    base = _keys(_cells(tmp_path, world))
    label = "finetune pos reinit=REF seed=0"
    en, fr, de = (str(world[x]) for x in ("en", "fr", "de"))
    for train, dev in [(f"[{de}]", f"[{en}, {fr}]"),  # train and dev swapped
                       (f"[{en}]", f"[{fr}, {de}]"),  # fr moved from train to dev
                       (f"[{fr}, {en}]", f"[{de}]")]:  # the same files in another order
        moved = _keys(_cells(tmp_path, world, train=train, dev=dev))
        # the fine-tuning cell and the one measuring its model change, nothing else
        changed = {k for k in base if moved[k] != base[k]}
        assert changed == {label, "similarity after pos seed=0"}, (train, dev)


def test_source_and_target_test_sets_are_keyed_by_role(tmp_path: Path,
                                                       world: dict[str, Path]) -> None:
    """``test: en, eval: [fr]`` and ``test: fr, eval: [en]`` score the same files, but the
    source row is another language."""
    base = _keys(_cells(tmp_path, world))
    swapped = _keys(_cells(tmp_path, world, test="fr", eval="en"))
    label = "finetune pos reinit=REF seed=0"
    assert swapped[label] != base[label]


def test_each_languages_file_is_keyed_by_language(tmp_path: Path,
                                                  world: dict[str, Path]) -> None:
    """The fr and de PUD files' contents swapped: every cell reading them measures other
    sentences per language, so none may keep its key."""
    base = _keys(_cells(tmp_path, world))
    fr = next(world["ud"].glob("*/fr_fixture-ud-test.conllu"))
    de = next(world["ud"].glob("*/de_fixture-ud-test.conllu"))
    fr_text, de_text = fr.read_bytes(), de.read_bytes()
    fr.write_bytes(de_text)
    de.write_bytes(fr_text)
    swapped = _keys(_cells(tmp_path, world))
    for label in ("similarity (pretrained)", "retrieval (pretrained)",
                  "probe (pretrained, 2 targets)"):
        assert swapped[label] != base[label], label


@pytest.mark.parametrize("edit", ["config.json", "tokenizer.json", "tokenizer_config.json"])
def test_every_file_of_a_local_model_folder_is_in_every_key(tmp_path: Path,
                                                            world: dict[str, Path],
                                                            edit: str) -> None:
    base = _keys(_cells(tmp_path, world))
    path = world["model"] / edit
    assert path.is_file()
    data = json.loads(path.read_text(encoding="utf-8"))
    if edit == "config.json":
        data["hidden_act"] = "relu" if data.get("hidden_act") != "relu" else "gelu"
    elif edit == "tokenizer.json":
        data["normalizer"] = {"type": "Lowercase"}
    else:
        data["model_max_length"] = 17
    path.write_text(json.dumps(data), encoding="utf-8")
    edited = _keys(_cells(tmp_path, world))
    assert set(edited) == set(base)
    assert all(edited[label] != base[label] for label in base), edit


def test_unchanged_inputs_keep_every_key(tmp_path: Path, world: dict[str, Path]) -> None:
    assert _keys(_cells(tmp_path, world)) == _keys(_cells(tmp_path, world))
