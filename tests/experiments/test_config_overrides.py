"""Per-task overrides, fine-tuned similarity of chosen groups and seeds, seed pairs."""

from __future__ import annotations

from pathlib import Path

import pytest

from crossling.core.errors import ConfigError
from crossling.experiments.config import load_study
from crossling.experiments.grid import estimate_cost, expand

BASE = """
name: t
model: m
data: {{ud: {ud}, ner: {ner}}}
tasks:
  pos: {{train: [en_ewt], dev: [en_ewt], test: en, eval: [fr], max_train_sentences: 20}}
  parsing: {{train: [en_ewt], dev: [en_ewt], test: en, eval: [fr], max_train_sentences: 20}}
reinit: [REF, 1-2, 3-4]
seeds: [0, 1, 2]
training: {{epochs: 1, batch_size: 8, head_lr: 0.001}}
similarity: {{languages: [fr, de], n: 20, n_boot: 10, n_null: 5}}
"""

OVERRIDES = BASE.replace(
    "  parsing: {{train: [en_ewt], dev: [en_ewt], test: en, eval: [fr], max_train_sentences: 20}}",
    "  parsing: {{train: [en_ewt], dev: [en_ewt], test: en, eval: [fr], max_train_sentences: 20,\n"
    "            reinit: [REF, 3-4], training: {{epochs: 3, head_lr: 0.01}}}}")


def _load(tmp_path: Path, data_dir: Path, text: str):  # type: ignore[no-untyped-def]
    p = tmp_path / "study.yaml"
    p.write_text(text.format(ud=data_dir / "ud", ner=data_dir / "ner"), encoding="utf-8")
    return load_study(p)


def _kinds(cells: list) -> dict[str, int]:  # type: ignore[type-arg]
    out: dict[str, int] = {}
    for c in cells:
        out[c.kind] = out.get(c.kind, 0) + 1
    return out


def test_task_overrides_merge_and_change_only_that_tasks_keys(tmp_path: Path,
                                                              data_dir: Path) -> None:
    base = _load(tmp_path, data_dir, BASE)
    study = _load(tmp_path, data_dir, OVERRIDES)
    parsing = study.tasks[1]
    assert study.task_reinit(parsing) == ["REF", "3-4"]
    assert study.task_reinit(study.tasks[0]) == ["REF", "1-2", "3-4"]
    cfg = study.task_training(parsing)
    assert (cfg.epochs, cfg.head_lr, cfg.batch_size) == (3, 0.01, 8)  # merged over the top
    assert study.task_training(study.tasks[0]) == base.training
    old, new = expand(base), expand(study)
    assert _kinds(new)["finetune"] == 3 * 3 + 2 * 3
    keys_of = {(c.params.task, c.params.reinit, c.params.seed): c.key
               for c in old if c.kind == "finetune"}
    for c in new:
        if c.kind == "finetune":
            same = keys_of[(c.params.task, c.params.reinit, c.params.seed)] == c.key
            assert same == (c.params.task == "pos")
            if c.params.task == "parsing":
                assert c.params.training.epochs == 3
    # the pretrained similarity and the pos cells are untouched
    kept = {c.key for c in old if getattr(c.params, "task", None) != "parsing"}
    assert kept <= {c.key for c in new}
    cost = estimate_cost(new)
    # 3 x 20 sentences x epochs to train, 1000 per evaluation set (en, fr) plus one: per task
    assert cost["finetune"] == 9 * (3 * 20 * 1 + 3000) + 6 * (3 * 20 * 3 + 3000)
    assert estimate_cost(old)["finetune"] == 18 * (3 * 20 * 1 + 3000)


def test_after_groups_seeds_n_languages_and_seed_pairs_expand(tmp_path: Path,
                                                              data_dir: Path) -> None:
    plain = expand(_load(tmp_path, data_dir, OVERRIDES))
    assert _kinds(plain)["similarity_ft"] == 2 * 3  # REF x 3 seeds x 2 tasks
    text = OVERRIDES.replace(
        "n_null: 5}}", "n_null: 5, after: [REF, 1-2], after_seeds: [0, 2], after_n: 10,\n"
                       "             after_languages: [fr], seed_pairs: true}}")
    study = _load(tmp_path, data_dir, text)
    assert study.similarity.after_groups == ["REF", "1-2"]
    cells = expand(study)
    kinds = _kinds(cells)
    # pos: REF and 1-2 x seeds 0, 2; parsing lacks 1-2: REF x seeds 0, 2
    assert kinds["similarity_ft"] == 4 + 2
    assert kinds["similarity_seeds"] == 2  # one pair (0, 2) per task
    by_key = {c.key: c for c in cells}
    for c in cells:
        if c.kind == "similarity_ft":
            assert c.params.n == 10 and c.params.languages == ["fr"]
            assert c.params.seed in (0, 2)
            assert by_key[c.depends_on[0]].params.reinit == c.params.reinit
        if c.kind == "similarity_seeds":
            assert c.params.seeds == [0, 2] and c.params.n == 10
            deps = [by_key[d] for d in c.depends_on]
            assert [d.kind for d in deps] == ["finetune", "finetune", "similarity_ft",
                                              "similarity_ft"]
            assert {d.params.reinit for d in deps} == {"REF"}
        if c.kind == "similarity":  # the pretrained cell keeps n and languages
            assert c.params.n == 20 and c.params.languages == ["fr", "de"]
    # save_model exactly when a later cell reads the encoder
    needed = {d for c in cells if c.kind != "finetune" for d in c.depends_on}
    for c in cells:
        if c.kind == "finetune":
            assert c.params.save_model == (c.key in needed), c.label
    assert sum(c.params.save_model for c in cells if c.kind == "finetune") == 6
    cost = estimate_cost(cells)
    assert cost["similarity_seeds"] == 2 * 10 * 2 * 2
    # after_measures: the fine-tuned cells measure those only, the pretrained cell all
    lean = _load(tmp_path, data_dir, text.replace("seed_pairs: true}}",
                                                  "seed_pairs: true, after_measures: "
                                                  "[linear_cka]}}"))
    for c in expand(lean):
        if c.kind in ("similarity_ft", "similarity_seeds"):
            assert c.params.measures == ["linear_cka"]
        if c.kind == "similarity":
            assert c.params.measures == ["linear_cka", "debiased_cka"]
    # defaults (after_n, after_languages absent; REF only) keep the REF cells' keys
    same = OVERRIDES.replace("n_null: 5}}", "n_null: 5, after: [REF]}}")
    assert [c.key for c in expand(_load(tmp_path, data_dir, same))] == [c.key for c in plain]


