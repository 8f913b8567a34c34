from __future__ import annotations

from pathlib import Path

import pytest

from crossling.core.errors import ConfigError
from crossling.experiments.config import load_study
from crossling.experiments.grid import estimate_cost, expand

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
            assert c.depends_on[0] in ft and ft[c.depends_on[0]].params.reinit == "REF"
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
    ("n_null: 5}", "n_null: 5, pooling: max}", r"similarity\.pooling: must be one of mean, "),
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


@pytest.mark.parametrize(("old", "new", "message"), [
    # every numeric field outside its valid range
    ("epochs: 1", "epochs: -1", r"training\.epochs: must be > 0, got -1"),
    ("epochs: 1", "epochs: 0", r"training\.epochs: must be > 0, got 0"),
    ("batch_size: 8", "batch_size: 0", r"training\.batch_size: must be > 0, got 0"),
    ("batch_size: 8", "batch_size: 8, lr: -1", r"training\.lr: must be > 0, got -1"),
    ("batch_size: 8", "batch_size: 8, lr: .nan", r"training\.lr: must be a finite number"),
    ("batch_size: 8", "batch_size: 8, head_lr: 0", r"training\.head_lr: must be > 0, got 0"),
    ("batch_size: 8", "batch_size: 8, warmup_ratio: 1.5",
     r"training\.warmup_ratio: must be in \[0, 1\], got 1\.5"),
    ("batch_size: 8", "batch_size: 8, weight_decay: -0.1", r"training\.weight_decay: must be >= 0"),
    ("batch_size: 8", "batch_size: 8, max_grad_norm: 0", r"training\.max_grad_norm: must be > 0"),
    ("batch_size: 8", "batch_size: 8, patience: 0", r"training\.patience: must be > 0"),
    ("batch_size: 8", "batch_size: 8, max_length: 2", r"training\.max_length: must be >= 3"),
    ("batch_size: 8", "batch_size: 8, eval_batch_size: 0", r"training\.eval_batch_size: must be"),
    ("max_train_sentences: 20", "max_train_sentences: -32",
     r"tasks\.pos\.max_train_sentences: must be > 0, got -32"),
    ("max_train_sentences: 20", "max_train_sentences: 0",
     r"tasks\.pos\.max_train_sentences: must be > 0, got 0"),
    ("max_train_sentences: 20", "max_train_sentences: 20, max_eval_sentences: 0",
     r"tasks\.pos\.max_eval_sentences: must be > 0, got 0"),
    ("max_train_sentences: 20", "max_train_sentences: 20, max_source_sentences: 0",
     r"tasks\.pos\.max_source_sentences: must be > 0, got 0"),
    ("max_train_sentences: 20", "max_train_sentences: 20, max_source_sentences: all",
     r"tasks\.pos\.max_source_sentences: must be an integer >= 1, got 'all'"),
    ("n: 20", "n: -12", r"similarity\.n: must be >= 4, got -12 \(debiased_cka needs n >= 4\)"),
    ("n: 20", "n: 3", r"similarity\.n: must be >= 4, got 3"),
    # the registry's min_n: biased CKA of 2 centred rows is 1 whatever the data, so n >= 3
    ("n: 20", "n: 2, measures: [linear_cka, rbf_cka]",
     r"similarity\.n: must be >= 3, got 2 \(linear_cka needs n >= 3, rbf_cka needs n >= 3\)"),
    ("n_boot: 10", "n_boot: 0", r"similarity\.n_boot: must be > 0, got 0"),
    ("n_null: 5", "n_null: -1", r"similarity\.n_null: must be > 0, got -1"),
    ("seeds: [0, 1]", "seeds: [0, -1]", r"seeds\[1\]: must be in \[0, "),
    # lists whose emptiness or duplicates would silently change the grid
    ("reinit: [REF, 1-2]", "reinit: []", r"reinit: empty list"),
    ("languages: [fr, de]", "languages: []", r"similarity\.languages: empty list"),
    ("seeds: [0, 1]", "seeds: [0, 0]", r"seeds\[1\]: duplicate of seeds\[0\]"),
    ("reinit: [REF, 1-2]", "reinit: [REF, 1-2, '1,2']", r"reinit\[2\]: duplicate of reinit\[1\]"),
    ("eval: [fr, de]", "eval: [fr, de, fr]", r"tasks\.pos\.eval\[2\]: duplicate of"),
    ("eval: [fr, de]", "eval: [fr, en]", r"tasks\.pos\.eval\[1\]: 'en' is the source test"),
    ("train: [en_ewt]", "train: [en_ewt, en_ewt]", r"tasks\.pos\.train\[1\]: duplicate"),
    ("languages: [fr, de]", "languages: [fr, de, de]",
     r"similarity\.languages\[2\]: duplicate of similarity\.languages\[1\]"),
    ("languages: [fr, de]", "languages: [fr, en]",
     r"similarity\.languages\[1\]: 'en' is the source language"),
    ("n: 20", "n: 20, measures: [linear_cka, cka_bogus]",
     r"similarity\.measures\[1\]: unknown similarity measure 'cka_bogus' "
     r"\(available: debiased_cka, linear_cka"),
    ("n: 20", "n: 20, measures: [linear_cka, linear_cka]", r"similarity\.measures\[1\]: dup"),
    ("n: 20", "n: 20, measures: []", r"similarity\.measures: empty list"),
    ("seeds: [0, 1]", "seeds: [0, 1]\nreinit_scheme: xavier", r"reinit_scheme: unknown scheme"),
])
def test_out_of_range_empty_and_duplicate_fields_are_refused(
        tmp_path: Path, data_dir: Path, old: str, new: str, message: str) -> None:
    """Each of these used to load: a zero batch size or negative lr failed (or trained nothing)
    only once a cell ran, ``reinit: []`` silently dropped every fine-tuning cell, an empty
    language list gave a "done" similarity cell with no rows, duplicates repeated cells."""
    text = BASE.replace(old, new)
    assert text != BASE
    with pytest.raises(ConfigError, match=message) as err:
        load_study(_write(tmp_path, data_dir, text))
    assert "\n" not in str(err.value) and str(err.value).startswith(str(tmp_path / "study.yaml"))


