"""The study schema: one YAML file describing a whole grid, parsed and validated at load.

`load_study` reads each section with a small function; every error is one line naming
the file, the field path and the problem, raised before any cell runs (the field reference and
the valid ranges are in docs/studies.md). What a section turns into is up to the cell kinds
(`crossling.experiments.kinds`); this module knows nothing about cells.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from crossling.core.checks import SEED_MAX
from crossling.core.errors import ConfigError, CrosslingError, ModelError, SettingError
from crossling.core.precision import DEFAULT_PRECISION, precision
from crossling.core.settings import Settings, count, one_of, setting
from crossling.core.settings import seed as seed_rule
from crossling.data.leakage import check_training_splits
from crossling.data.parallel import count_aligned
from crossling.data.resolve import resolve_ud
from crossling.data.specs import DEFAULT_TEST, DataFolders, default_train, resolve_spec
from crossling.experiments.artifacts import check_url
from crossling.experiments.fields import Fields
from crossling.experiments.resources import Resources
from crossling.models.config import missing_parts, num_blocks, read_config, usable_positions
from crossling.models.names import looks_like_path
from crossling.models.naming import model_name
from crossling.models.reinit import (
    SCHEMES,
    canonical_group,
    expand_groups,
    is_preset,
    parse_group,
    preset_groups,
    preset_spec,
)
from crossling.retrieval.metrics import VARIANTS
from crossling.retrieval.metrics import min_sentences as retrieval_min_sentences
from crossling.retrieval.settings import variant_list
from crossling.similarity.measures import get_measure, get_measures, measure_ids, min_sentences
from crossling.similarity.pooling import POOLINGS
from crossling.training.finetune import AS_EVAL, SourceLimit, source_size
from crossling.training.loop import TrainConfig

TASK_NAMES = ("pos", "parsing", "ner")


SIZE = count(1, optional=True)
"""A number of sentences, or None for all of them."""


@dataclass(frozen=True)
class TaskSpec(Settings):
    """A task of the ``tasks`` section: its data specs, sizes and overrides."""

    name: str
    train: list[str]
    dev: list[str]
    test: str
    eval: list[str]
    max_train_sentences: int | None = setting(None, rule=SIZE)
    max_eval_sentences: int | None = setting(None, rule=SIZE)
    max_source_sentences: SourceLimit = setting(AS_EVAL, rule=source_size)  # noqa: RUF009
    """Sentences of the source test set alone (None: all; absent: ``max_eval_sentences``)."""
    reinit: list[str] | None = None
    """The task's RANDOM-INIT groups (``tasks.<task>.reinit``); None: the study's ``reinit``."""
    training: TrainConfig | None = None
    """The task's effective training config (``tasks.<task>.training`` merged over the
    study's ``training``); None: the study's ``training``."""


@dataclass(frozen=True)
class SimilaritySpec(Settings):
    """The ``similarity`` section: the pretrained and the fine-tuned similarity."""

    languages: list[str]
    measures: list[str] = field(default_factory=lambda: ["linear_cka", "debiased_cka"])
    pooling: str = setting("mean", rule=one_of(tuple(POOLINGS)))
    n: int | None = 1000
    n_boot: int = setting(200, rule=count(1))
    n_null: int = setting(100, rule=count(1))
    before: bool = True
    after: bool | list[str] = True
    """``True``: the REF models; ``False``: none; a list: these re-init groups (of the tasks
    that run them)."""
    after_seeds: list[int] | None = None
    """Seeds of the fine-tuned models measured after fine-tuning; None: every seed."""
    after_n: int | None = None
    """Sentences of the fine-tuned similarity; None: ``n``."""
    after_languages: list[str] | None = None
    """Targets of the fine-tuned similarity; None: ``languages``."""
    seed_pairs: bool = False
    """Seed-vs-seed CKA of each task's REF models, for consecutive ``after_seeds``."""
    layer_difference: bool = False
    """Also peak-minus-top rows with a paired interval, in the pretrained ``similarity`` cell."""
    after_measures: list[str] | None = None
    """Measures of the fine-tuned similarity; None: ``measures`` (CCA measures need more
    sentences than ``after_n`` may give them)."""
    precision: str = setting(DEFAULT_PRECISION, rule=precision)
    """Of the frozen passes (``similarity.precision``, else the study's ``precision``)."""

    @property
    def after_groups(self) -> list[str]:
        """The re-init groups measured after fine-tuning (``after: true`` is ``[REF]``)."""
        if isinstance(self.after, bool):
            return ["REF"] if self.after else []
        return list(self.after)

    @property
    def ft_n(self) -> int | None:
        return self.n if self.after_n is None else self.after_n

    @property
    def ft_languages(self) -> list[str]:
        return self.languages if self.after_languages is None else self.after_languages

    @property
    def ft_measures(self) -> list[str]:
        return self.measures if self.after_measures is None else self.after_measures


