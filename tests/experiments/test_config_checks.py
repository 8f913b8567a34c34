"""What can be known before a study's first cell runs is checked when the study loads: the model
folder (it exists, with config, weights and tokenizer), re-init groups within the model's depth
and ``max_length`` within its positions (from its config, no weights), sentence counts within
the parallel corpus. Each error is one line naming the file and the field path; before, each
surfaced as a failed cell after the other cells had trained."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from crossling.core.errors import ConfigError
from crossling.experiments.config import load_study
from crossling.experiments.grid import expand
from crossling.experiments.kinds import KINDS
from crossling.experiments.workflows import run_study

STUDY = """
name: checks
model: {model}
data: {{ud: {ud}}}
allow_test_training: true  # the fixture treebank has test files only
tasks:
  pos: {{train: [{train}], dev: [{train}], test: en, eval: [fr], max_train_sentences: 4{pos}}}
reinit: [REF, 1-2]
seeds: [0]
training: {{epochs: 1, batch_size: 4{training}}}
similarity: {{languages: [fr, de], measures: [linear_cka], n: 8, n_boot: 2, n_null: 2{sim}}}
retrieval: {{languages: [fr, de], n: 8, n_boot: 2, n_null: 2{ret}}}
"""


def _write(tmp_path: Path, fixture_dir: Path, model: Path | str, **extra: str) -> Path:
    fields = {"pos": "", "training": "", "sim": "", "ret": "", **extra}
    train = next((fixture_dir / "ud").glob("*/en_fixture-ud-test.conllu"))
    path = tmp_path / "study.yaml"
    path.write_text(STUDY.format(model=model, ud=fixture_dir / "ud", train=train, **fields),
                    encoding="utf-8")
    return path


def _refused(path: Path, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as err:
        load_study(path)
    text = str(err.value)
    assert "\n" not in text and text.startswith(f"{path}: "), text


def test_the_valid_study_loads(tmp_path: Path, fixture_dir: Path, fixture_bert: Path) -> None:
    assert expand(load_study(_write(tmp_path, fixture_dir, fixture_bert)))


@pytest.mark.parametrize(("extra", "message"), [
    # fixture_bert has 2 transformer blocks
    ({"pos": ", reinit: [REF, 2-3]"},
     r"study\.yaml: tasks\.pos\.reinit\[1\]: layer 3 of group '2-3' out of range 1\.\.2"),
    ({"pos": ", reinit: ['5']"}, r"tasks\.pos\.reinit\[0\]: layer 5 .* out of range 1\.\.2"),
    # 256 positions
    ({"training": ", max_length: 100000"},
     r"study\.yaml: training\.max_length: must be <= 256 .*, got 100000"),
    ({"pos": ", training: {max_length: 257}"},
     r"tasks\.pos\.training\.max_length: must be <= 256 .*, got 257"),
    # the fixture treebank has 8 parallel sentences
    ({"sim": ", after_n: 9"}, r"similarity\.after_n: must be <= 8, the parallel sentences"),
])
def test_model_and_corpus_limits_are_refused_at_load(tmp_path: Path, fixture_dir: Path,
                                                     fixture_bert: Path, extra: dict[str, str],
                                                     message: str) -> None:
    _refused(_write(tmp_path, fixture_dir, fixture_bert, **extra), message)


def test_study_wide_groups_beyond_the_depth_are_refused(tmp_path: Path, fixture_dir: Path,
                                                        fixture_bert: Path) -> None:
    path = _write(tmp_path, fixture_dir, fixture_bert)
    path.write_text(path.read_text().replace("reinit: [REF, 1-2]", "reinit: [REF, 1-2, 3-4]"))
    _refused(path, r"study\.yaml: reinit\[2\]: layer 3 of group '3-4' out of range 1\.\.2 "
                   r"\(.* has 2 transformer blocks\)")


def test_sentence_counts_beyond_the_corpus_are_refused(tmp_path: Path, fixture_dir: Path,
                                                       fixture_bert: Path) -> None:
    path = _write(tmp_path, fixture_dir, fixture_bert)
    text = path.read_text()
    path.write_text(text.replace("measures: [linear_cka], n: 8", "measures: [linear_cka], n: 9"))
    _refused(path, r"similarity\.n: must be <= 8, the parallel sentences of en, fr, de .*got 9")
    path.write_text(text.replace("retrieval: {languages: [fr, de], n: 8",
                                 "retrieval: {languages: [fr, de], n: 1000"))
    _refused(path, r"retrieval\.n: must be <= 8, .*got 1000")


def test_a_roberta_models_padding_offset_is_taken_off_its_positions(
        tmp_path: Path, fixture_dir: Path, tiny_xlmr: Path) -> None:
    """XLM-R's positions start after the padding index: 260 embeddings, 258 usable."""
    ok = _write(tmp_path, fixture_dir, tiny_xlmr, training=", max_length: 258")
    load_study(ok)
    _refused(_write(tmp_path, fixture_dir, tiny_xlmr, training=", max_length: 259"),
             r"training\.max_length: must be <= 258")


