from __future__ import annotations

from pathlib import Path

import pytest

from crossling.errors import ConfigError
from crossling.experiments.study import expand, load_study

BASE = """
name: t
model: {model}
data: {{ud: {ud}, ner: {ner}}}
tasks:
  pos: {{train: [en_ewt], dev: [en_ewt], test: en, eval: [fr, de], max_train_sentences: 20}}
reinit: [REF, 1-2]
seeds: [0, 1]
training: {{epochs: 1, batch_size: 8}}
similarity: {{languages: [fr, de], n: 20, n_boot: 10, n_null: 5}}
"""


def _write(tmp_path: Path, data_dir: Path, text: str = BASE, model: str = "m") -> Path:
    p = tmp_path / "study.yaml"
    p.write_text(text.format(model=model, ud=data_dir / "ud", ner=data_dir / "ner"),
                 encoding="utf-8")
    return p


def test_expansion_and_stable_keys(tmp_path: Path, data_dir: Path) -> None:
    study = load_study(_write(tmp_path, data_dir))
    cells = expand(study)
    kinds = [c.kind for c in cells]
    assert kinds.count("finetune") == 4 and kinds.count("similarity") == 1
    assert kinds.count("similarity_ft") == 2  # REF x 2 seeds
    ft = {c.key: c for c in cells if c.kind == "finetune"}
    for c in cells:
        if c.kind == "similarity_ft":
            assert c.depends_on[0] in ft and ft[c.depends_on[0]].params["reinit"] == "REF"
    assert len({c.key for c in cells}) == len(cells)
    # adding a seed and a target-free field keeps every existing key
    more = BASE.replace("seeds: [0, 1]", "seeds: [0, 1, 2]")
    keys = {c.key for c in expand(load_study(_write(tmp_path, data_dir, more)))}
    assert {c.key for c in cells} <= keys and len(keys) == len(cells) + 3
    # changing training changes the finetune keys, not the pretrained similarity key
    other = BASE.replace("epochs: 1", "epochs: 2")
    changed = {c.key: c.kind for c in expand(load_study(_write(tmp_path, data_dir, other)))}
    assert [k for k in changed if changed[k] == "similarity"] == \
        [c.key for c in cells if c.kind == "similarity"]
    assert not set(ft) & set(changed)


@pytest.mark.parametrize(("old", "new", "message"), [
    ("eval: [fr, de]", "eval: [fr, xx]", r"study\.yaml: tasks\.pos\.eval\[1\]: unknown language"),
    ("reinit: [REF, 1-2]", "reinit: [REF, a-b]", r"reinit\[1\]: bad re-init group"),
    ("seeds: [0, 1]", "seeds: [0, x]", r"seeds: expected a non-empty list of integers"),
    ("training: {epochs: 1", "training: {epoch: 1", r"training\.epoch: unknown field"),
    ("n_null: 5}", "n_null: 5, pooling: max}", r"similarity\.pooling: unknown pooling"),
    ("tasks:", "taskz:", r"taskz: unknown field"),
    ("batch_size: 8", "batch_size: eight", r"training\.batch_size: expected int, got str"),
])
def test_errors_name_file_field_and_problem(tmp_path: Path, data_dir: Path, old: str, new: str,
                                            message: str) -> None:
    text = BASE.replace(old.replace("{", "{{") if "{" in old else old,
                        new.replace("{", "{{") if "{" in new else new)
    assert text != BASE
    with pytest.raises(ConfigError, match=message) as err:
        load_study(_write(tmp_path, data_dir, text))
    assert "\n" not in str(err.value)


def test_invalid_yaml_has_a_line(tmp_path: Path) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text("name: x\ntasks: [\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.yaml:\d+: invalid YAML"):
        load_study(p)


def test_shipped_studies_are_valid(data_dir: Path) -> None:
    """Every study file in studies/ loads and expands (a broken one would only fail for the
    user); the paper's two studies cover REF and all six layer pairs."""
    files = sorted((Path(__file__).resolve().parents[2] / "studies").glob("*.yaml"))
    assert len(files) >= 3
    for path in files:
        study = load_study(path, data=data_dir)
        cells = expand(study)
        assert sum(c.kind == "finetune" for c in cells) == \
            len(study.tasks) * len(study.reinit) * len(study.seeds), path.name
        if path.name.startswith("first-align-then-predict"):
            assert study.reinit == ["REF", "1-2", "3-4", "5-6", "7-8", "9-10", "11-12"]