@dataclass(frozen=True)
class RetrievalSpec(Settings):
    """The ``retrieval:`` section: targets, candidate pool size n, scorings, resamples."""

    languages: list[str]
    variants: list[str] = field(default_factory=lambda: list(VARIANTS))
    pooling: str = setting("mean", rule=one_of(tuple(POOLINGS)))
    n: int = setting(1000, rule=count(2))
    n_boot: int = setting(1000, rule=count(1))
    n_null: int = setting(200, rule=count(1))
    precision: str = setting(DEFAULT_PRECISION, rule=precision)

    def check(self) -> None:
        need = retrieval_min_sentences(self.variants)
        if self.n < need:  # the margin variant's neighbourhoods
            raise SettingError("n", f"must be >= {need}, got {self.n}")


@dataclass(frozen=True)
class ProbeSpec(Settings):
    """The ``probe`` section: probe training set, test sets, layers and sizes."""

    targets: list[str]
    train: str = "en_ewt"
    layers: list[int] | None = None
    max_train_sentences: int | None = setting(4000, rule=SIZE)
    max_eval_sentences: int | None = setting(None, rule=SIZE)
    n_boot: int = setting(1000, rule=count(1))
    seed: int = setting(0, rule=seed_rule)
    precision: str = setting(DEFAULT_PRECISION, rule=precision)


@dataclass(frozen=True)
class ControlsSpec:
    """The ``controls`` section: ``random_weights``, the init seeds of the random-weights
    control (the model's architecture and tokenizer with fresh weights) that the pretrained
    ``similarity``, ``retrieval`` and ``probe`` cells are repeated on."""

    random_weights: list[int]


@dataclass(frozen=True)
class Study:
    name: str
    path: str
    model: str
    ud: str
    ner: str | None
    source: str
    tasks: list[TaskSpec]
    reinit: list[str]
    reinit_scheme: str
    seeds: list[int]
    training: TrainConfig
    similarity: SimilaritySpec | None
    retrieval: RetrievalSpec | None = None
    probe: ProbeSpec | None = None
    allow_test_training: bool = False
    """A test split may be named as training or dev data (``allow_test_training``)."""
    resources: dict[str, Resources] = field(default_factory=dict)
    """Per kind, what a cell asks a Ray cluster for (``resources.<kind>``); not in cell keys."""
    artifacts: str | None = None
    """The artifact store's URL (``artifacts``): outputs travel through it, not a shared disk."""
    models: tuple[str, ...] = ()
    """Every model of the study (``model: [a, b]``), ``model`` the first; empty: ``model``
    alone."""
    depths: dict[str, int | None] = field(default_factory=dict)
    """Transformer blocks of each model, from its config (None: not known at load)."""
    controls: ControlsSpec | None = None
    """The ``controls`` section; None: no control cells."""

    @property
    def random_weights(self) -> list[int]:
        """The init seeds of the random-weights control (empty: none)."""
        return [] if self.controls is None else list(self.controls.random_weights)

    @property
    def all_models(self) -> tuple[str, ...]:
        """The study's models, in the file's order."""
        return self.models or (self.model,)

    def for_model(self, model: str) -> Study:
        """The study of ``model`` alone, its re-init presets (``pairs``, ``thirds``, ...)
        expanded into groups for the model's depth: what its cells are expanded from."""
        depth = self.depths.get(model)

        def groups(specs: list[str]) -> list[str]:
            return expand_groups(specs, depth, model_name(model))

        sim = self.similarity
        if sim is not None and not isinstance(sim.after, bool):
            sim = replace(sim, after=groups(sim.after))
        return replace(self, model=model, models=(), reinit=groups(self.reinit), tasks=[
            t if t.reinit is None else replace(t, reinit=groups(t.reinit)) for t in self.tasks],
            similarity=sim)

    def task_reinit(self, task: TaskSpec) -> list[str]:
        """The re-init groups ``task`` runs (its own ``reinit``, else the study's)."""
        return self.reinit if task.reinit is None else task.reinit

    def task_training(self, task: TaskSpec) -> TrainConfig:
        """The training config of ``task`` (its overrides merged over the study's)."""
        return self.training if task.training is None else task.training



