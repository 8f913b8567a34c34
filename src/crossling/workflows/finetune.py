"""One zero-shot transfer run, ``crossling finetune``: (re-init) -> fine-tune -> evaluate all.

A run is one cell of the paper's grid (task, model, re-init group, seed), described by a
`FinetuneSettings` and written into one folder (docs/finetune.md lists its files). The folder's
manifest holds the settings that determine the result: a finished run is returned from it, an
interrupted one resumed, another run refused. Every input is checked before the model loads,
and the folder is created only then, so a bad option costs seconds and leaves nothing behind.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from crossling.core.atomic import check_output_dir, disk_full_as_oserror, remove_stale_temps
from crossling.core.devices import pick_device
from crossling.core.errors import ConfigError, DataError, SettingError
from crossling.core.manifest import check_folder, claim_folder, make_manifest
from crossling.core.provenance import model_identity, provenance, sha256_file
from crossling.core.settings import Settings, count, flag, one_of, renamed, setting, text
from crossling.core.settings import seed as seed_rule
from crossling.core.version import __version__
from crossling.data.example import Example
from crossling.data.leakage import check_files_overlap
from crossling.data.specs import DataFolders, FileSpecs, TaskFiles, resolve_task_files
from crossling.models.config import num_blocks, read_config
from crossling.models.encoder import Encoder, load_encoder, model_fingerprint
from crossling.models.languages import language_codes, source_language
from crossling.models.names import check_model_name
from crossling.models.naming import model_name
from crossling.models.reinit import (
    SCHEMES,
    ReinitReport,
    ReinitSettings,
    canonical_group,
    is_preset,
    parse_group,
    preset_spec,
    reinit,
    resolve_group,
)
from crossling.models.vocab import merge_vocabulary, trim_vocabulary
from crossling.results import (
    SENTENCE_FILE,
    ScoreRow,
    SimilarityRow,
    read_sentence_counts,
    with_sentence_counts,
    write_rows_csv,
    write_rows_json,
    write_sentence_counts,
)
from crossling.training.encoded import EncodedTokenizer, default_cache_dir
from crossling.training.finetune import (
    AS_EVAL,
    RUN_OUTPUTS,
    SUBSAMPLE_SEED,
    WEIGHT_CHANGE,
    Snapshot,
    SourceLimit,
    load_rows,
    load_weight_change,
    read_examples,
    save_finetuned_model,
    snapshot_blocks,
    source_limit,
    source_size,
    weight_change_rows,
)
from crossling.training.loop import (
    FitOptions,
    TaskModel,
    TrainConfig,
    cast_for_evaluation,
    check_max_length,
    config_identity,
    evaluate,
    fit,
    resolved_config,
    seed_everything,
)
from crossling.training.tasks import TASKS, get_task

log = logging.getLogger(__name__)

DEFAULT_ROOT = Path("runs") / "finetune"

METRIC_VARIANTS = {"upos_acc": "token accuracy over syntactic words",
                   "uas": "CoNLL 2018, all words incl. punctuation",
                   "las": "CoNLL 2018, universal relation (subtypes stripped)",
                   "span_f1": "seqeval default (conlleval) chunking, micro F1",
                   "ci": "95% percentile bootstrap over sentences, 1000 resamples"}
"""How each metric is computed, recorded in every run's provenance."""


# --- settings ----------------------------------------------------------------------------------


_name = text("a name or a path")


def _specs(name: str, value: Any) -> tuple[str, ...] | None:
    """None or an empty list (the default), a bare spec (one) or a list of specs."""
    if value is None or (not isinstance(value, str | Path) and not value):
        return None
    if isinstance(value, str | Path):
        value = [value]
    if not isinstance(value, Sequence):
        raise SettingError(name, f"must be a list of specs, got {value!r}")
    return tuple(_name(f"{name}[{i}]", v) for i, v in enumerate(value))


def _optional_name(name: str, value: Any) -> str | None:
    return None if value is None else _name(name, value)


def _group(name: str, value: Any) -> str:
    """The canonical label of a re-init group (`crossling.models.reinit.canonical_group`),
    or a preset's group (``thirds:2``), resolved against the model's depth by
    `prepare_finetune`."""
    text = _name(name, value)
    return preset_spec(text) if is_preset(text) else canonical_group(text)


def _training(name: str, value: Any) -> TrainConfig:
    """A TrainConfig, or a mapping of its fields (an error names ``training.<field>``)."""
    if isinstance(value, TrainConfig):
        return value
    if not isinstance(value, Mapping):
        raise SettingError(name, f"must be a TrainConfig or a mapping of its fields, got "
                                 f"{type(value).__name__}")
    unknown = sorted(set(value) - {f for f in asdict(TrainConfig())})
    if unknown:
        raise SettingError(f"{name}.{unknown[0]}", "unknown field")
    try:
        return TrainConfig(**value)
    except SettingError as exc:
        raise renamed(exc, f"{name}.{exc.name}") from None