@pytest.mark.parametrize("remove", ["folder", "config.json", "weights", "tokenizer"])
def test_a_missing_model_folder_or_part_is_refused_at_load(tmp_path: Path, fixture_dir: Path,
                                                           fixture_bert: Path,
                                                           remove: str) -> None:
    model = tmp_path / "models" / "bert"
    shutil.copytree(fixture_bert, model)
    if remove == "folder":
        shutil.rmtree(model)
    elif remove == "weights":
        for f in model.glob("*.safetensors"):
            f.unlink()
    elif remove == "tokenizer":
        for f in ("tokenizer.json", "tokenizer_config.json", "vocab.txt",
                  "special_tokens_map.json"):
            (model / f).unlink(missing_ok=True)
    else:
        (model / remove).unlink()
    _refused(_write(tmp_path, fixture_dir, model),
             r"study\.yaml: model: .*bert: (no such model folder|no config\.json|no weight "
             r"files|no tokenizer files)")


def test_a_relative_path_beside_an_existing_folder_is_a_missing_folder(
        tmp_path: Path, fixture_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``models/e5-smal`` (a typo) beside a ``models`` folder is a missing folder, not a Hub
    model to look up at cell time."""
    (tmp_path / "models").mkdir()
    monkeypatch.chdir(tmp_path)
    _refused(_write(tmp_path, fixture_dir, "models/e5-smal"),
             r"model: models/e5-smal: no such model folder")


def test_a_broken_config_is_refused_at_load(tmp_path: Path, fixture_dir: Path,
                                            fixture_bert: Path) -> None:
    model = tmp_path / "bert"
    shutil.copytree(fixture_bert, model)
    (model / "config.json").write_text(json.dumps({"model_type": "no-such-type"}))
    _refused(_write(tmp_path, fixture_dir, model), r"model: .*cannot load model config")


def test_a_refused_study_runs_no_cell(tmp_path: Path, fixture_dir: Path, fixture_bert: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The check comes before the first cell: nothing runs, no store is written."""
    ran: list[str] = []
    for kind, module in KINDS.items():
        def record(params: Any, workdir: Path, _k: str = kind) -> Any:
            ran.append(_k)
            raise AssertionError("a cell ran")
        monkeypatch.setattr(module, "run", record)
    path = _write(tmp_path, fixture_dir, fixture_bert, pos=", reinit: [REF, 1-2, 3-4]")
    store = tmp_path / "run" / "results.sqlite"
    with pytest.raises(ConfigError, match=r"tasks\.pos\.reinit\[2\]"):
        run_study(path, store=store)
    assert ran == [] and not store.exists()


# --- presets and several models ---------------------------------------------------------------


@pytest.fixture(scope="module")
def fixture_bert3(tmp_path_factory: pytest.TempPathFactory, fixture_bert: Path) -> Path:
    """fixture_bert's tokenizer on a 3-block BERT: a second depth."""
    from transformers import AutoTokenizer

    from tests.conftest import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("bert3"), "bert",
                            AutoTokenizer.from_pretrained(fixture_bert), layers=3)


def _keys(path: Path) -> dict[str, str]:
    return {c.label: c.key for c in expand(load_study(path))}