def load_study(path: str | Path, data: str | Path | None = None,
               precision: str | None = None) -> Study:
    """Parse and validate a study file; ``data`` overrides the data root (folder with ud/, ner/),
    ``precision`` every precision the file sets (``crossling run --precision``).

    Relative data paths in the file are resolved against the study file's folder.
    """
    p = Path(path)
    top = Fields(str(p), _read_yaml(p), "")
    _precisions(top, precision)
    name = top.get("name", str, p.stem)
    models = _models(top)
    model = models[0]
    configs = {m: _model_config(top, m, key) for key, m in _model_keys(top, models)}
    ud, ner = _data_folders(top.sub("data"), p.parent, data)
    source = top.get("source", str, "en")
    seeds = _seeds(top)
    reinit = _reinit(top, ["REF"])
    scheme = top.get("reinit_scheme", str, "model")
    if scheme not in SCHEMES:
        raise top.fail("reinit_scheme", f"unknown scheme {scheme!r} (available: "
                                        f"{', '.join(SCHEMES)})")
    training = _training(top.sub("training"))
    allow_test = top.get("allow_test_training", bool, False)
    tasks_f = top.sub("tasks")
    tasks = [_task(tasks_f, tname, DataFolders(ud, ner), reinit, training, allow_test)
             for tname in list(tasks_f.data)]
    if not tasks and not {"similarity", "retrieval", "probe"} & set(top.data):
        raise top.fail("tasks", "a study needs at least one task, or a similarity, retrieval "
                                "or probe section")
    similarity = _similarity(top.sub("similarity"), ud, source, seeds, reinit, tasks) \
        if "similarity" in top.data else None
    retrieval = _retrieval(top.sub("retrieval"), ud, source) if "retrieval" in top.data \
        else None
    probe = _probe_spec(top.sub("probe"), ud, source, models, configs, allow_test) \
        if "probe" in top.data else None
    resources = _resources(top.sub("resources")) if "resources" in top.data else {}
    controls = _controls(top.sub("controls"), similarity, retrieval, probe) \
        if "controls" in top.data else None
    artifacts = _artifacts(top, p.parent)
    top.finish()
    for m, cfg in configs.items():
        _check_fits_model(top, m, cfg, reinit, tasks, training)
        if similarity is not None:
            _check_after_fits(top, m, cfg, reinit, tasks, similarity)
    return Study(name=name, path=str(p), model=model, ud=str(ud),
                 ner=None if ner is None else str(ner), source=source, tasks=tasks,
                 reinit=reinit, reinit_scheme=scheme, seeds=seeds, training=training,
                 similarity=similarity, retrieval=retrieval, probe=probe,
                 allow_test_training=allow_test, resources=resources, artifacts=artifacts,
                 models=tuple(models) if len(models) > 1 else (),
                 depths={m: None if c is None else num_blocks(c) for m, c in configs.items()},
                 controls=controls)


def _controls(cf: Fields, similarity: SimilaritySpec | None, retrieval: RetrievalSpec | None,
              probe: ProbeSpec | None) -> ControlsSpec:
    """``controls.random_weights``: a non-empty list of distinct init seeds, for a study
    with a pretrained pass to repeat (``similarity`` with ``before``, ``retrieval``, ``probe``)."""
    cf.used.add("random_weights")
    cf.finish()  # a misspelt control first: it would read as a missing random_weights
    seeds = cf.get("random_weights", list)
    if not seeds:
        raise cf.fail("random_weights", "empty list (omit controls for none; e.g. [0, 1, 2])")
    for i, k in enumerate(seeds):
        if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= SEED_MAX:
            raise cf.fail(f"random_weights[{i}]", f"expected an init seed in [0, {SEED_MAX}], "
                                                  f"got {k!r}")
    cf.unique("random_weights", seeds)
    if (similarity is None or not similarity.before) and retrieval is None and probe is None:
        raise cf.fail("random_weights", "nothing to control: the study has no pretrained "
                                        "similarity (similarity.before), retrieval or probe")
    return ControlsSpec(random_weights=list(seeds))


def _models(top: Fields) -> list[str]:
    """``model``: one model, or a list of distinct models compared in one study."""
    raw = top.get("model", (str, list))
    models = [raw] if isinstance(raw, str) else raw
    if not models or not all(isinstance(m, str) and m.strip() for m in models):
        raise top.fail("model", "expected a model (Hub name or folder) or a non-empty list "
                                "of them")
    models = [os.path.expanduser(m) if m.startswith("~") else m for m in models]
    top.unique("model", models, [model_key_of(m) for m in models])
    return models


def model_key_of(model: str) -> str:
    """What makes two entries of ``model`` the same model (a folder by its resolved path)."""
    return str(Path(model).resolve()) if Path(model).is_dir() else model


def _model_keys(top: Fields, models: list[str]) -> list[tuple[str, str]]:
    """(field path, model) of each model: ``model``, or ``model[i]`` for a list."""
    if isinstance(top.data.get("model"), str):
        return [("model", models[0])]
    return [(f"model[{i}]", m) for i, m in enumerate(models)]


