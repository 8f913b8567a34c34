"""The fine-tuning workflow: each task end to end on a tiny model (re-init, fine-tune, evaluate
source and a target), resuming, refusing bad input before any work, and the spec-level API."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from crossling.core.errors import ConfigError, DataError, SettingError
from crossling.data.ner import resolve_ner
from crossling.data.resolve import resolve_ud
from crossling.data.specs import DataFolders, resolve_spec
from crossling.models.encoder import load_encoder, model_fingerprint
from crossling.training import loop
from crossling.training.loop import TrainConfig
from crossling.workflows.finetune import FinetuneSettings, finetune, prepare_finetune
from tests.workflows.runs import finetune_on_files as run_finetune

CONFIG = TrainConfig(epochs=1, batch_size=8, device="cpu", max_length=64)


@pytest.mark.parametrize("task", ["pos", "parsing"])
def test_ud_tasks_end_to_end(task: str, tiny_bert: Path, ud_dir: Path, tmp_path: Path) -> None:
    train = resolve_ud(ud_dir, "en_ewt", "dev")
    rows = run_finetune(task, str(tiny_bert), [train], [train],
                        {"en": resolve_ud(ud_dir, "en"), "fr": resolve_ud(ud_dir, "fr")},
                        tmp_path, reinit="3-4", seed=0, training=CONFIG,
                        max_train_sentences=24, max_eval_sentences=10, progress=False)
    metrics = {"pos": {"upos_acc"}, "parsing": {"uas", "las"}}[task]
    assert {(r.language, r.metric) for r in rows} == {(lang, m) for lang in ("en", "fr")
                                                      for m in metrics}
    for r in rows:
        assert 0 <= r.ci_low <= r.value <= r.ci_high <= 100
        assert r.n_sentences == 10 and r.reinit == "3-4"
        assert r.provenance["reinit"]["layers"] == [3, 4]
        assert any("encoder.layer.2." in k for k in r.provenance["reinit"]["changed"])
        assert len(r.provenance["data"]) == 3
    assert load_encoder(str(tmp_path / "encoder"), device="cpu").num_layers == 4
    saved = json.loads((tmp_path / "scores.json").read_text())
    assert len(saved) == len(rows)
    # the published weights' fingerprint, not the re-initialised ones'
    prov = rows[0].provenance
    assert prov["pretrained_fingerprint"] == model_fingerprint(
        load_encoder(str(tiny_bert), device="cpu").model)
    assert prov["after_reinit_fingerprint"] != prov["pretrained_fingerprint"]
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["kind"] == "finetune" and manifest["key"] == prov["manifest_key"]
    assert manifest["settings"]["seed"] == 0 and manifest["settings"]["task"] == task
    # a finished run is returned from disk, not recomputed; temporaries of killed writers go
    dead = _dead_pid()
    stale = [tmp_path / f".crossling-tmp-{dead}-model.abc", tmp_path / "fit" /
             f".crossling-tmp-{dead}-last.pt.xyz.pt"]
    stale[0].mkdir()
    stale[1].write_bytes(b"half a checkpoint")
    stamp = (tmp_path / "scores.json").stat().st_mtime_ns
    args = (task, str(tiny_bert), [train], [train],
            {"en": resolve_ud(ud_dir, "en"), "fr": resolve_ud(ud_dir, "fr")}, tmp_path)
    kwargs = dict(reinit="3-4", training=CONFIG, max_train_sentences=24,
                  max_eval_sentences=10, progress=False)
    assert run_finetune(*args, seed=0, **kwargs) == rows  # type: ignore[arg-type]
    assert (tmp_path / "scores.json").stat().st_mtime_ns == stamp
    assert not any(p.exists() for p in stale)
    # another run in the same folder is refused, not answered with these rows
    with pytest.raises(ConfigError,
                       match=rf"^{tmp_path}: holds a different run: .*seed \(0 -> 3\)"):
        run_finetune(*args, seed=3, **kwargs)  # type: ignore[arg-type]
    other = "parsing" if task == "pos" else "pos"
    with pytest.raises(ConfigError, match=rf"task \(\"{task}\" -> \"{other}\"\)"):
        run_finetune(other, *args[1:], seed=0, **kwargs)  # type: ignore[arg-type]
    if task == "pos":  # overwrite starts afresh
        again = run_finetune(*args, seed=3, overwrite=True, **kwargs)  # type: ignore[arg-type]
        assert {r.seed for r in again} == {3}
        assert json.loads((tmp_path / "manifest.json").read_text())["settings"]["seed"] == 3


def test_ner_end_to_end_with_unknown_target_labels(tiny_xlmr: Path, data_dir: Path,
                                                   tmp_path: Path) -> None:
    ner = data_dir / "ner"
    rows = run_finetune("ner", str(tiny_xlmr), [resolve_ner(ner, "en", "dev")],
                        [resolve_ner(ner, "en", "dev")],
                        {"en": resolve_ner(ner, "en"), "de_pud": resolve_ner(ner, "de_pud")},
                        tmp_path, seed=0, training=CONFIG, max_train_sentences=32,
                        max_eval_sentences=12, progress=False)
    f1 = [r for r in rows if r.metric == "span_f1"]
    assert {r.language for r in f1} == {"en", "de_pud"}
    # UNER has no MISC-like extra types here, but the check is recorded either way
    assert "unknown_labels" in rows[0].provenance


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _pos_args(ud_dir: Path, model: Path, out: Path, evals: dict[str, Path] | None = None,
              ) -> tuple[object, ...]:
    train = resolve_ud(ud_dir, "en_ewt", "dev")
    return ("pos", str(model), [train], [train], evals or {"en": resolve_ud(ud_dir, "en")}, out)


@pytest.mark.parametrize(("change", "error", "match"), [
    ({"evals": "empty"}, DataError,
     r"empty\.conllu: no sentences in this CoNLL-U file \(empty file\?\)$"),
    ({"train": "empty"}, DataError, r"empty\.conllu: no sentences"),
    ({"evals": "missing"}, DataError, r"missing\.conllu: no such file$"),
    ({"source": "de"}, ConfigError, r"^source 'de' is not among the evaluation sets"),
    ({"max_train_sentences": 0}, ConfigError, r"^max_train_sentences = 0: must be > 0$"),
    ({"max_train_sentences": -40}, ConfigError, r"^max_train_sentences = -40: must be > 0$"),
    ({"max_eval_sentences": 0}, ConfigError, r"^max_eval_sentences = 0: must be > 0$"),
    ({"max_source_sentences": 0}, ConfigError, r"^max_source_sentences = 0: must be > 0$"),
    ({"max_length": 300}, ConfigError, r"^max_length 300 exceeds the 256 positions of"),
    ({"reinit": "5-6"}, ConfigError, r"^layer 5 out of range 1\.\.4$"),
    ({"reinit_scheme": "xavier"}, ConfigError, r"^reinit_scheme must be one of .*, got 'xavier'$"),
    ({"device": "bogus"}, ConfigError, r"^device 'bogus'"),
])
def test_bad_input_fails_before_training_and_leaves_no_folder(
        change: dict[str, object], error: type[Exception], match: str, tiny_bert: Path,
        ud_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_training(*a: object, **k: object) -> None:
        raise AssertionError("training started")

    monkeypatch.setattr("crossling.workflows.finetune.load_encoder", no_training)
    empty = tmp_path / "empty.conllu"
    empty.write_text("")
    task, model, train, dev, evals, _ = _pos_args(ud_dir, tiny_bert, tmp_path)
    evals = dict(evals)  # type: ignore[call-overload]
    if change.get("evals") == "empty":
        evals["xx"] = empty
    if change.get("evals") == "missing":
        evals["xx"] = tmp_path / "missing.conllu"
    if change.get("train") == "empty":
        train = [empty]
    config_changes = {k: v for k, v in change.items() if k in ("max_length", "device")}
    config = TrainConfig(**{**asdict(CONFIG), **config_changes})
    options = {k: v for k, v in change.items() if k in ("source", "max_train_sentences",
                                                        "max_eval_sentences", "reinit",
                                                        "reinit_scheme", "max_source_sentences")}
    out = tmp_path / "out"
    with pytest.raises(error, match=match):
        run_finetune(task, model, train, dev, evals, out, training=config,  # type: ignore[arg-type]
                     progress=False, **options)  # type: ignore[arg-type]
    assert not out.exists()


def test_interrupted_run_resumes_to_the_same_result(tiny_bert: Path, ud_dir: Path,
                                                    tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The manifest checks must let the same run resume from last.pt (SIGINT after epoch 1)."""
    config = TrainConfig(**{**asdict(CONFIG), "epochs": 2, "patience": 5})
    kwargs = dict(training=config, max_train_sentences=24, max_eval_sentences=8, progress=False)
    fresh = run_finetune(*_pos_args(ud_dir, tiny_bert, tmp_path / "fresh"),  # type: ignore[arg-type]
                         save_model=False, **kwargs)  # type: ignore[arg-type]
    real_evaluate, calls = loop.evaluate, []

    def interrupted(*a: object, **k: object) -> object:
        calls.append(1)
        if len(calls) == 2:  # the dev evaluation of epoch 2
            raise KeyboardInterrupt
        return real_evaluate(*a, **k)  # type: ignore[arg-type]

    out = tmp_path / "run"
    monkeypatch.setattr(loop, "evaluate", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_finetune(*_pos_args(ud_dir, tiny_bert, out), save_model=False,  # type: ignore[arg-type]
                     **kwargs)  # type: ignore[arg-type]
    assert (out / "fit" / "last.pt").is_file() and not (out / "scores.json").exists()
    monkeypatch.setattr(loop, "evaluate", real_evaluate)
    resumed = run_finetune(*_pos_args(ud_dir, tiny_bert, out), save_model=False,  # type: ignore[arg-type]
                           **kwargs)  # type: ignore[arg-type]
    assert [(r.language, r.metric, r.value) for r in resumed] == \
        [(r.language, r.metric, r.value) for r in fresh]


# --- the spec-level API (crossling finetune, crossling.finetune) --------------------------------


def test_prepare_finetune_resolves_checks_and_places_the_run(tiny_bert: Path, data_dir: Path,
                                                             tmp_path: Path) -> None:
    """What ``crossling finetune`` decides before training, as one package function."""
    settings = FinetuneSettings(task="pos", model=str(tiny_bert), evals=["fr"], seed=3,
                                training={"epochs": 2, "device": "cpu"})
    job = prepare_finetune(settings, data=data_dir, out=tmp_path / "run")
    folders = DataFolders.under(data_dir)
    assert job.files.train == [resolve_spec("pos", "en_ewt", "train", folders)]
    assert job.files.dev == [resolve_spec("pos", "en_ewt", "dev", folders)]
    assert list(job.files.evals) == ["en", "fr"] and job.files.source == "en"
    assert job.settings.training.epochs == 2 and job.settings.training.device == "cpu"
    assert job.settings.seed == 3 and job.out == tmp_path / "run"
    default = prepare_finetune(settings, data=data_dir)
    assert default.out.parent == Path("runs/finetune") and "seed3" in default.out.name


def test_finetune_in_one_call_takes_a_config_or_its_fields(
        fixture_bert: Path, fixture_dir: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """``crossling.finetune``: a TrainConfig and the mapping of its fields are the same run."""
    monkeypatch.setenv("CROSSLING_CACHE", str(tmp_path / "cache"))
    train = str(resolve_spec("pos", "en", "test", DataFolders.under(fixture_dir)))
    config = TrainConfig(epochs=1, batch_size=4, max_length=64, device="cpu")
    # the fixture treebanks are test splits: trained on as allowed, and not evaluated on
    settings = FinetuneSettings(task="pos", model=str(fixture_bert), train=[train], dev=[train],
                                test="de", evals=["fr"], reinit="1-2", training=config,
                                max_train_sentences=8, allow_test_training=True)
    rows = finetune(settings, data=fixture_dir, out=tmp_path / "run", progress=False)
    assert {r.language for r in rows} == {"de", "fr"} and {r.reinit for r in rows} == {"1-2"}
    again = finetune(settings.replace(training=asdict(config)), data=fixture_dir,
                     out=tmp_path / "run", progress=False)
    assert again == rows  # the finished run, found by its manifest: not trained again
    with pytest.raises(SettingError, match="training must be a TrainConfig or a mapping"):
        settings.replace(training=3)
    with pytest.raises(SettingError, match=r"^training\.epochs "):
        settings.replace(training={"epochs": 0})


def test_settings_rules_name_their_field() -> None:
    base = FinetuneSettings(task="pos", model="m")
    assert base.reinit == "REF" and base.train is None and base.training == TrainConfig()
    assert base.replace(reinit=" 1-2,1-2").reinit == "1-2"  # the canonical group
    assert base.replace(evals="fr").evals == ("fr",)  # a bare spec is one
    for change, name in (({"task": "tagging"}, "task"), ({"seed": -1}, "seed"),
                         ({"max_eval_sentences": 0}, "max_eval_sentences"),
                         ({"max_source_sentences": -1}, "max_source_sentences"),
                         ({"training": {"lrr": 1}}, "training.lrr"),
                         ({"trim_vocab": "no"}, "trim_vocab")):
        with pytest.raises(SettingError) as err:
            base.replace(**change)
        assert err.value.name == name


def test_training_on_test_data_is_refused_before_any_work(data_dir: Path, tmp_path: Path) -> None:
    """`--train en_ewt:test` trained on a test set without a word; a test set given as
    training data was also scored as a target."""
    model = tmp_path / "model"  # never loaded
    model.mkdir()
    with pytest.raises(ConfigError, match=r"^train: 'en_ewt:test' is a test split \(.*"
                                          r"en_ewt-ud-test\.conllu\): training") as info:
        prepare_finetune(_specs(model, train=["en_ewt:test"]), data=data_dir,
                         out=tmp_path / "a")
    assert "\n" not in str(info.value)
    with pytest.raises(ConfigError, match=r"^dev: 'de_gsd:test' is a test split"):
        prepare_finetune(_specs(model, dev=["de_gsd:test"]), data=data_dir, out=tmp_path / "b")
    # allowed on purpose, a training set that is also an evaluated set is still refused
    with pytest.raises(DataError, match=r"1000 of 1000 sentences of test set 'fr' are train "
                                        r"sentences \(same sent_id and words; first: .*"
                                        r"fr_pud-ud-test\.conllu:\d+\)"):
        prepare_finetune(_specs(model, train=["fr_pud:test"], allow_test_training=True),
                         data=data_dir, out=tmp_path / "c")
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


def _specs(model: Path, **specs: Any) -> FinetuneSettings:
    return FinetuneSettings(task="pos", model=str(model), evals=["fr"], **specs)


def test_a_preset_group_is_resolved_for_the_models_depth(fixture_bert: Path) -> None:
    """``--reinit pairs:1`` is the first pair of the model's blocks; a whole preset (several
    runs) is refused with the groups it would give, before any work."""
    from crossling.workflows.finetune import with_depth

    base = FinetuneSettings(task="pos", model=str(fixture_bert), reinit="Each : 2")
    assert base.reinit == "each:2"
    assert with_depth(base).reinit == "2"  # fixture_bert: 2 blocks
    assert with_depth(base.replace(reinit="pairs:1")).reinit == "1-2"
    assert with_depth(base.replace(reinit="1,2")).reinit == "1-2"
    with pytest.raises(SettingError, match=r"reinit .*'each' is 2 groups .* \(1, 2\).*each:1 "
                                           r"\.\. each:2"):
        with_depth(base.replace(reinit="each"))
    with pytest.raises(SettingError, match=r"each of 2 blocks has 2 groups"):
        with_depth(base.replace(reinit="each:3"))


def test_the_source_test_set_is_cut_to_its_own_limit_the_others_to_theirs(
        tiny_bert: Path, ud_dir: Path) -> None:
    """``max_source_sentences`` cuts the source's test set alone (None: all of it); absent, it
    is ``max_eval_sentences`` and the run's manifest is the one it had before the setting."""
    from crossling.data.specs import TaskFiles
    from crossling.workflows.finetune import _read_sets, manifest_settings

    train = resolve_ud(ud_dir, "en_ewt", "dev")
    evals = {"en": resolve_ud(ud_dir, "en"), "fr": resolve_ud(ud_dir, "fr")}
    files = TaskFiles([train], [train], "en", evals)
    base = FinetuneSettings(task="pos", model=str(tiny_bert), max_train_sentences=8,
                            max_eval_sentences=6)
    for source_limit, n_source in ((None, 1000), (10, 10), (6, 6)):
        s = base.replace(max_source_sentences=source_limit)
        sets = _read_sets(s, files, "en")
        assert len(sets.tests["en"]) == n_source  # the whole of en PUD: 1000 sentences
        assert len(sets.tests["fr"]) == 6 and len(sets.dev) == 6
        manifest = manifest_settings(s, files)
        assert manifest.get("max_source_sentences", 6) == source_limit
    default = _read_sets(base, files, "en")
    assert len(default.tests["en"]) == 6 and base.source_sentences == 6
    assert "max_source_sentences" not in manifest_settings(base, files)


def test_a_trimmed_fine_tuning_tokenises_each_set_once(tiny_bert: Path, ud_dir: Path,
                                                       tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Every set is tokenised once, when it is added to the encoded sets: vocabulary trimming,
    batching, the length buckets and evaluation all reuse those ids (no second pass)."""
    from crossling.models import encoder, vocab
    from crossling.training import encoded

    calls: list[tuple[str, int]] = []
    for module in (vocab, encoded, encoder):
        def counted(tok: Any, sentences: Any, max_length: int, _real: Any = module.tokenize_words,
                    _name: str = module.__name__) -> Any:
            if len(sentences):
                calls.append((_name, len(sentences)))
            return _real(tok, sentences, max_length)
        monkeypatch.setattr(module, "tokenize_words", counted)
    evals = {"en": resolve_ud(ud_dir, "en"), "fr": resolve_ud(ud_dir, "fr")}
    rows = run_finetune(*_pos_args(ud_dir, tiny_bert, tmp_path, evals),
                        seed=0, training=CONFIG, max_train_sentences=8, max_eval_sentences=4,
                        progress=False, encoded_cache=False)
    assert rows[0].provenance["trained_embedding_rows"] is not None  # trimming was on
    assert calls == [("crossling.training.encoded", n) for n in (8, 4, 4, 4)]