@dataclass(frozen=True)
class FinetuneSettings(Settings):
    """A fine-tuning run: task, model, data specs, re-init group, seed and training recipe.

    ``train``, ``dev``, ``test`` (the source test set) and ``evals`` (the targets) are specs
    resolved in a data folder (language codes, treebank specs or files; None: the task's
    defaults, `crossling.data.specs`). ``training``: a TrainConfig or a mapping of its fields.
    ``trim_vocab`` trains only the embedding rows of the sub-words the run encodes (exact,
    `crossling.models.vocab`); ``save_model=False`` keeps no fine-tuned model.
    ``max_eval_sentences`` cuts the dev set and every test set, ``max_source_sentences`` (None:
    all; default: ``max_eval_sentences``) the source test set alone.
    """

    task: str = setting(rule=one_of(sorted(TASKS)))
    model: str = setting(rule=_name)
    train: tuple[str, ...] | None = setting(None, rule=_specs)
    dev: tuple[str, ...] | None = setting(None, rule=_specs)
    test: str | None = setting(None, rule=_optional_name)
    evals: tuple[str, ...] | None = setting(None, rule=_specs)
    allow_test_training: bool = setting(False, rule=flag)
    reinit: str = setting("REF", rule=_group)
    reinit_scheme: str = setting("model", rule=one_of(SCHEMES))
    seed: int = setting(0, rule=seed_rule)
    training: TrainConfig = setting(factory=TrainConfig, rule=_training)  # noqa: RUF009 (a field)
    max_train_sentences: int | None = setting(None, rule=count(1, optional=True))
    max_eval_sentences: int | None = setting(None, rule=count(1, optional=True))
    trim_vocab: bool = setting(True, rule=flag)
    save_model: bool = setting(True, rule=flag)
    max_source_sentences: SourceLimit = setting(AS_EVAL, rule=source_size)  # noqa: RUF009

    @property
    def source_sentences(self) -> int | None:
        """The sentences of the source test set (None: all): ``max_source_sentences``, by
        default ``max_eval_sentences``."""
        return source_limit(self.max_source_sentences, self.max_eval_sentences)


@dataclass(frozen=True)
class FinetuneJob:
    """One fine-tuning run with its files resolved and its folder chosen."""

    settings: FinetuneSettings
    files: TaskFiles
    out: Path

    def run(self, overwrite: bool = False, progress: bool = True) -> list[ScoreRow]:
        """Train and evaluate (resuming the same run in ``out``); the rows of every language."""
        return run_finetune(self, overwrite=overwrite, progress=progress)


def _file_identity(path: str | Path) -> dict[str, str]:
    p = Path(path)
    if not p.is_file():
        raise DataError(p, None, "no such file")
    return {"file": p.name, "sha256": sha256_file(p)}


def manifest_settings(settings: FinetuneSettings, files: TaskFiles) -> dict[str, Any]:
    """Everything that determines a run's result, checked: its manifest settings.

    Checks the evaluation sets and source, that train and dev files are given and every file
    exists, and the device; then records the data by name and SHA-256, a local model folder by
    its files' SHA-256 (`model_identity`), the recipe and the crossling version. Reads no
    sentence and loads no model.
    """
    s = settings
    if not files.evals:
        raise ConfigError("nothing to evaluate: give at least one evaluation set")
    source = files.source or next(iter(files.evals))
    if source not in files.evals:
        raise ConfigError(f"source {source!r} is not among the evaluation sets "
                          f"({', '.join(files.evals)})")
    if not files.train:
        raise ConfigError("no training file given")
    if not files.dev:
        raise ConfigError("no dev file given")
    pick_device(s.training.device)
    return {
        "task": s.task, "model": s.model, "model_files": model_identity(s.model),
        "data": {"train": [_file_identity(f) for f in files.train],
                 "dev": [_file_identity(f) for f in files.dev],
                 "eval": {lang: _file_identity(f) for lang, f in files.evals.items()}},
        "reinit_group": s.reinit, "reinit_scheme": s.reinit_scheme, "seed": s.seed,
        "train_config": config_identity(s.training),
        "max_train_sentences": s.max_train_sentences,
        "max_eval_sentences": s.max_eval_sentences, "source": source,
        # only when it differs: the runs of earlier versions keep their manifests
        **({"max_source_sentences": s.source_sentences}
           if s.source_sentences != s.max_eval_sentences else {}),
        "subsample_seed": SUBSAMPLE_SEED, "crossling_version": __version__,
        # scores equal the untrimmed run's, the saved encoder's untouched rows do not (no decay)
        "trim_vocab": s.trim_vocab,
    }