def _precisions(top: Fields, override: str | None) -> None:
    """The study-level ``precision`` as the default of each kind's own (``training``,
    ``similarity``, ``retrieval``, ``probe``), or ``override`` in all of them; the key it
    replaced (``training.bf16``) is an error naming the new one."""
    training = top.data.get("training")
    if isinstance(training, dict) and "bf16" in training:
        raise top.fail("training.bf16", "replaced by training.precision (fp32, bf16 or auto; "
                                        "bf16: true was bf16 on CUDA only, auto is closest)")
    if override is not None:  # the caller's (a flag): a SettingError it renames
        study_level = precision("precision", override)
    else:
        try:
            study_level = precision("precision", top.get("precision", str, DEFAULT_PRECISION))
        except SettingError as exc:
            raise top.failed(exc) from None
    for section in ("training", "similarity", "retrieval", "probe"):
        value = top.data.get(section)
        if section == "training" and value is None:
            value = top.data[section] = {}
        if isinstance(value, dict) and (override is not None or "precision" not in value):
            top.data[section] = {**value, "precision": study_level}
    tasks = top.data.get("tasks")
    for task in (tasks.values() if override is not None and isinstance(tasks, dict) else ()):
        if isinstance(task, dict) and isinstance(task.get("training"), dict):
            task["training"] = {**task["training"], "precision": study_level}
    top.used.add("precision")


def _read_yaml(p: Path) -> Any:
    """The study file's YAML; not a file, not UTF-8 or not YAML: one line naming the file."""
    if not p.is_file():
        raise ConfigError(f"{p}: no such study file")
    data_bytes = p.read_bytes()
    try:
        text = data_bytes.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad_line = data_bytes.count(b"\n", 0, exc.start) + 1
        raise ConfigError(f"{p}:{bad_line}: not UTF-8 (byte 0x{data_bytes[exc.start]:02x} at "
                          f"offset {exc.start}); save the study file as UTF-8") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        where = f"{p}:{line + 1}" if line is not None else str(p)
        raise ConfigError(f"{where}: invalid YAML ({getattr(exc, 'problem', exc)})") from None


def _data_folders(data_f: Fields, base: Path, data: str | Path | None,
                  ) -> tuple[Path, Path | None]:
    """``data.ud`` and ``data.ner`` (relative to the study's folder), or ``data``'s folders."""
    if data is not None:
        folders = DataFolders.under(data)
        ud, ner = folders.ud, folders.ner
        data_f.get("ud", str, None)
        data_f.get("ner", str, None)
    else:
        ud = _resolve_data(data_f.get("ud", str), base)
        ner = _resolve_data(data_f.get("ner", str, None), base)
    data_f.finish()
    if ud is None:  # data.ud is required, so get() raised already; kept for the type checker
        raise data_f.fail("ud", "missing")
    return ud, ner


def _resources(rf: Fields) -> dict[str, Resources]:
    """``resources.<kind>``: ``cpus``, ``gpus``, ``memory_gb``, ``custom`` (the kinds import
    this module, so `crossling.experiments.grid.expand` checks the kind names)."""
    out = {}
    for kind in rf.data:
        kf = rf.sub(str(kind))
        out[str(kind)] = kf.settings(Resources, **kf.values("cpus", "gpus", "memory_gb",
                                                            "custom"))
        kf.finish()
    return out


def _artifacts(top: Fields, base: Path) -> str | None:
    """``artifacts``: an fsspec URL, or a local folder (relative to the study file)."""
    url = top.get("artifacts", str, None)
    if url is None:
        return None
    if not url.strip():
        raise top.fail("artifacts", "empty: a URL (s3://bucket/prefix) or a folder")
    if "://" not in url:
        url = str(_resolve_data(os.path.expanduser(url), base))
    try:
        check_url(url)
    except ConfigError as exc:
        raise top.fail("artifacts", str(exc).removeprefix("artifacts: ")) from None
    return url


def _seeds(top: Fields) -> list[int]:
    """``seeds``: a non-empty list of distinct seeds."""
    seeds = top.get("seeds", list, [0])
    if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise top.fail("seeds", "expected a non-empty list of integers")
    for i, seed in enumerate(seeds):
        if not 0 <= seed <= SEED_MAX:
            raise top.fail(f"seeds[{i}]", f"must be in [0, {SEED_MAX}], got {seed}")
    top.unique("seeds", seeds)
    return list(seeds)