def test_seed_pairs_without_similarity_ft_still_keep_the_ref_models(tmp_path: Path,
                                                                    data_dir: Path) -> None:
    text = BASE.replace("n_null: 5}}", "n_null: 5, after: false, seed_pairs: true}}")
    cells = expand(_load(tmp_path, data_dir, text))
    kinds = _kinds(cells)
    assert "similarity_ft" not in kinds and kinds["similarity_seeds"] == 2 * 2
    saved = {(c.params.task, c.params.reinit) for c in cells
             if c.kind == "finetune" and c.params.save_model}
    assert saved == {("pos", "REF"), ("parsing", "REF")}


@pytest.mark.parametrize(("old", "new", "message"), [
    ("reinit: [REF, 3-4]", "reinit: [REF, x-y]", r"tasks\.parsing\.reinit\[1\]: bad re-init"),
    ("reinit: [REF, 3-4]", "reinit: []", r"tasks\.parsing\.reinit: empty list"),
    ("reinit: [REF, 3-4]", "reinit: [REF, 3-4, '3,4']",
     r"tasks\.parsing\.reinit\[2\]: duplicate of tasks\.parsing\.reinit\[1\]"),
    ("head_lr: 0.01", "head_lr: 0", r"tasks\.parsing\.training\.head_lr: must be > 0, got 0"),
    ("head_lr: 0.01", "head_rate: 0.01", r"tasks\.parsing\.training\.head_rate: unknown field"),
    ("epochs: 3,", "epochs: three,", r"tasks\.parsing\.training\.epochs: expected int, got str"),
    ("n_null: 5}", "n_null: 5, after: [REF, 5-6]}",
     r"similarity\.after\[1\]: '5-6' is not a re-init group of any task"),
    ("n_null: 5}", "n_null: 5, after: [REF, a-b]}", r"similarity\.after\[1\]: bad re-init"),
    ("n_null: 5}", "n_null: 5, after: [REF, REF]}", r"similarity\.after\[1\]: duplicate"),
    ("n_null: 5}", "n_null: 5, after: yes please}", r"similarity\.after: expected bool/list"),
    ("n_null: 5}", "n_null: 5, after_seeds: [0, 7]}",
     r"similarity\.after_seeds\[1\]: seed 7 is not in seeds \(\[0, 1, 2\]\)"),
    ("n_null: 5}", "n_null: 5, after_seeds: []}", r"similarity\.after_seeds: expected a non-empty"),
    ("n_null: 5}", "n_null: 5, after_seeds: [1, 1]}", r"similarity\.after_seeds\[1\]: duplicate"),
    ("n_null: 5}", "n_null: 5, after_n: 3}", r"similarity\.after_n: must be >= 4, got 3"),
    ("n_null: 5}", "n_null: 5, after_languages: [fr, xx]}",
     r"similarity\.after_languages\[1\]: unknown language"),
    ("n_null: 5}", "n_null: 5, after_languages: [en]}",
     r"similarity\.after_languages\[0\]: 'en' is the source language"),
    ("n_null: 5}", "n_null: 5, after_languages: []}", r"similarity\.after_languages: empty list"),
    ("n_null: 5}", "n_null: 5, seed_pairs: true, after_seeds: [1]}",
     r"similarity\.seed_pairs: needs at least two seeds"),
    ("n_null: 5}", "n_null: 5, seed_pairs: 1}", r"similarity\.seed_pairs: expected bool"),
    ("n_null: 5}", "n_null: 5, after_measures: [cka]}",
     r"similarity\.after_measures\[0\]: unknown similarity measure 'cka'"),
    ("n_null: 5}", "n_null: 5, after_measures: []}", r"similarity\.after_measures: empty list"),
    ("n_null: 5}", "n_null: 5, after_measures: [mutual_knn], after_n: 8}",
     r"similarity\.after_n: must be >= 12 for after_measures, got 8"),
])
def test_new_fields_are_validated_with_file_and_path(tmp_path: Path, data_dir: Path, old: str,
                                                     new: str, message: str) -> None:
    old, new = old.replace("{", "{{").replace("}", "}}"), new.replace("{", "{{").replace("}", "}}")
    text = OVERRIDES.replace(old, new)
    assert text != OVERRIDES
    with pytest.raises(ConfigError, match=message) as err:
        _load(tmp_path, data_dir, text)
    assert "\n" not in str(err.value) and str(err.value).startswith(str(tmp_path / "study.yaml"))