def test_a_preset_gives_the_cells_and_keys_of_its_explicit_groups(
        tmp_path: Path, fixture_dir: Path, fixture_bert: Path) -> None:
    explicit = _keys(_write(tmp_path, fixture_dir, fixture_bert))
    path = _write(tmp_path, fixture_dir, fixture_bert)
    path.write_text(path.read_text().replace("reinit: [REF, 1-2]", "reinit: [REF, pairs]"))
    assert _keys(path) == explicit  # 2 blocks: pairs = 1-2, same labels and keys
    path.write_text(path.read_text().replace("reinit: [REF, pairs]", "reinit: [REF, each]"))
    groups = {c.params.reinit for c in expand(load_study(path)) if c.kind == "finetune"}
    assert groups == {"REF", "1", "2"}


def test_a_preset_deeper_than_the_model_is_refused_at_load(
        tmp_path: Path, fixture_dir: Path, fixture_bert: Path) -> None:
    path = _write(tmp_path, fixture_dir, fixture_bert, pos=", reinit: [REF, thirds]")
    _refused(path, r"study\.yaml: tasks\.pos\.reinit\[1\]: re-init preset 'thirds' needs at "
                   r"least 3 blocks; the model has 2")
    path = _write(tmp_path, fixture_dir, fixture_bert, pos=", reinit: [REF, 'pairs:2']")
    _refused(path, r"tasks\.pos\.reinit\[1\]: .*pairs of 2 blocks has 1 groups \(1-2\)")


def test_similarity_after_may_name_a_preset_or_its_groups(
        tmp_path: Path, fixture_dir: Path, fixture_bert: Path) -> None:
    path = _write(tmp_path, fixture_dir, fixture_bert, pos=", reinit: [REF, each]",
                  sim=", after: ['2']")
    afters = {c.params.reinit for c in expand(load_study(path)) if c.kind == "similarity_ft"}
    assert afters == {"2"}
    path = _write(tmp_path, fixture_dir, fixture_bert, pos=", reinit: [REF, each]",
                  sim=", after: [pairs]")
    _refused(path, r"similarity\.after\[0\]: '1-2' \('pairs' for .*, 2 blocks\) is not a "
                   r"re-init group of any task")


def test_two_models_of_different_depth_expand_each_on_its_own(
        tmp_path: Path, fixture_dir: Path, fixture_bert: Path, fixture_bert3: Path) -> None:
    single = _write(tmp_path, fixture_dir, fixture_bert)
    single.write_text(single.read_text().replace("reinit: [REF, 1-2]", "reinit: [REF, pairs]"))
    alone = {c.key for c in expand(load_study(single))}
    both = tmp_path / "both.yaml"
    both.write_text(single.read_text().replace(f"model: {fixture_bert}",
                                               f"model: [{fixture_bert}, {fixture_bert3}]"))
    study = load_study(both)
    assert study.all_models == (str(fixture_bert), str(fixture_bert3))
    assert study.depths == {str(fixture_bert): 2, str(fixture_bert3): 3}
    cells = expand(study)
    by_model: dict[str, set[str]] = {}
    for c in cells:
        by_model.setdefault(c.params.model, set()).add(c.key)  # type: ignore[attr-defined]
    assert by_model[str(fixture_bert)] == alone  # the first model's keys as in its own study
    assert not by_model[str(fixture_bert)] & by_model[str(fixture_bert3)]
    groups = {c.params.reinit for c in cells  # type: ignore[attr-defined]
              if c.kind == "finetune" and c.params.model == str(fixture_bert3)}
    assert groups == {"REF", "1-2", "3"}  # pairs of 3 blocks
    for c in cells:  # a cell depends only on cells of its own model
        model = c.params.model  # type: ignore[attr-defined]
        assert all(d in by_model[model] for d in c.depends_on), c.label
    # a deep explicit group must fit every model
    both.write_text(both.read_text().replace("reinit: [REF, pairs]", "reinit: [REF, '3']"))
    _refused(both, r"reinit\[1\]: layer 3 of group '3' out of range 1\.\.2")


def test_a_model_listed_twice_is_refused(tmp_path: Path, fixture_dir: Path,
                                         fixture_bert: Path) -> None:
    path = _write(tmp_path, fixture_dir, f"[{fixture_bert}, {fixture_bert}/]")
    _refused(path, r"study\.yaml: model\[1\]: duplicate of model\[0\]")