def test_keys_include_the_crossling_version(tmp_path: Path, data_dir: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Results of another crossling version are never reused: every key changes with it."""
    from crossling.core import version

    study = load_study(_write(tmp_path, data_dir))
    keys = {c.key for c in expand(study)}
    assert keys == {c.key for c in expand(study)}  # stable within a version
    monkeypatch.setattr(version, "__version__", version.__version__ + ".post1")
    other = expand(study)
    assert not keys & {c.key for c in other}
    ft = {c.key for c in other if c.kind == "finetune"}
    assert all(c.depends_on[0] in ft for c in other if c.kind == "similarity_ft")


def test_non_utf8_study_is_one_line_naming_the_file(tmp_path: Path) -> None:
    p = tmp_path / "latin1.yaml"
    p.write_bytes("name: t\nmodel: m\n# caf\u00e9 in Latin-1\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"latin1\.yaml:3: not UTF-8 \(byte 0xe9") as err:
        load_study(p)
    assert "\n" not in str(err.value)


def test_invalid_yaml_has_a_line(tmp_path: Path) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text("name: x\ntasks: [\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.yaml:\d+: invalid YAML"):
        load_study(p)


def test_shipped_studies_are_valid(data_dir: Path, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Every study file in studies/ loads and expands (a broken one would only fail for the
    user); the paper's two studies run REF and all six layer pairs for POS, and at least REF,
    1-2, 3-4 and 11-12 for parsing and NER, with 3 seeds on all 18 PUD targets. The CPU study's
    local e5 folder (checked at load) is stood in for by one with e5-small's config."""
    e5 = tmp_path / ".cache" / "crossling" / "multilingual-e5-small"
    e5.mkdir(parents=True)
    (e5 / "config.json").write_text('{"model_type": "bert", "num_hidden_layers": 12, '
                                    '"max_position_embeddings": 512, "hidden_size": 384}')
    (e5 / "model.safetensors").write_bytes(b"")
    (e5 / "tokenizer.json").write_text("{}")
    monkeypatch.setenv("HOME", str(tmp_path))
    files = sorted((Path(__file__).resolve().parents[2] / "studies").glob("*.yaml"))
    assert len(files) >= 2
    for path in files:
        study = load_study(path, data=data_dir)
        cells = expand(study)
        assert sum(c.kind == "finetune" for c in cells) == \
            sum(len(study.task_reinit(t)) for t in study.tasks) * len(study.seeds), path.name
        if path.name.startswith("first-align-then-predict"):
            groups = {t.name: study.task_reinit(t) for t in study.tasks}
            assert groups["pos"] == ["REF", "1-2", "3-4", "5-6", "7-8", "9-10", "11-12"]
            for task in ("parsing", "ner"):
                assert {"REF", "1-2", "3-4", "11-12"} <= set(groups[task]), (path.name, task)
            assert len(study.seeds) >= 3
            pos = next(t for t in study.tasks if t.name == "pos")
            assert len(pos.eval) == 18


RETRIEVAL = BASE + "retrieval: {{languages: [fr, de], n: 20, n_boot: 10, n_null: 5}}\n"


def test_retrieval_section_expands_into_one_cell(tmp_path: Path, data_dir: Path) -> None:
    study = load_study(_write(tmp_path, data_dir, RETRIEVAL))
    assert study.retrieval is not None
    assert study.retrieval.variants == ["cosine", "centred", "margin"]  # the default: all
    assert study.retrieval.pooling == "mean"
    cells = expand(study)
    ret = [c for c in cells if c.kind == "retrieval"]
    assert len(ret) == 1 and ret[0].label == "retrieval (pretrained)"
    # the same sentences, encoded the same way: after the similarity, whose vectors it reuses
    (sim,) = [c for c in cells if c.kind == "similarity"]
    assert ret[0].depends_on == (sim.key,)
    own = load_study(_write(tmp_path, data_dir, BASE + "retrieval: {{languages: [fr, de], "
                                                       "n: 30, n_boot: 10, n_null: 5}}\n"))
    assert own.retrieval is not None and own.retrieval.n == 30
    assert [c.depends_on for c in expand(own) if c.kind == "retrieval"] == [()]
    assert ret[0].params.languages == ["fr", "de"] and ret[0].params.n == 20
    # the other cells keep their keys; editing the similarity section keeps the retrieval key
    assert {c.key for c in expand(load_study(_write(tmp_path, data_dir)))} == \
        {c.key for c in cells} - {ret[0].key}
    other = RETRIEVAL.replace("n_null: 5}}\nretrieval", "n_null: 6}}\nretrieval")
    assert other != RETRIEVAL
    assert ret[0].key in {c.key for c in expand(load_study(_write(tmp_path, data_dir, other)))}
    # a study may be retrieval only
    only = "name: r\nmodel: m\ndata: {{ud: {ud}}}\nretrieval: {{languages: [fr], n: 8}}\n"
    assert [c.kind for c in expand(load_study(_write(tmp_path, data_dir, only)))] == \
        ["retrieval"]


@pytest.mark.parametrize(("new", "message"), [
    ("languages: []", r"study\.yaml: retrieval\.languages: empty list"),
    ("languages: [fr, xx]", r"retrieval\.languages\[1\]: unknown language 'xx'"),
    ("languages: [fr, en]", r"retrieval\.languages\[1\]: 'en' is the source language"),
    ("languages: [fr, fr]", r"retrieval\.languages\[1\]: duplicate of retrieval\.languages\[0\]"),
    ("languages: [fr], variants: [cosine, dot]",
     r"study\.yaml: retrieval\.variants\[1\]: must be one of cosine, centred, margin, got 'dot'"),
    ("languages: [fr], variants: [margin, margin]",
     r"retrieval\.variants: 'margin' is given twice"),
    ("languages: [fr], n: 3", r"retrieval\.n: must be >= 4, got 3"),
    ("languages: [fr], n: 1, variants: [cosine]", r"retrieval\.n: must be >= 2, got 1"),
    ("languages: [fr], n_boot: 0", r"retrieval\.n_boot: must be > 0, got 0"),
    ("languages: [fr], n_null: -2", r"retrieval\.n_null: must be > 0, got -2"),
    ("languages: [fr], pooling: max", r"retrieval\.pooling: must be one of mean, "),
    ("languages: [fr], k: 3", r"retrieval\.k: unknown field"),
    ("languages: [fr], n: ten", r"retrieval\.n: must be an integer >= 2, got \'ten\'"),
])
def test_retrieval_section_errors_name_file_and_field(tmp_path: Path, data_dir: Path, new: str,
                                                      message: str) -> None:
    text = BASE + "retrieval: {{" + new + "}}\n"
    with pytest.raises(ConfigError, match=message) as err:
        load_study(_write(tmp_path, data_dir, text))
    assert "\n" not in str(err.value)


PROBE = """
name: p
model: {model}
data: {{ud: {ud}}}
probe: {{targets: [fr, de], layers: [0, 2], max_train_sentences: 30, max_eval_sentences: 10,
         n_boot: 20}}
"""


def test_probe_section_expands_into_one_probe_cell(tmp_path: Path, data_dir: Path) -> None:
    study = load_study(_write(tmp_path, data_dir, PROBE))
    assert study.probe is not None and study.probe.train == "en_ewt"
    assert study.probe.targets == ["fr", "de"] and study.probe.layers == [0, 2]
    cells = expand(study)
    assert [c.kind for c in cells] == ["probe"]
    params = cells[0].params
    assert params.train.endswith("en_ewt-ud-train.conllu") and params.source == "en"
    assert (params.max_train_sentences, params.n_boot, params.seed) == (30, 20, 0)
    assert cells[0].label == "probe (pretrained, 2 targets)"
    assert estimate_cost(cells) == {"probe": 30 + 10 * 3}  # one pass per sentence
    # with the paper's grid beside it: one more cell, and the grid's keys are unchanged
    both = BASE + PROBE.split("data: {{ud: {ud}}}\n", 1)[1]
    grid = {c.key for c in expand(load_study(_write(tmp_path, data_dir)))}
    with_probe = expand(load_study(_write(tmp_path, data_dir, both)))
    assert {c.key for c in with_probe} == grid | {cells[0].key}
    # a probe setting changes the probe key only
    other = expand(load_study(_write(tmp_path, data_dir, PROBE.replace("n_boot: 20",
                                                                       "n_boot: 30"))))
    assert other[0].key != cells[0].key


@pytest.mark.parametrize(("old", "new", "message"), [
    ("targets: [fr, de]", "targets: []", r"probe\.targets: empty list"),
    ("targets: [fr, de]", "targets: [fr, xx]", r"probe\.targets\[1\]: unknown language 'xx'"),
    ("targets: [fr, de]", "targets: [fr, fr]", r"probe\.targets\[1\]: duplicate of"),
    ("targets: [fr, de]", "targets: [fr, en]", r"probe\.targets\[1\]: 'en' is the source"),
    ("layers: [0, 2]", "layers: [0, -1]", r"probe\.layers\[1\]: expected a layer number >= 0"),
    ("layers: [0, 2]", "layers: [2, 2]", r"probe\.layers\[1\]: duplicate of"),
    ("layers: [0, 2]", "layers: []", r"probe\.layers: empty list"),
    ("max_train_sentences: 30", "max_train_sentences: 0",
     r"probe\.max_train_sentences: must be > 0, got 0"),
    ("n_boot: 20", "n_boot: 0", r"probe\.n_boot: must be > 0, got 0"),
    ("n_boot: 20", "n_boot: 20, layer: 3", r"probe\.layer: unknown field"),
    ("targets: [fr, de]", "targets: [fr, de], train: xx_ewt",
     r"probe\.train: unknown language 'xx'"),
])
def test_probe_section_errors_name_file_field_and_problem(tmp_path: Path, data_dir: Path,
                                                          old: str, new: str,
                                                          message: str) -> None:
    text = PROBE.replace(old, new)
    assert text != PROBE
    with pytest.raises(ConfigError, match=message) as err:
        load_study(_write(tmp_path, data_dir, text))
    assert "\n" not in str(err.value) and str(err.value).startswith(str(tmp_path / "study.yaml"))


def test_probe_layers_are_checked_against_a_local_model(tmp_path: Path, data_dir: Path,
                                                        tiny_bert: Path) -> None:
    text = PROBE.replace("layers: [0, 2]", "layers: [0, 5]")
    with pytest.raises(ConfigError, match=r"probe\.layers\[1\]: layer 5 out of range 0\.\.4"):
        load_study(_write(tmp_path, data_dir, text, model=str(tiny_bert)))
    assert load_study(_write(tmp_path, data_dir, PROBE, model=str(tiny_bert))).probe is not None


def test_every_new_measure_runs_in_a_study_and_reaches_the_report(
        tmp_path: Path, data_dir: Path, tiny_bert: Path) -> None:
    """A study may ask for any registered measure (issue 13): the five beyond CKA run end to end
    on a tiny random BERT (hidden size 32, so CCA's n > k_x + k_y holds at n = 80), land in
    the store, and the report has the robustness section with a row per measure."""
    import pandas as pd

    from crossling.experiments.workflows import run_study, study_report

    ids = ["debiased_cka", "svcca", "pwcca", "procrustes", "rsa", "mutual_knn"]
    study = tmp_path / "study.yaml"
    study.write_text(f"name: measures\nmodel: {tiny_bert}\ndata: {{ud: {data_dir / 'ud'}}}\n"
                     f"similarity: {{languages: [fr, de], n: 80, n_boot: 4, n_null: 3, "
                     f"measures: [{', '.join(ids)}]}}\n", encoding="utf-8")
    store = tmp_path / "store.sqlite"
    outcome = run_study(study, store=store)
    assert outcome.failed == [] and outcome.counts.get("done") == 1
    report = study_report(study, store=store, out=tmp_path / "report")
    summary = pd.read_csv(report.out / "robustness.csv")
    assert list(summary["measure"]) == ids
    assert set(summary["targets"]) == {2}
    md = (report.out / "report.md").read_text()
    assert "Robustness of the alignment curve" in md and "robustness.png" in md


def test_layer_difference_goes_into_the_pretrained_similarity_cell_only(
        tmp_path: Path, data_dir: Path) -> None:
    cells = expand(load_study(_write(tmp_path, data_dir)))
    assert not any("layer_difference" in c.params.to_dict() for c in cells)  # unset: keys unchanged
    same = BASE.replace("n_null: 5}", "n_null: 5, layer_difference: false}")
    assert [c.key for c in expand(load_study(_write(tmp_path, data_dir, same)))] == \
        [c.key for c in cells]
    on = BASE.replace("n_null: 5}", "n_null: 5, layer_difference: true}")
    study = load_study(_write(tmp_path, data_dir, on))
    assert study.similarity is not None and study.similarity.layer_difference
    new = expand(study)
    (sim,) = [c for c in new if c.kind == "similarity"]
    assert sim.params.layer_difference is True
    assert sim.key not in {c.key for c in cells}
    # the other cells (fine-tuning, similarity after fine-tuning) keep their params and keys
    others = [c for c in new if c.kind != "similarity"]
    assert {c.key for c in others} <= {c.key for c in cells}
    assert not any("layer_difference" in c.params.to_dict() for c in others)
    bad = BASE.replace("n_null: 5}", "n_null: 5, layer_difference: 3}")
    with pytest.raises(ConfigError, match=r"similarity\.layer_difference: expected bool"):
        load_study(_write(tmp_path, data_dir, bad))


def test_reinit_groups_take_their_canonical_label(tmp_path: Path, data_dir: Path) -> None:
    """`' 1-2'` and full-width `'１-２'` are the blocks of `1-2`: one label, one cell key."""
    keys = []
    for spelling in ("1-2", "' 1-2'", "'\uff11-\uff12'", "'1,2'"):
        text = BASE.replace("reinit: [REF, 1-2]", f"reinit: [REF, {spelling}]")
        cells = expand(load_study(_write(tmp_path, data_dir, text)))
        groups = {c.params.reinit for c in cells if c.kind == "finetune"}
        assert groups == {"REF", "1-2"}
        keys.append(sorted(c.key for c in cells))
    assert all(k == keys[0] for k in keys)


@pytest.mark.parametrize(("base", "old", "new", "field"), [
    ("BASE", "train: [en_ewt]", "train: [en_ewt:test]", r"tasks\.pos\.train\[0\]"),
    ("BASE", "dev: [en_ewt]", "dev: [en_ewt, 'de_gsd:test']", r"tasks\.pos\.dev\[1\]"),
    ("PROBE", "targets: [fr, de]", "train: 'en_ewt:test', targets: [fr, de]", r"probe\.train"),
])
def test_a_test_split_as_training_data_is_refused_unless_allowed(
        tmp_path: Path, data_dir: Path, base: str, old: str, new: str, field: str) -> None:
    text = {"BASE": BASE, "PROBE": PROBE}[base].replace(old, new)
    with pytest.raises(ConfigError, match=rf"study\.yaml: {field}: '[a-z_]+:test' is a test "
                                          r"split \(.*-ud-test\.conllu\)") as err:
        load_study(_write(tmp_path, data_dir, text))
    assert "\n" not in str(err.value)
    allowed = load_study(_write(tmp_path, data_dir, text + "allow_test_training: true\n"))
    assert allowed.allow_test_training


def test_one_file_under_two_language_specs_names_both_and_the_file(tmp_path: Path,
                                                                   data_dir: Path) -> None:
    text = BASE.replace("languages: [fr, de]", "languages: [fr, fr_pud]")
    with pytest.raises(ConfigError, match=r"similarity\.languages\[1\]: duplicate of "
                                          r"similarity\.languages\[0\] \('fr_pud' and 'fr' are "
                                          r"the same file, .*fr_pud-ud-test\.conllu\)"):
        load_study(_write(tmp_path, data_dir, text))


def test_training_settings_follow_train_configs_rule_at_their_field_path(
        tmp_path: Path, data_dir: Path) -> None:
    """One rule (TrainConfig's) for the CLI, the API and studies: every value TrainConfig
    refuses, a study refuses with the same problem, at the field's path (study-wide or a
    task's override)."""
    from crossling.core.errors import SettingError
    from crossling.training.loop import TrainConfig

    bad_values = {"epochs": 0, "batch_size": 0, "eval_batch_size": 0, "patience": 0,
                  "max_length": 2, "lr": 0.0, "head_lr": 0.0, "max_grad_norm": 0.0,
                  "weight_decay": -1.0, "warmup_ratio": 2.0}
    for name, bad in bad_values.items():
        with pytest.raises(SettingError) as direct:
            TrainConfig(**{name: bad})
        for old, new, where in (
                ("batch_size: 8}", f"batch_size: 8, {name}: {bad}}}", "training"),
                ("max_train_sentences: 20}", f"max_train_sentences: 20, training: {{{{{name}: "
                                             f"{bad}}}}}}}", "tasks.pos.training")):
            text = BASE.replace(old, new)
            assert text != BASE
            with pytest.raises(ConfigError) as info:
                load_study(_write(tmp_path, data_dir, text))
            assert str(info.value).endswith(f"{where}.{name}: {direct.value.problem}")



def test_the_source_test_set_has_its_own_limit_and_old_cells_keep_their_keys(
        tmp_path: Path, data_dir: Path) -> None:
    """``max_source_sentences`` absent is ``max_eval_sentences``: the cells of a study written
    before the setting (and of one that repeats the limit) keep their keys; another limit,
    ``null`` (all) among them, is another cell."""
    from crossling.experiments.kinds.finetune import Params

    def cells(extra: str) -> list[Params]:
        text = BASE.replace("max_train_sentences: 20", "max_train_sentences: 20, "
                                                       f"max_eval_sentences: 8{extra}")
        out = [c.params for c in expand(load_study(_write(tmp_path, data_dir, text)))
               if c.kind == "finetune"]
        assert all(isinstance(p, Params) for p in out)
        return out  # type: ignore[return-value]

    keys = {}
    for name, extra in (("before", ""), ("same", ", max_source_sentences: 8"),
                        ("other", ", max_source_sentences: 30"),
                        ("all", ", max_source_sentences: null")):
        params = cells(extra)
        keys[name] = [c.key for c in expand(load_study(tmp_path / "study.yaml"))
                      if c.kind == "finetune"]
        assert {p.source_sentences for p in params} == {
            "before": {8}, "same": {8}, "other": {30}, "all": {None}}[name]
        assert {p.max_eval_sentences for p in params} == {8}
        own = "max_source_sentences" in params[0].identity()
        assert own == (name in ("other", "all"))
        # exactly the fields a cell's identity had before the setting, and this one if set
        assert set(params[0].identity()) == {
            "task", "reinit", "scheme", "seed", "training", "max_train_sentences",
            "max_eval_sentences", "eval", *(["max_source_sentences"] if own else [])}
    assert keys["same"] == keys["before"]
    assert not set(keys["before"]) & set(keys["other"])
    assert not set(keys["before"]) & set(keys["all"])
    assert not set(keys["other"]) & set(keys["all"])