def _task(tasks_f: Fields, tname: str, folders: DataFolders, reinit: list[str],
          training: TrainConfig, allow_test: bool) -> TaskSpec:
    """``tasks.<tname>``, checked: its files resolve, none twice, no test split trained on
    (unless ``allow_test``), no target that is the source test set."""
    if tname not in TASK_NAMES:
        raise tasks_f.fail(tname, f"unknown task (available: {', '.join(TASK_NAMES)})")
    tf = tasks_f.sub(tname)
    spec = tf.settings(
        TaskSpec, name=tname, train=tf.strings("train", [default_train(tname)]),
        dev=tf.strings("dev", [default_train(tname)]),
        test=tf.get("test", str, DEFAULT_TEST),
        eval=tf.strings("eval", []),
        **tf.values("max_train_sentences", "max_eval_sentences", "max_source_sentences"),
        reinit=_reinit(tf, reinit) if "reinit" in tf.data else None,
        training=_training(tf.sub("training"), training) if "training" in tf.data
        else None)
    tf.used.update({"reinit", "training"})  # optional overrides: known fields
    tf.finish()
    _check_task_files(tf, spec, folders, allow_test)
    return spec


def _check_task_files(tf: Fields, spec: TaskSpec, folders: DataFolders,
                      allow_test: bool) -> None:
    resolved: dict[str, list[Path]] = {}
    for role, specs, split in (("train", spec.train, "train"), ("dev", spec.dev, "dev"),
                               ("test", [spec.test], "test"), ("eval", spec.eval, "test")):
        for i, lang in enumerate(specs):
            try:
                resolved.setdefault(role, []).append(
                    resolve_spec(spec.name, lang, split, folders).resolve())
            except CrosslingError as exc:
                raise tf.fail(f"{role}[{i}]" if role != "test" else role, str(exc)) from None
    if not spec.train:
        raise tf.fail("train", "empty list: nothing to train on")
    if not spec.dev:
        raise tf.fail("dev", "empty list: early stopping needs a dev set")
    tf.unique("train", spec.train, resolved["train"])
    for role in ("train", "dev"):
        for i, (lang, path) in enumerate(zip(getattr(spec, role), resolved[role], strict=True)):
            check_training_splits(f"{tf.file}: {tf.path(role)}[{i}]", [(lang, path)],
                                  allow_test)
    tf.unique("dev", spec.dev, resolved["dev"])
    tf.unique("eval", spec.eval, resolved.get("eval", []))
    for i, path in enumerate(resolved.get("eval", [])):
        if path == resolved["test"][0]:
            raise tf.fail(f"eval[{i}]", f"{spec.eval[i]!r} is the source test set (test: "
                                        f"{spec.test}), not a target")


def _similarity(sf: Fields, ud: Path, source: str, seeds: list[int], reinit: list[str],
                tasks: list[TaskSpec]) -> SimilaritySpec:
    """The ``similarity`` section, checked against the measures' minimum sentences, the
    tasks' re-init groups, the seeds and the parallel corpus."""
    languages = sf.strings("languages")
    if not languages:
        raise sf.fail("languages", "empty list: no target to compare the source with")
    measures = sf.strings("measures", ["linear_cka", "debiased_cka"])
    if not measures:
        raise sf.fail("measures", f"empty list (available: {', '.join(measure_ids())})")
    _check_measures(sf, "measures", measures)
    n = _enough_for(sf, "n", measures, sf.get("n", int, 1000))
    after_n = _enough_for(sf, "after_n", measures, sf.get("after_n", int, None))
    after_languages = sf.strings("after_languages") if sf.data.get(
        "after_languages") is not None else sf.get("after_languages", list, None)
    after_measures = _after_measures(sf, after_n)
    if after_languages is not None and not after_languages:
        raise sf.fail("after_languages", "empty list: no target to compare the source with "
                                         "(omit the field for languages)")
    spec = sf.settings(
        SimilaritySpec, languages=languages, measures=measures, n=n,
        **sf.values("pooling", "n_boot", "n_null", "precision"),
        before=sf.get("before", bool, True),
        after=_after_groups(sf, tasks, reinit),
        after_seeds=_after_seeds(sf, seeds), after_n=after_n,
        after_languages=after_languages,
        seed_pairs=sf.get("seed_pairs", bool, False),
        layer_difference=sf.get("layer_difference", bool, False),
        after_measures=after_measures)
    sf.finish()
    _check_similarity_data(sf, spec, ud, source, seeds, bool(tasks))
    return spec


def _enough_for(sf: Fields, key: str, measures: list[str], n: int | None) -> int | None:
    """``n`` (a sentence count) no fewer than the measure registry's ``min_n`` of
    ``measures`` (one table for the CLI, the pipeline and studies): fewer sentences would fill
    the store with NaN or trivially-1 curves."""
    min_n = min_sentences(measures)
    if n is not None and n < min_n:
        need = ", ".join(f"{m.id} needs n >= {m.min_n}" for m in get_measures(measures)
                         if m.min_n == min_n)
        raise sf.fail(key, f"must be >= {min_n}, got {n} ({need})")
    return n