def default_out_dir(settings: Mapping[str, Any], root: str | Path = DEFAULT_ROOT) -> Path:
    """``root/<task>-<model>-<re-init>-seed<seed>-<hash>`` for manifest ``settings``: one folder
    per distinct run (the hash starts the settings key), found again by the same command."""
    key = make_manifest("finetune", settings)["key"]
    model = Path(str(settings["model"]).rstrip("/\\")).name or "model"
    name = f"{settings['task']}-{model}-{settings['reinit_group']}-seed{settings['seed']}"
    return Path(root) / f"{re.sub(r'[^A-Za-z0-9._-]+', '_', name)}-{key[:8]}"


# --- the spec-level entry points ---------------------------------------------------------------


def with_depth(settings: FinetuneSettings) -> FinetuneSettings:
    """``settings`` with a preset group (``thirds:2``) replaced by its blocks for the model's
    depth (read from its config, no weights); a whole preset is a one-line error."""
    if not is_preset(settings.reinit):
        return settings
    check_model_name(settings.model)
    try:
        group = resolve_group(settings.reinit, num_blocks(read_config(settings.model)),
                              model_name(settings.model))
    except ConfigError as exc:
        raise SettingError("reinit", str(exc)) from None
    return replace(settings, reinit=group)


def prepare_finetune(settings: FinetuneSettings, *, data: str | Path | None = None,
                     out: str | Path | None = None) -> FinetuneJob:
    """Everything checked before training: specs resolved in ``data`` with the shared defaults
    (`crossling.data.specs`), the settings and files validated, and the output folder
    (``out``, else one per distinct run under ``runs/finetune``) usable. No test split is
    trained on unless ``settings.allow_test_training``, and no evaluated sentence is a
    training or dev sentence (`crossling.data.leakage`)."""
    s = with_depth(settings)
    files = resolve_task_files(s.task, DataFolders.under(data), FileSpecs(
        train=s.train, dev=s.dev, test=s.test, evals=s.evals,
        allow_test_training=s.allow_test_training))
    check_model_name(s.model)
    manifest = manifest_settings(s, files)
    folder = check_output_dir(out if out else default_out_dir(manifest))
    check_files_overlap(s.task, {"train": files.train, "dev": files.dev}, files.evals)
    return FinetuneJob(settings=s, files=files, out=folder)


def finetune(settings: FinetuneSettings, *, data: str | Path | None = None,
             out: str | Path | None = None, overwrite: bool = False,
             progress: bool = True) -> list[ScoreRow]:
    """Fine-tune and score on the source and every target test set: ``crossling finetune`` as
    one call (the public `crossling.finetune`). Everything is checked before any training
    (`prepare_finetune`); ``out`` holding this very run returns (or resumes) it, another run
    there is refused unless ``overwrite``."""
    job = prepare_finetune(settings, data=data, out=out)
    return job.run(overwrite=overwrite, progress=progress)


# --- the run -----------------------------------------------------------------------------------


def run_finetune(job: FinetuneJob, *, overwrite: bool = False, progress: bool = True,
                 encoded_cache: str | Path | bool = True) -> list[ScoreRow]:
    """`run_finetune_rows` without the weight-change rows: the score rows of every language."""
    return run_finetune_rows(job, overwrite=overwrite, progress=progress,
                             encoded_cache=encoded_cache)[0]


@dataclass(frozen=True)
class _Sets:
    train: list[Example]
    dev: list[Example]
    tests: dict[str, list[Example]]

    def all(self) -> list[list[Example]]:
        return [self.train, self.dev, *self.tests.values()]


@dataclass
class _Start:
    """The encoder fine-tuning starts from, and what it was before re-initialisation."""

    encoder: Encoder
    report: ReinitReport | None
    pretrained_fp: str
    after_reinit_fp: str
    pretrained_blocks: Snapshot


def _check_model_config(settings: FinetuneSettings) -> None:
    """Max length and re-init layers against the model's config, before its weights load."""
    check_model_name(settings.model)
    cfg = read_config(settings.model)
    check_max_length(settings.training, cfg, settings.model)
    n_layers = num_blocks(cfg)
    layers, _ = parse_group(settings.reinit)
    if n_layers is not None:
        for layer in layers:
            if not 1 <= layer <= n_layers:
                raise ConfigError(f"layer {layer} out of range 1..{n_layers}")


