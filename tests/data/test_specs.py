from __future__ import annotations

from pathlib import Path

import pytest

from crossling.core.errors import ConfigError
from crossling.data.specs import (
    DEFAULT_TEST,
    DataFolders,
    FileSpecs,
    default_train,
    resolve_spec,
    resolve_task_files,
)
from crossling.experiments.config import load_study
from crossling.experiments.grid import expand

STUDY = """
name: same-files
model: m
data: {{ud: ud, ner: ner}}
tasks:
  pos: {{eval: [fr, de]}}
  parsing: {{eval: [fr, de]}}
  ner: {{eval: [de]}}
reinit: [REF]
"""


def test_defaults() -> None:
    assert default_train("pos") == default_train("parsing") == "en_ewt"
    assert default_train("ner") == "en" and DEFAULT_TEST == "en"


def test_folders_under_a_root_and_a_direct_folder(data_dir: Path) -> None:
    assert DataFolders.under(data_dir) == DataFolders(data_dir / "ud", data_dir / "ner")
    ud = data_dir / "ud"
    assert DataFolders.under(ud) == DataFolders(ud, ud)  # a UD folder passed directly
    assert DataFolders.under(None) == DataFolders(None, None)


def test_file_paths_pass_through_and_codes_need_a_folder(tmp_path: Path) -> None:
    f = tmp_path / "x.conllu"
    f.write_text("", encoding="utf-8")
    assert resolve_spec("pos", str(f), "train", DataFolders(None, None)) == f
    with pytest.raises(ConfigError, match=r"'fr' is not a file and no NER data folder"):
        resolve_spec("ner", "fr", "test", DataFolders(tmp_path, None))


@pytest.mark.parametrize("task", ["pos", "parsing", "ner"])
def test_cli_and_study_resolve_the_same_specs_to_the_same_files(
        task: str, data_dir: Path, tmp_path: Path) -> None:
    """The CLI finetune and a study share resolution and defaults: the CLI's defaults used to
    live in cli/finetune.py and the study's in experiments/kinds/finetune.py."""
    study_file = tmp_path / "study.yaml"
    study_file.write_text(STUDY.format(), encoding="utf-8")
    cells = [c for c in expand(load_study(study_file, data=data_dir))
             if c.kind == "finetune" and c.params.task == task]
    assert len(cells) == 1
    params = cells[0].params
    evals = ["de"] if task == "ner" else ["fr", "de"]
    cli = resolve_task_files(task, DataFolders.under(data_dir), FileSpecs(evals=evals))
    assert [str(p) for p in cli.train] == params.train
    assert [str(p) for p in cli.dev] == params.dev
    assert {k: str(v) for k, v in cli.evals.items()} == params.evals
    assert cli.source == params.source == DEFAULT_TEST


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"evals": ["fr", "fr_pud"]}, r"eval: 'fr_pud' and 'fr' name the same file \(.*fr_pud-ud"),
    ({"evals": ["fr", "fr"]}, r"eval: 'fr' is given twice"),
    ({"evals": ["en_pud"]}, r"eval: 'en_pud' is the source test set \(en: "),
    ({"evals": ["fr"], "test": "en_pud"}, None),
    ({"train": ["en_ewt", "en_ewt:train"]}, r"train: 'en_ewt:train' and 'en_ewt' name the same"),
    ({"dev": ["en_ewt:dev", "en_ewt"]}, r"dev: 'en_ewt' and 'en_ewt:dev' name the same"),
])
def test_one_file_under_two_specs_is_refused(data_dir: Path, kwargs: dict[str, object],
                                             message: str | None) -> None:
    """``--eval fr fr_pud`` scored French PUD twice as two targets; ``--eval fr fr`` kept one."""
    folders = DataFolders.under(data_dir)
    if message is None:
        assert resolve_task_files("pos", folders, FileSpecs(**kwargs)).source == "en_pud"  # type: ignore[arg-type]
        return
    with pytest.raises(ConfigError, match=message):
        resolve_task_files("pos", folders, FileSpecs(**kwargs))  # type: ignore[arg-type]