def _after_measures(sf: Fields, after_n: int | None) -> list[str] | None:
    """``similarity.after_measures``: registered measures that ``after_n`` sentences fit."""
    if sf.data.get("after_measures") is None:
        sf.get("after_measures", list, None)
        return None
    after_measures = sf.strings("after_measures")
    if not after_measures:
        raise sf.fail("after_measures", "empty list (omit the field for measures)")
    _check_measures(sf, "after_measures", after_measures)
    ft_min = min_sentences(after_measures)
    if after_n is not None and after_n < ft_min:
        raise sf.fail("after_n", f"must be >= {ft_min} for after_measures, got {after_n}")
    return after_measures


def _check_similarity_data(sf: Fields, spec: SimilaritySpec, ud: Path, source: str,
                           seeds: list[int], has_tasks: bool) -> None:
    """The similarity section's targets and sentence counts, and its seed pairs."""
    _check_targets(sf, ud, source, spec.languages)
    if spec.after_languages is not None:
        _check_targets(sf, ud, source, spec.after_languages, key="after_languages")
    if spec.before:
        _check_sentences(sf, "n", ud, source, spec.languages, spec.n)
    if has_tasks and spec.after_groups:  # the fine-tuned similarity's sentences
        _check_sentences(sf, "n" if spec.after_n is None else "after_n", ud, source,
                         spec.ft_languages, spec.ft_n)
    if spec.seed_pairs and len(spec.after_seeds or seeds) < 2:
        raise sf.fail("seed_pairs", "needs at least two seeds (in after_seeds, or seeds) "
                                    "to pair")


def _resolve_data(raw: str | None, base: Path) -> Path | None:
    """A data path from the study file, relative to the file's folder unless absolute."""
    if raw is None:
        return None
    p = Path(raw)
    return p if p.is_absolute() else (base / p)



def group_id(group: str) -> tuple[tuple[int, ...], bool] | tuple[str, str]:
    """What makes two re-init group names the same group (``1-2`` and ``1,2``; a preset
    by its spelling, ``Thirds`` and ``thirds``)."""
    if is_preset(group):
        return "preset", preset_spec(group)
    layers, emb = parse_group(group)
    return tuple(layers), emb


def _reinit(f: Fields, default: list[str]) -> list[str]:
    """``f.reinit``: a non-empty list of distinct, valid re-init groups (default ``default``)."""
    reinit = f.strings("reinit", default)
    if not reinit:
        raise f.fail("reinit", "empty list: no fine-tuning cell would run (use [REF] for "
                               "the unmodified model)")
    f.unique("reinit", reinit, [_group_at(f, "reinit", i, g) for i, g in enumerate(reinit)])
    # labels and cell keys: one spelling per group; presets expand per model (Study.for_model)
    return [preset_spec(g) if is_preset(g) else canonical_group(g) for g in reinit]


def _group_at(f: Fields, key: str, i: int, group: str,
              ) -> tuple[tuple[int, ...], bool] | tuple[str, str]:
    """`group_id` of entry ``i`` of ``f.key``; a bad group is an error at ``key[i]``."""
    try:
        return group_id(group)
    except ConfigError as exc:
        raise f.fail(f"{key}[{i}]", str(exc)) from None


def _after_groups(sf: Fields, tasks: list[TaskSpec], reinit: list[str]) -> bool | list[str]:
    """``similarity.after``: a bool, or a list of groups each run by at least one task."""
    after = sf.get("after", (bool, list), True)
    if isinstance(after, bool):
        return after
    groups = sf.strings("after")
    run = {group_id(g) for t in tasks for g in (reinit if t.reinit is None else t.reinit)}
    # with presets, which groups run depends on each model's depth: `_check_after_fits`
    presets = any(is_preset(g) for g in groups) or any(k[0] == "preset" for k in run)
    ids = []
    for i, group in enumerate(groups):
        ids.append(_group_at(sf, "after", i, group))
        if not presets and ids[-1] not in run:
            raise sf.fail(f"after[{i}]", f"{group!r} is not a re-init group of any task "
                                         "(reinit, tasks.<task>.reinit)")
    sf.unique("after", groups, ids)
    return [preset_spec(g) if is_preset(g) else canonical_group(g) for g in groups]


def _check_after_fits(top: Fields, model: str, config: Any | None, reinit: list[str],
                      tasks: list[TaskSpec], similarity: SimilaritySpec) -> None:
    """Each ``similarity.after`` group, presets expanded for ``model``'s depth, is a group
    some task runs on ``model``."""
    if isinstance(similarity.after, bool) or config is None:
        return
    blocks = num_blocks(config)
    if blocks is None:
        return
    run = {g for t in tasks for g in expand_groups(reinit if t.reinit is None else t.reinit,
                                                   blocks)}
    for i, spec in enumerate(similarity.after):
        for group in expand_groups([spec], blocks):
            if group not in run:
                raise top.fail(f"similarity.after[{i}]", f"{group!r} ({spec!r} for "
                               f"{model_name(model)}, {blocks} blocks) is not a re-init "
                               "group of any task (reinit, tasks.<task>.reinit)")