def _read_sets(settings: FinetuneSettings, files: TaskFiles, source: str) -> _Sets:
    """Train, dev and test sets; the source's test set is cut to ``source_sentences``, the
    dev and target sets to ``max_eval_sentences``."""
    task, limit = settings.task, settings.max_eval_sentences
    return _Sets(read_examples(task, files.train, settings.max_train_sentences),
                 read_examples(task, files.dev, limit),
                 {lang: read_examples(task, [path], settings.source_sentences if lang == source
                                      else limit) for lang, path in files.evals.items()})


def _load_start(settings: FinetuneSettings, sets: _Sets,
                encoded_cache: str | Path | bool, source: str) -> _Start:
    """Seed, load the encoder, pre-tokenise every set (cached; train and dev in the
    ``source`` language, each test set in its own) and re-initialise the group."""
    config = settings.training
    seed_everything(settings.seed)
    encoder = load_encoder(settings.model, device=config.device)
    language_codes(encoder.tokenizer, [source, *sets.tests])  # a language without a code: now
    pretrained_fp = model_fingerprint(encoder.model)  # before re-init: the weights as published
    # each set tokenised once per study, not per batch, epoch and cell (training/encoded.py)
    cache_dir = default_cache_dir() if encoded_cache is True else encoded_cache or None
    encoder.tokenizer = EncodedTokenizer(encoder.tokenizer, config.max_length, cache_dir)
    for lang, part in [(source, sets.train), (source, sets.dev), *sets.tests.items()]:
        with source_language(encoder.tokenizer, lang):
            encoder.tokenizer.add([ex.words for ex in part])
    layers, embeddings = parse_group(settings.reinit)
    # the published weights of the blocks re-initialisation replaces (the others: see start)
    pretrained_blocks = snapshot_blocks(encoder.model, [*([0] if embeddings else []), *layers])
    report = reinit(encoder.model, layers, ReinitSettings(
        scheme=settings.reinit_scheme, embeddings=embeddings, seed=settings.seed),
    ) if (layers or embeddings) else None
    after_reinit_fp = model_fingerprint(encoder.model) if report else pretrained_fp
    return _Start(encoder, report, pretrained_fp, after_reinit_fp, pretrained_blocks)


def _labels(settings: FinetuneSettings, sets: _Sets) -> tuple[list[str], dict[str, list[str]]]:
    """The training labels, and per evaluated set its gold labels never seen in training."""
    task = get_task(settings.task)
    labels = task.labels_from(sets.train)
    unknown = {lang: task.check_labels(ex, labels)
               for lang, ex in [("dev", sets.dev), *sets.tests.items()]}
    for lang, labs in unknown.items():
        if labs:
            log.warning("%s: %d gold label(s) never seen in training, counted as errors: %s",
                        lang, len(labs), ", ".join(labs))
    return labels, unknown


def run_finetune_rows(job: FinetuneJob, *, overwrite: bool = False, progress: bool = True,
                      encoded_cache: str | Path | bool = True,
                      ) -> tuple[list[ScoreRow], list[SimilarityRow]]:
    """Fine-tune ``job.settings.model`` on its task and evaluate it on every set of
    ``job.files.evals`` (the source among them): the score rows, and the relative weight
    change of every block (`weight_change_rows`), both written to ``job.out``.

    ``job.out`` must be empty, new, or hold this very run (its manifest matches): then a
    finished run is returned and an interrupted one resumed; ``overwrite`` empties a folder
    holding another run. Encoded sentence sets are cached in ``encoded_cache`` (True:
    ``$CROSSLING_CACHE/encoded``; False: in memory only).
    """
    s, files = job.settings, job.files
    manifest_data = manifest_settings(s, files)
    out = check_output_dir(job.out)
    manifest = make_manifest("finetune", manifest_data)
    done = out / "scores.json"
    if check_folder(out, manifest, overwrite) and done.is_file():
        for folder in (out, out / "fit"):  # temporaries of a writer killed after it finished
            remove_stale_temps(folder)
        rows = with_sentence_counts(load_rows(done), read_sentence_counts(out / SENTENCE_FILE))
        return rows, load_weight_change(out / WEIGHT_CHANGE)
    sets = _read_sets(s, files, manifest_data["source"])
    _check_model_config(s)
    start = _load_start(s, sets, encoded_cache, manifest_data["source"])
    encoder, config, task = start.encoder, resolved_config(s.training), get_task(s.task)
    labels, unknown = _labels(s, sets)
    model = task.build_model(encoder.model, labels)
    kept_rows = None  # provenance: how many embedding rows were trained (None = all)
    if s.trim_vocab:  # every text this run encodes, so every score equals the untrimmed run's
        kept_rows = len(trim_vocabulary(encoder.model, encoder.tokenizer, [
            ex.words for part in sets.all() for ex in part], config.max_length).kept)
    start_blocks = snapshot_blocks(encoder.model)  # after re-init and trimming: what fit starts
    # "model": ".model.*" folders are the model saver's temporaries from before pid-named ones
    claim_folder(out, manifest, overwrite=overwrite, known=(*RUN_OUTPUTS, "model"))
    source = manifest_data["source"]
    with source_language(encoder.tokenizer, source):  # train and dev: the source language
        result = fit(TaskModel(task, model, encoder.tokenizer, labels), sets.train, sets.dev,
                     config, out / "fit", FitOptions(seed=s.seed, progress=progress,
                                                     run_key=manifest["key"]))
    changes = weight_change_rows(encoder.model, start_blocks, start.pretrained_blocks,
                                 source=source, model=model_name(s.model), task=s.task,
                                 seed=s.seed,
                                 reinit=s.reinit)
    del start_blocks
    start.pretrained_blocks = {}
    merge_vocabulary(encoder.model)  # full-vocabulary encoder again, for saving and reuse
    if s.save_model:
        with disk_full_as_oserror(out):  # a full disk: one line, not a writer's traceback
            save_finetuned_model(model, encoder.tokenizer, labels, out)
    prov = provenance(
        data_files=[*files.train, *files.dev, *files.evals.values()], task=s.task,
        model=model_name(s.model), seed=s.seed, source=source, reinit_group=s.reinit,
        reinit=start.report.as_dict() if start.report else None, train_config=asdict(config),
        max_train_sentences=s.max_train_sentences, n_train=len(sets.train),
        n_dev=len(sets.dev), subsample_seed=SUBSAMPLE_SEED, labels=labels,
        unknown_labels={k: v for k, v in unknown.items() if v},
        pretrained_fingerprint=start.pretrained_fp,
        after_reinit_fingerprint=start.after_reinit_fp, manifest_key=manifest["key"],
        trained_embedding_rows=kept_rows, best_epoch=result.best_epoch,
        best_dev=result.best_dev, train_tokens_per_s=result.tokens_per_second,
        metric_variants=METRIC_VARIANTS, **_language_codes(encoder, source, sets),
        **{k: v for k, v in manifest_data.items() if k == "max_source_sentences"})
    cast_for_evaluation(model, config)  # bf16: the weights cast once, after saving
    rows = _evaluate_rows(job, model, encoder, labels, sets, prov, progress)
    changes = [replace(r, provenance=prov) for r in changes]
    write_rows_csv(out / "scores.csv", rows)  # and provenance.json, {run_id: prov}
    write_rows_json(out / WEIGHT_CHANGE, changes)
    write_sentence_counts(out / SENTENCE_FILE, rows)
    write_rows_json(done, rows)  # last: marks the run complete
    (out / "fit" / "best.pt").unlink(missing_ok=True)  # the model folder (if any) holds it
    return rows, changes


def _language_codes(encoder: Encoder, source: str, sets: _Sets) -> dict[str, Any]:
    """Provenance: the code each language's sentences were encoded with, for tokenizers that
    put one first (`crossling.models.languages`); nothing for others."""
    codes = language_codes(encoder.tokenizer, [source, *sets.tests])
    return {"language_codes": codes} if codes else {}


def _evaluate_rows(job: FinetuneJob, model: Any, encoder: Encoder, labels: list[str],
                   sets: _Sets, prov: dict[str, Any], progress: bool) -> list[ScoreRow]:
    """The score rows of every evaluated set."""
    s, task = job.settings, get_task(job.settings.task)
    source = prov["source"]
    tm = TaskModel(task, model, encoder.tokenizer, labels)
    rows: list[ScoreRow] = []
    for lang, examples in sets.tests.items():
        with source_language(encoder.tokenizer, lang):
            scores = evaluate(tm, examples, s.training, seed=s.seed, progress=progress,
                              desc=f"evaluate {lang}")
        for metric, sc in scores.items():
            rows.append(ScoreRow(task=s.task, language=lang,
                                 split=Path(job.files.evals[lang]).stem, metric=metric,
                                 value=sc.value, ci_low=sc.ci_low, ci_high=sc.ci_high,
                                 n_sentences=sc.n_sentences, n_units=sc.n_units,
                                 model=model_name(s.model),
                                 reinit=s.reinit, seed=s.seed, provenance=prov, source=source,
                                 sentences=sc.sentences))
    return rows