def _after_seeds(sf: Fields, seeds: list[int]) -> list[int] | None:
    """``similarity.after_seeds``: a non-empty list of distinct members of ``seeds``."""
    after = sf.get("after_seeds", list, None)
    if after is None:
        return None
    if not after or not all(isinstance(s, int) and not isinstance(s, bool) for s in after):
        raise sf.fail("after_seeds", "expected a non-empty list of integers")
    for i, seed in enumerate(after):
        if seed not in seeds:
            raise sf.fail(f"after_seeds[{i}]", f"seed {seed} is not in seeds ({seeds})")
    sf.unique("after_seeds", after)
    return list(after)


def _check_measures(sf: Fields, key: str, measures: list[str]) -> None:
    """Every entry of ``key`` a registered measure, none twice (file and field path on error)."""
    for i, m in enumerate(measures):
        try:
            get_measure(m)
        except ConfigError as e:
            raise sf.fail(f"{key}[{i}]", str(e)) from None
    sf.unique(key, measures)


def _check_targets(f: Fields, ud: Path, source: str, languages: list[str], *,
                   key: str = "languages", resolve: Callable[[str], Path] | None = None,
                   source_is: str = "the source language") -> None:
    """``f.<key>`` resolve to files (PUD by default, or through ``resolve``), none is the
    source's, no two are the same file; errors name the field."""
    find = resolve or (lambda lang: resolve_ud(ud, lang))
    files = []
    for i, lang in enumerate([source, *languages]):
        try:
            files.append(find(lang).resolve())
        except CrosslingError as exc:
            raise f.fail(f"{key}[{i - 1}]" if i else "source", str(exc)) from None
    for i, path in enumerate(files[1:]):
        if path == files[0]:
            raise f.fail(f"{key}[{i}]", f"{languages[i]!r} is {source_is} ({source}), not a "
                                        "target")
    f.unique(key, languages, files[1:])


def _retrieval(rf: Fields, ud: Path, source: str) -> RetrievalSpec:
    """The validated ``retrieval:`` section (every error names the file and the field)."""
    languages = rf.strings("languages")
    if not languages:
        raise rf.fail("languages", "empty list: no target to retrieve translations from")
    variants = rf.strings("variants", list(VARIANTS))
    try:
        variant_list("variants", variants)
    except SettingError as exc:
        raise rf.failed(exc) from None
    spec = rf.settings(RetrievalSpec, languages=languages, variants=variants,
                       **rf.values("pooling", "n", "n_boot", "n_null", "precision"))
    rf.finish()
    _check_targets(rf, ud, source, languages)
    _check_sentences(rf, "n", ud, source, languages, spec.n)
    return spec


def _check_sentences(f: Fields, key: str, ud: Path, source: str, languages: list[str],
                     n: int | None) -> None:
    """``f.<key>`` (a sentence count) no more than the parallel sentences of the source and
    ``languages`` (counted from their ``sent_id`` comments), so that a cell never finds out
    after other cells trained; None (all sentences) always fits."""
    if n is None:
        return
    files = {lang: resolve_ud(ud, lang) for lang in [source, *languages]}
    try:
        have = count_aligned(files)
    except CrosslingError as exc:
        raise f.fail(key, str(exc)) from None
    if n > have:
        raise f.fail(key, f"must be <= {have}, the parallel sentences of "
                          f"{', '.join(files)} in {ud}; got {n}")


def _model_config(top: Fields, model: str, key: str = "model") -> Any | None:
    """The model's config (``AutoConfig``, no weights), for the checks made at load. A local
    folder must exist and hold a config, weights and tokenizer files; a Hub model's config is
    read from the local cache when it is there, else None (its checks wait for its cells)."""
    try:
        if not Path(model).is_dir() and not looks_like_path(model):
            return read_config(model, cached_only=True)
        folder = Path(model)
        if not folder.is_dir():
            raise top.fail(key, f"{model}: no such model folder")
        problem = missing_parts(folder)
        if problem is not None:
            raise top.fail(key, f"{model}: {problem} in the model folder")
        return read_config(model)
    except ModelError as exc:
        raise top.fail(key, str(exc)) from None


def _check_fits_model(top: Fields, model: str, config: Any | None, reinit: list[str],
                      tasks: list[TaskSpec], training: TrainConfig) -> None:
    """Each task's re-init groups within the model's blocks (a preset: the depth known and
    deep enough) and its ``max_length`` within the model's positions, known from its config
    before any cell runs; an error names the field that set the value (the study's, or the
    task's own override)."""
    blocks = None if config is None else num_blocks(config)
    positions = None if config is None else usable_positions(config)
    raw_tasks = top.data.get("tasks") or {}
    for task in tasks:
        own = Fields(top.file, raw_tasks[task.name], f"tasks.{task.name}")
        groups, where = (reinit, top) if task.reinit is None else (task.reinit, own)
        for i, group in enumerate(groups):
            if is_preset(group):
                _check_preset(where, f"reinit[{i}]", group, model, blocks)
                continue
            if config is None:
                continue
            layers, _ = parse_group(group)
            bad = [k for k in layers if blocks is not None and not 1 <= k <= blocks]
            if bad:
                raise where.fail(f"reinit[{i}]", f"layer {bad[0]} of group {group!r} out of "
                                                 f"range 1..{blocks} ({model} has {blocks} "
                                                 "transformer blocks)")
        max_length = (training if task.training is None else task.training).max_length
        if positions is not None and max_length > positions:
            set_here = "max_length" in (own.data.get("training") or {})
            path = f"tasks.{task.name}.training.max_length" if set_here \
                else "training.max_length"
            raise ConfigError(f"{top.file}: {path}: must be <= {positions} (the token "
                              f"positions of {model}), got {max_length}")


def _check_preset(where: Fields, key: str, group: str, model: str, blocks: int | None) -> None:
    """A preset re-init group expands for ``model``: its depth is known and deep enough."""
    if blocks is None:
        raise where.fail(key, f"preset {group!r} needs the depth of {model_name(model)}, "
                              "which is not known at load (a Hub model not in the local "
                              "cache, or a config without num_hidden_layers); list the "
                              "groups instead")
    try:
        preset_groups(group, blocks)
    except ConfigError as exc:
        raise where.fail(key, f"{exc} ({model_name(model)})") from None


def _probe_spec(pf: Fields, ud: Path, source: str, models: list[str],
                configs: dict[str, Any | None], allow_test: bool = False) -> ProbeSpec:
    """The ``probe`` section, checked: files resolve (no test split to train on unless
    ``allow_test``), no duplicate or source target, layers in range (when the model's
    ``config`` is known), sizes positive."""
    targets = pf.strings("targets")
    if not targets:
        raise pf.fail("targets", "empty list: no language to apply the probe to")
    train = pf.get("train", str, "en_ewt")
    layers = pf.get("layers", list, None)
    if layers is not None:
        if not layers:
            raise pf.fail("layers", "empty list (omit the field for every layer)")
        for i, k in enumerate(layers):
            if isinstance(k, bool) or not isinstance(k, int) or k < 0:
                raise pf.fail(f"layers[{i}]", f"expected a layer number >= 0 (0 = embeddings), "
                                              f"got {k!r}")
            for model in models:
                config = configs[model]
                blocks = None if config is None else num_blocks(config)
                if blocks is not None and k > blocks:
                    raise pf.fail(f"layers[{i}]", f"layer {k} out of range 0..{blocks} "
                                                  f"({model} has {blocks} blocks)")
        pf.unique("layers", layers)
    spec = pf.settings(
        ProbeSpec, targets=targets, train=train,
        layers=None if layers is None else sorted(layers),
        **pf.values("max_train_sentences", "max_eval_sentences", "n_boot", "seed",
                    "precision"))
    pf.finish()
    try:
        train_file = resolve_spec("pos", train, "train", DataFolders(ud, None))
    except CrosslingError as exc:
        raise pf.fail("train", str(exc)) from None
    check_training_splits(f"{pf.file}: {pf.path('train')}", [(train, train_file)], allow_test)
    _check_targets(pf, ud, source, targets, key="targets",
                   resolve=lambda lang: resolve_spec("pos", lang, "test", DataFolders(ud, None)),
                   source_is="the source test set")
    return spec


def _training(tf: Fields, base: TrainConfig | None = None) -> TrainConfig:
    """The ``training`` mapping over ``base`` (TrainConfig's defaults when None): each field
    type-checked here, its range by TrainConfig's own rule (the CLI's too), reported at the
    field's path; ``max_length`` against the model's positions: `_check_fits_model`."""
    defaults = base or TrainConfig()
    kwargs: dict[str, Any] = {}
    for key, value in asdict(defaults).items():
        if key == "device":
            continue
        kind: type = type(value) if value is not None else str
        kwargs[key] = tf.get(key, kind, value)
    tf.finish()
    try:
        config = TrainConfig(**kwargs)
    except SettingError as exc:
        raise tf.fail(exc.name, exc.problem) from None
    return config


