"""Study configs: one YAML file describing the paper's whole grid, expanded into hashed cells.

A study names a model, the data folders, the tasks (train / dev / eval data), the RANDOM-INIT
groups, the seeds, the training hyper-parameters and the similarity settings. :func:`expand`
turns it into cells of these kinds (a task may override ``reinit`` and ``training``):

- ``similarity``: cross-lingual CKA of the pretrained model (source vs every similarity language);
- ``finetune``: one (task, re-init group, seed) run, evaluated on the source and every target;
- ``similarity_ft``: for each fine-tuned model of the ``similarity.after`` groups (REF by
  default) and ``after_seeds``, cross-lingual CKA of the fine-tuned encoder and
  pretrained-vs-fine-tuned CKA per language; depends on its ``finetune`` cell;
- ``similarity_seeds`` (``similarity.seed_pairs``): CKA between the REF models of two
  consecutive ``after_seeds`` of a task; depends on both ``finetune`` cells;
- ``retrieval``: parallel sentence retrieval (P@1 per layer, both directions, each variant) of
  the pretrained model, source vs every ``retrieval.languages`` target.
- ``probe``: layer-wise linear UPOS probes of the pretrained model, trained on English EWT and
  applied unchanged to the source and the targets (the ``probe`` section,
  :mod:`crossling.training.probing`).

A cell's key is a content hash of everything that determines its result (its own parameters,
the data files' checksums, the model's identity and the crossling version), so editing an
unrelated field of the study (another task, a new seed) never invalidates finished cells, while
results computed by another version of crossling are never silently reused.

Validation errors name the file, the field path and the problem, on one line. Every numeric field
has a valid range (a zero batch size or a negative learning rate is refused before anything
runs), and lists whose duplicates or emptiness would silently change the grid (seeds, re-init
groups, languages, measures) are refused rather than collapsed or dropped.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from crossling.core import version
from crossling.core.checks import SEED_MAX
from crossling.core.errors import ConfigError, CrosslingError, ModelError, SettingError
from crossling.core.provenance import model_identity, sha256_file
from crossling.data.leakage import check_training_splits
from crossling.data.parallel import count_aligned
from crossling.data.resolve import resolve_ud
from crossling.data.specs import DEFAULT_TEST, DataFolders, default_train, resolve_spec
from crossling.models.config import (
    missing_parts,
    num_blocks,
    read_config,
    usable_positions,
)
from crossling.models.names import looks_like_path
from crossling.models.reinit import SCHEMES, canonical_group, parse_group
from crossling.retrieval.metrics import VARIANTS
from crossling.retrieval.metrics import min_sentences as retrieval_min_sentences
from crossling.retrieval.settings import variant_list
from crossling.similarity.measures import get_measure, get_measures, measure_ids, min_sentences
from crossling.similarity.pooling import POOLINGS
from crossling.training.loop import TrainConfig

TASK_NAMES = ("pos", "parsing", "ner")


@dataclass(frozen=True)
class TaskSpec:
    name: str
    train: list[str]
    dev: list[str]
    test: str
    eval: list[str]
    max_train_sentences: int | None = None
    max_eval_sentences: int | None = None
    reinit: list[str] | None = None
    """The task's RANDOM-INIT groups (``tasks.<task>.reinit``); None: the study's ``reinit``."""
    training: TrainConfig | None = None
    """The task's effective training config (``tasks.<task>.training`` merged over the
    study's ``training``); None: the study's ``training``."""


@dataclass(frozen=True)
class SimilaritySpec:
    languages: list[str]
    measures: list[str] = field(default_factory=lambda: ["linear_cka", "debiased_cka"])
    pooling: str = "mean"
    n: int | None = 1000
    n_boot: int = 200
    n_null: int = 100
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
class RetrievalSpec:
    """The ``retrieval:`` section: targets, candidate pool size n, scorings, resamples."""

    languages: list[str]
    variants: list[str] = field(default_factory=lambda: list(VARIANTS))
    pooling: str = "mean"
    n: int = 1000
    n_boot: int = 1000
    n_null: int = 200


@dataclass(frozen=True)
class ProbeSpec:
    """The ``probe`` section: probe training set, test sets, layers and sizes."""

    targets: list[str]
    train: str = "en_ewt"
    layers: list[int] | None = None
    max_train_sentences: int | None = 4000
    max_eval_sentences: int | None = None
    n_boot: int = 1000
    seed: int = 0


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

    def task_reinit(self, task: TaskSpec) -> list[str]:
        """The re-init groups ``task`` runs (its own ``reinit``, else the study's)."""
        return self.reinit if task.reinit is None else task.reinit

    def task_training(self, task: TaskSpec) -> TrainConfig:
        """The training config of ``task`` (its overrides merged over the study's)."""
        return self.training if task.training is None else task.training


@dataclass(frozen=True)
class Cell:
    """One unit of work, identified by the hash of what determines its result."""

    key: str
    kind: str
    params: dict[str, Any]
    depends_on: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        p = self.params
        if self.kind == "finetune":
            return f"finetune {p['task']} reinit={p['reinit']} seed={p['seed']}"
        if self.kind == "similarity_ft":
            group = p.get("reinit", "REF")
            return f"similarity after {p['task']}" + \
                ("" if str(group).upper() == "REF" else f" reinit={group}") + f" seed={p['seed']}"
        if self.kind == "similarity_seeds":
            return f"similarity {p['task']} seed={p['seeds'][0]} vs seed={p['seeds'][1]}"
        if self.kind == "retrieval":
            return "retrieval (pretrained)"
        if self.kind == "probe":
            return f"probe (pretrained, {len(p['targets'])} targets)"
        return "similarity (pretrained)"


class _Fields:
    """Reads a mapping with typed lookups; every error names ``file: path``."""

    def __init__(self, file: str, data: Any, where: str) -> None:
        if not isinstance(data, Mapping):
            raise ConfigError(f"{file}: {where or 'study'}: expected a mapping")
        self.file, self.data, self.where = file, dict(data), where
        self.used: set[str] = set()

    def _path(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.file}: {self._path(key)}: {problem}")

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
        self.used.add(key)
        if key not in self.data:
            if default is ...:
                raise self.fail(key, "missing")
            return default
        value = self.data[key]
        if value is None and default is None:
            return None
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (isinstance(value, bool) and kind in (int, float)):
            names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
            raise self.fail(key, f"expected {names}, got {type(value).__name__}")
        return value

    def number(self, key: str, kind: type, default: Any = ..., low: float = 0,
               exclusive: bool = False, high: float | None = None) -> Any:
        """A finite int/float in [low, high] (``(low, high]`` when ``exclusive``); ``None`` is
        kept when it is the default (the field's "no limit")."""
        value = self.get(key, kind, default)
        if value is None:
            return None
        if not math.isfinite(value):
            raise self.fail(key, f"must be a finite number, got {value}")
        too_low = value <= low if exclusive else value < low
        if too_low or (high is not None and value > high):
            bound = f"> {low:g}" if exclusive else f">= {low:g}"
            if high is not None:
                bound = f"in ({low:g}, {high:g}]" if exclusive else f"in [{low:g}, {high:g}]"
            raise self.fail(key, f"must be {bound}, got {value}")
        return value

    def unique(self, key: str, values: list[Any], ids: list[Any] | None = None) -> None:
        """Refuse a repeated entry (``ids``: what makes two entries the same, e.g. the file a
        language resolves to); a duplicate would silently repeat or collapse cells."""
        seen: dict[Any, int] = {}
        for i, ident in enumerate(values if ids is None else ids):
            if ident in seen:
                j = seen[ident]
                same = f"({values[i]!r})" if values[i] == values[j] else \
                    f"({values[i]!r} and {values[j]!r} are the same" + \
                    (f" file, {ident})" if isinstance(ident, Path) else ")")
                raise self.fail(f"{key}[{i}]", f"duplicate of {self._path(key)}[{j}] {same}")
            seen[ident] = i

    def strings(self, key: str, default: Any = ...) -> list[str]:
        value = self.get(key, (list, str), default)
        value = [value] if isinstance(value, str) else value
        if not all(isinstance(v, (str, int)) for v in value):
            raise self.fail(key, "expected a list of strings")
        return [str(v) for v in value]

    def sub(self, key: str) -> _Fields:
        self.used.add(key)
        return _Fields(self.file, self.data.get(key, {}), self._path(key))

    def finish(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise self.fail(unknown[0], f"unknown field (known: {', '.join(sorted(self.used))})")


def _resolve_data(raw: str | None, base: Path) -> Path | None:
    """A data path from the study file, relative to the file's folder unless absolute."""
    if raw is None:
        return None
    p = Path(raw)
    return p if p.is_absolute() else (base / p)


def load_study(path: str | Path, data: str | Path | None = None) -> Study:
    """Parse and validate a study file; ``data`` overrides the data root (folder with ud/, ner/).

    Relative data paths in the file are resolved against the study file's folder.
    """
    p = Path(path)
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
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        where = f"{p}:{line + 1}" if line is not None else str(p)
        raise ConfigError(f"{where}: invalid YAML ({getattr(exc, 'problem', exc)})") from None
    top = _Fields(str(p), raw, "")
    name = top.get("name", str, p.stem)
    model = top.get("model", str)
    model = os.path.expanduser(model) if model.startswith("~") else model
    config = _model_config(top, model)
    data_f = top.sub("data")
    base = p.parent
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
    source = top.get("source", str, "en")
    seeds = top.get("seeds", list, [0])
    if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise top.fail("seeds", "expected a non-empty list of integers")
    for i, seed in enumerate(seeds):
        if not 0 <= seed <= SEED_MAX:
            raise top.fail(f"seeds[{i}]", f"must be in [0, {SEED_MAX}], got {seed}")
    top.unique("seeds", seeds)
    reinit = _reinit(top, ["REF"])
    scheme = top.get("reinit_scheme", str, "model")
    if scheme not in SCHEMES:
        raise top.fail("reinit_scheme", f"unknown scheme {scheme!r} (available: "
                                        f"{', '.join(SCHEMES)})")
    training = _training(top.sub("training"))
    allow_test = top.get("allow_test_training", bool, False)

    tasks: list[TaskSpec] = []
    tasks_f = top.sub("tasks")
    for tname in list(tasks_f.data):
        if tname not in TASK_NAMES:
            raise tasks_f.fail(tname, f"unknown task (available: {', '.join(TASK_NAMES)})")
        tf = tasks_f.sub(tname)
        spec = TaskSpec(
            name=tname, train=tf.strings("train", [default_train(tname)]),
            dev=tf.strings("dev", [default_train(tname)]),
            test=tf.get("test", str, DEFAULT_TEST),
            eval=tf.strings("eval", []),
            max_train_sentences=tf.number("max_train_sentences", int, None, low=1),
            max_eval_sentences=tf.number("max_eval_sentences", int, None, low=1),
            reinit=_reinit(tf, reinit) if "reinit" in tf.data else None,
            training=_training(tf.sub("training"), training) if "training" in tf.data
            else None)
        tf.used.update({"reinit", "training"})  # optional overrides: known fields
        tf.finish()
        resolved: dict[str, list[Path]] = {}
        for role, specs, split in (("train", spec.train, "train"), ("dev", spec.dev, "dev"),
                                   ("test", [spec.test], "test"), ("eval", spec.eval, "test")):
            for i, lang in enumerate(specs):
                try:
                    resolved.setdefault(role, []).append(
                        _data_file(tname, ud, ner, lang, split).resolve())
                except CrosslingError as exc:
                    raise tf.fail(f"{role}[{i}]" if role != "test" else role, str(exc)) from None
        if not spec.train:
            raise tf.fail("train", "empty list: nothing to train on")
        if not spec.dev:
            raise tf.fail("dev", "empty list: early stopping needs a dev set")
        tf.unique("train", spec.train, resolved["train"])
        for role in ("train", "dev"):
            for i, (lang, path) in enumerate(zip(getattr(spec, role), resolved[role],
                                                 strict=True)):
                check_training_splits(f"{tf.file}: {tf._path(role)}[{i}]", [(lang, path)],
                                      allow_test)
        tf.unique("dev", spec.dev, resolved["dev"])
        tf.unique("eval", spec.eval, resolved.get("eval", []))
        for i, path in enumerate(resolved.get("eval", [])):
            if path == resolved["test"][0]:
                raise tf.fail(f"eval[{i}]", f"{spec.eval[i]!r} is the source test set (test: "
                                            f"{spec.test}), not a target")
        tasks.append(spec)
    if not tasks and not {"similarity", "retrieval", "probe"} & set(top.data):
        raise top.fail("tasks", "a study needs at least one task, or a similarity, retrieval "
                                "or probe section")

    similarity = None
    if "similarity" in top.data:
        sf = top.sub("similarity")
        languages = sf.strings("languages")
        if not languages:
            raise sf.fail("languages", "empty list: no target to compare the source with")
        measures = sf.strings("measures", ["linear_cka", "debiased_cka"])
        if not measures:
            raise sf.fail("measures", f"empty list (available: {', '.join(measure_ids())})")
        _check_measures(sf, "measures", measures)
        # The measure registry's ``min_n`` (one table for the CLI, the pipeline and studies):
        # fewer sentences would fill the store with NaN or trivially-1 curves.
        min_n = min_sentences(measures)
        need = ", ".join(f"{m.id} needs n >= {m.min_n}" for m in get_measures(measures)
                         if m.min_n == min_n)
        n = sf.get("n", int, 1000)
        if n < min_n:
            raise sf.fail("n", f"must be >= {min_n}, got {n} ({need})")
        after_n = sf.get("after_n", int, None)
        if after_n is not None and after_n < min_n:
            raise sf.fail("after_n", f"must be >= {min_n}, got {after_n} ({need})")
        after_languages = sf.strings("after_languages") if sf.data.get(
            "after_languages") is not None else sf.get("after_languages", list, None)
        after_measures = None
        if sf.data.get("after_measures") is not None:
            after_measures = sf.strings("after_measures")
            if not after_measures:
                raise sf.fail("after_measures", "empty list (omit the field for measures)")
            _check_measures(sf, "after_measures", after_measures)
            ft_min = min_sentences(after_measures)
            if after_n is not None and after_n < ft_min:
                raise sf.fail("after_n", f"must be >= {ft_min} for after_measures, got "
                                         f"{after_n}")
        else:
            sf.get("after_measures", list, None)
        if after_languages is not None and not after_languages:
            raise sf.fail("after_languages", "empty list: no target to compare the source with "
                                             "(omit the field for languages)")
        similarity = SimilaritySpec(
            languages=languages, measures=measures,
            pooling=sf.get("pooling", str, "mean"), n=n,
            n_boot=sf.number("n_boot", int, 200, low=1),
            n_null=sf.number("n_null", int, 100, low=1),
            before=sf.get("before", bool, True),
            after=_after_groups(sf, tasks, reinit),
            after_seeds=_after_seeds(sf, seeds), after_n=after_n,
            after_languages=after_languages,
            seed_pairs=sf.get("seed_pairs", bool, False),
            layer_difference=sf.get("layer_difference", bool, False),
            after_measures=after_measures)
        sf.finish()
        if similarity.pooling not in POOLINGS:
            raise sf.fail("pooling", f"unknown pooling (available: {', '.join(POOLINGS)})")
        _check_targets(sf, ud, source, languages)
        if after_languages is not None:
            _check_targets(sf, ud, source, after_languages, key="after_languages")
        if similarity.before:
            _check_sentences(sf, "n", ud, source, languages, n)
        if tasks and similarity.after_groups:  # the fine-tuned similarity's sentences
            _check_sentences(sf, "n" if after_n is None else "after_n", ud, source,
                             similarity.ft_languages, similarity.ft_n)
        if similarity.seed_pairs and len(similarity.after_seeds or seeds) < 2:
            raise sf.fail("seed_pairs", "needs at least two seeds (in after_seeds, or seeds) "
                                        "to pair")
    retrieval = _retrieval(top.sub("retrieval"), ud, source) if "retrieval" in top.data \
        else None
    probe = _probe_spec(top.sub("probe"), ud, source, model, config, allow_test) \
        if "probe" in top.data else None
    top.finish()
    if config is not None:
        _check_fits_model(top, model, config, reinit, tasks, training)
    return Study(name=name, path=str(p), model=model, ud=str(ud),
                 ner=None if ner is None else str(ner), source=source, tasks=tasks,
                 reinit=reinit, reinit_scheme=scheme, seeds=list(seeds), training=training,
                 similarity=similarity, retrieval=retrieval, probe=probe,
                 allow_test_training=allow_test)


def _group_id(group: str) -> tuple[tuple[int, ...], bool]:
    """What makes two re-init group names the same group (``1-2`` and ``1,2``)."""
    layers, emb = parse_group(group)
    return tuple(layers), emb


def _reinit(f: _Fields, default: list[str]) -> list[str]:
    """``f.reinit``: a non-empty list of distinct, valid re-init groups (default ``default``)."""
    reinit = f.strings("reinit", default)
    if not reinit:
        raise f.fail("reinit", "empty list: no fine-tuning cell would run (use [REF] for "
                               "the unmodified model)")
    f.unique("reinit", reinit, [_group_at(f, "reinit", i, g) for i, g in enumerate(reinit)])
    return [canonical_group(g) for g in reinit]  # labels and cell keys: one spelling per group


def _group_at(f: _Fields, key: str, i: int, group: str) -> tuple[tuple[int, ...], bool]:
    """:func:`_group_id` of entry ``i`` of ``f.key``; a bad group is an error at ``key[i]``."""
    try:
        return _group_id(group)
    except ConfigError as exc:
        raise f.fail(f"{key}[{i}]", str(exc)) from None


def _after_groups(sf: _Fields, tasks: list[TaskSpec], reinit: list[str]) -> bool | list[str]:
    """``similarity.after``: a bool, or a list of groups each run by at least one task."""
    after = sf.get("after", (bool, list), True)
    if isinstance(after, bool):
        return after
    groups = sf.strings("after")
    run = {_group_id(g) for t in tasks for g in (reinit if t.reinit is None else t.reinit)}
    ids = []
    for i, group in enumerate(groups):
        ids.append(_group_at(sf, "after", i, group))
        if ids[-1] not in run:
            raise sf.fail(f"after[{i}]", f"{group!r} is not a re-init group of any task "
                                         "(reinit, tasks.<task>.reinit)")
    sf.unique("after", groups, ids)
    return [canonical_group(g) for g in groups]


def _after_seeds(sf: _Fields, seeds: list[int]) -> list[int] | None:
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


def _check_measures(sf: _Fields, key: str, measures: list[str]) -> None:
    """Every entry of ``key`` a registered measure, none twice (file and field path on error)."""
    for i, m in enumerate(measures):
        try:
            get_measure(m)
        except ConfigError as e:
            raise sf.fail(f"{key}[{i}]", str(e)) from None
    sf.unique(key, measures)


def _check_targets(f: _Fields, ud: Path, source: str, languages: list[str], *,
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


def _retrieval(rf: _Fields, ud: Path, source: str) -> RetrievalSpec:
    """The validated ``retrieval:`` section (every error names the file and the field)."""
    languages = rf.strings("languages")
    if not languages:
        raise rf.fail("languages", "empty list: no target to retrieve translations from")
    variants = rf.strings("variants", list(VARIANTS))
    try:
        variant_list("variants", variants)
    except SettingError as exc:
        raise rf.fail(exc.name, exc.problem) from None
    need = retrieval_min_sentences(variants)
    spec = RetrievalSpec(
        languages=languages, variants=variants, pooling=rf.get("pooling", str, "mean"),
        n=rf.number("n", int, 1000, low=need),
        n_boot=rf.number("n_boot", int, 1000, low=1),
        n_null=rf.number("n_null", int, 200, low=1))
    rf.finish()
    if spec.pooling not in POOLINGS:
        raise rf.fail("pooling", f"unknown pooling (available: {', '.join(POOLINGS)})")
    _check_targets(rf, ud, source, languages)
    _check_sentences(rf, "n", ud, source, languages, spec.n)
    return spec


def _check_sentences(f: _Fields, key: str, ud: Path, source: str, languages: list[str],
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


def _model_config(top: _Fields, model: str) -> Any | None:
    """The model's config (``AutoConfig``, no weights), for the checks made at load. A local
    folder must exist and hold a config, weights and tokenizer files; a Hub model's config is
    read from the local cache when it is there, else None (its checks wait for its cells)."""
    try:
        if not Path(model).is_dir() and not looks_like_path(model):
            return read_config(model, cached_only=True)
        folder = Path(model)
        if not folder.is_dir():
            raise top.fail("model", f"{model}: no such model folder")
        problem = missing_parts(folder)
        if problem is not None:
            raise top.fail("model", f"{model}: {problem} in the model folder")
        return read_config(model)
    except ModelError as exc:
        raise top.fail("model", str(exc)) from None


def _check_fits_model(top: _Fields, model: str, config: Any, reinit: list[str],
                      tasks: list[TaskSpec], training: TrainConfig) -> None:
    """Each task's re-init groups within the model's blocks and its ``max_length`` within the
    model's positions, known from its config before any cell runs; an error names the field
    that set the value (the study's, or the task's own override)."""
    blocks, positions = num_blocks(config), usable_positions(config)
    raw_tasks = top.data.get("tasks") or {}
    for task in tasks:
        own = _Fields(top.file, raw_tasks[task.name], f"tasks.{task.name}")
        groups, where = (reinit, top) if task.reinit is None else (task.reinit, own)
        for i, group in enumerate(groups):
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


def _probe_spec(pf: _Fields, ud: Path, source: str, model: str, config: Any | None,
                allow_test: bool = False) -> ProbeSpec:
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
        blocks = None if config is None else num_blocks(config)
        for i, k in enumerate(layers):
            if isinstance(k, bool) or not isinstance(k, int) or k < 0:
                raise pf.fail(f"layers[{i}]", f"expected a layer number >= 0 (0 = embeddings), "
                                              f"got {k!r}")
            if blocks is not None and k > blocks:
                raise pf.fail(f"layers[{i}]", f"layer {k} out of range 0..{blocks} "
                                              f"({model} has {blocks} blocks)")
        pf.unique("layers", layers)
    spec = ProbeSpec(
        targets=targets, train=train, layers=None if layers is None else sorted(layers),
        max_train_sentences=pf.number("max_train_sentences", int, 4000, low=1),
        max_eval_sentences=pf.number("max_eval_sentences", int, None, low=1),
        n_boot=pf.number("n_boot", int, 1000, low=1),
        seed=pf.number("seed", int, 0, low=0, high=SEED_MAX))
    pf.finish()
    try:
        train_file = resolve_spec("pos", train, "train", DataFolders(ud, None))
    except CrosslingError as exc:
        raise pf.fail("train", str(exc)) from None
    check_training_splits(f"{pf.file}: {pf._path('train')}", [(train, train_file)], allow_test)
    _check_targets(pf, ud, source, targets, key="targets",
                   resolve=lambda lang: resolve_spec("pos", lang, "test", DataFolders(ud, None)),
                   source_is="the source test set")
    return spec


def _training(tf: _Fields, base: TrainConfig | None = None) -> TrainConfig:
    """The ``training`` mapping over ``base`` (TrainConfig's defaults when None): each field
    type-checked here, its range by TrainConfig's own rule (the CLI's too), reported at the
    field's path; ``max_length`` against the model's positions: :func:`_check_fits_model`."""
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


def _data_file(task: str, ud: Path, ner: Path | None, spec: str, split: str) -> Path:
    return resolve_spec(task, spec, split, DataFolders(ud, ner))


def _model_identity(model: str) -> str:
    """Hub name, or for a local folder every file's checksum (config, tokenizer and weights:
    :func:`crossling.core.provenance.model_identity`, what ``crossling finetune``'s manifest
    uses)."""
    files = model_identity(model)
    if files is None:
        return model
    return json.dumps({"local": Path(model).name, "files": files}, sort_keys=True)


DataRoles = Mapping[str, Path | list[Path] | Mapping[str, Path]]
"""A cell's data files by role (``train``, ``dev``, ``test``, ``eval``, ``languages``, ...):
a file, a list of files in their order, or files by language."""


def _checksums(files: DataRoles) -> dict[str, Any]:
    """The SHA-256 of each file, keeping its role, its position and its language: moving a
    file from ``train`` to ``dev`` or swapping two languages' files changes the result."""
    out: dict[str, Any] = {}
    for role, value in files.items():
        if isinstance(value, Path):
            out[role] = sha256_file(value)
        elif isinstance(value, Mapping):
            out[role] = {lang: sha256_file(f) for lang, f in value.items()}
        else:
            out[role] = [sha256_file(f) for f in value]
    return out


def _key(kind: str, params: Mapping[str, Any], files: DataRoles, model_id: str) -> str:
    """The content hash of a cell: its kind and settings, its data files by role, the model's
    identity and the crossling version (a result computed by another version, other code and
    perhaps other numbers, is never silently reused)."""
    blob = json.dumps({"kind": kind, "params": params, "model": model_id,
                       "crossling": version.__version__, "data": _checksums(files)},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _pud_roles(ud: Path, source: str, languages: list[str]) -> DataRoles:
    """The PUD files of a similarity or retrieval cell, the source's and each target's."""
    return {"source": resolve_ud(ud, source),
            "languages": {lang: resolve_ud(ud, lang) for lang in languages}}


def expand(study: Study) -> list[Cell]:
    """All cells of a study, dependencies before dependents."""
    ud, ner = Path(study.ud), Path(study.ner) if study.ner else None
    model_id = _model_identity(study.model)
    cells: list[Cell] = []
    sim = study.similarity
    sim_params: dict[str, Any] = {}
    sim_key: str | None = None  # the pretrained similarity cell, if any
    if sim is not None:
        sim_params = {"source": study.source, "languages": sim.languages,
                      "measures": sim.measures, "pooling": sim.pooling, "n": sim.n,
                      "n_boot": sim.n_boot, "n_null": sim.n_null}
        sim_files = _pud_roles(ud, study.source, sim.languages)
        if sim.before:
            # layer_difference only in this cell, and only when set (keys of other studies
            # unchanged)
            before = {**sim_params, "layer_difference": True} if sim.layer_difference \
                else sim_params
            params = {"model": study.model, "ud": study.ud, **before}
            cells.append(Cell(_key("similarity", before, sim_files, model_id),
                              "similarity", params))
            sim_key = cells[-1].key
    ret = study.retrieval
    if ret is not None:
        ret_params = {"source": study.source, "languages": ret.languages,
                      "variants": ret.variants, "pooling": ret.pooling, "n": ret.n,
                      "n_boot": ret.n_boot, "n_null": ret.n_null}
        ret_files = _pud_roles(ud, study.source, ret.languages)
        # after the pretrained similarity when both encode the same sentences the same way: the
        # retrieval then reads its vectors from the shared cache (two workers on one store would
        # otherwise both encode them at once)
        after_sim = (sim_key,) if sim_key is not None and sim is not None and \
            (sim.pooling, sim.n) == (ret.pooling, ret.n) and \
            set(ret.languages) <= set(sim.languages) else ()
        cells.append(Cell(_key("retrieval", ret_params, ret_files, model_id), "retrieval",
                          {"model": study.model, "ud": study.ud, **ret_params},
                          depends_on=after_sim))
    ft_params: dict[str, Any] = {}
    ft_files: DataRoles = {}
    if sim is not None:  # the fine-tuned similarity's settings (after_n, after_languages)
        ft_params = {**sim_params, "languages": sim.ft_languages, "n": sim.ft_n}
        if sim.after_measures is not None:  # (absent: the keys of earlier studies unchanged)
            ft_params["measures"] = sim.ft_measures
        ft_files = _pud_roles(ud, study.source, sim.ft_languages)
    after = {_group_id(g) for g in sim.after_groups} if sim is not None else set()
    after_seeds = (sim.after_seeds or study.seeds) if sim is not None else []
    for task in study.tasks:
        train_cfg = asdict(study.task_training(task))
        files = {"train": [_data_file(task.name, ud, ner, s, "train") for s in task.train],
                 "dev": [_data_file(task.name, ud, ner, s, "dev") for s in task.dev]}
        evals = {lang: _data_file(task.name, ud, ner, lang, "test")
                 for lang in [task.test, *task.eval]}
        roles: DataRoles = {**files, "test": {task.test: evals[task.test]},
                            "eval": {lang: evals[lang] for lang in task.eval}}
        ref_keys: dict[int, str] = {}  # seed -> finetune key of the task's REF models
        ref_sim: dict[int, str] = {}  # seed -> its REF model's similarity_ft cell
        for group in study.task_reinit(task):
            is_ref = group.upper() == "REF"
            measured = sim is not None and _group_id(group) in after
            for seed in study.seeds:
                identity = {"task": task.name, "reinit": group, "scheme": study.reinit_scheme,
                            "seed": seed, "training": train_cfg,
                            "max_train_sentences": task.max_train_sentences,
                            "max_eval_sentences": task.max_eval_sentences,
                            "eval": sorted(evals)}
                key = _key("finetune", identity, roles, model_id)
                tuned_later = seed in after_seeds and (
                    measured or (is_ref and sim is not None and sim.seed_pairs))
                params = {**identity, "model": study.model, "source": task.test,
                          # kept only when a later cell reads the encoder
                          "save_model": tuned_later,
                          "train": [str(f) for f in files["train"]],
                          "dev": [str(f) for f in files["dev"]],
                          "evals": {k: str(v) for k, v in evals.items()}}
                cells.append(Cell(key, "finetune", params))
                if is_ref:
                    ref_keys[seed] = key
                if measured and seed in after_seeds:
                    ident = {**ft_params, "task": task.name, "seed": seed, "finetune": key}
                    if not is_ref:  # REF's key as before the field existed
                        ident["reinit"] = group
                    ft_cell = Cell(_key("similarity_ft", ident, ft_files, model_id),
                                   "similarity_ft", {**ident, "reinit": group,
                                                     "model": study.model, "ud": study.ud},
                                   depends_on=(key,))
                    cells.append(ft_cell)
                    if is_ref:
                        ref_sim[seed] = ft_cell.key
        if sim is not None and sim.seed_pairs:
            pairs = [s for s in after_seeds if s in ref_keys]
            for a, b in itertools.pairwise(pairs):
                ident = {**ft_params, "task": task.name, "seeds": [a, b],
                         "finetune": [ref_keys[a], ref_keys[b]]}
                cells.append(Cell(_key("similarity_seeds", ident, ft_files, model_id),
                                  "similarity_seeds",
                                  {**ident, "model": study.model, "ud": study.ud},
                                  # after the models' similarity_ft cells (if
                                  # any): their vectors are in the cache then
                                  depends_on=(ref_keys[a], ref_keys[b], *(
                                      ref_sim[x] for x in (a, b) if x in ref_sim))))
    if study.probe is not None:
        cells.append(_probe_cell(study, study.probe, ud, model_id))
    return cells


def _probe_cell(study: Study, spec: ProbeSpec, ud: Path, model_id: str) -> Cell:
    """The study's ``probe`` cell: its key hashes the settings and the data files."""
    folders = DataFolders(ud, None)
    train = resolve_spec("pos", spec.train, "train", folders)
    tests = {lang: resolve_spec("pos", lang, "test", folders)
             for lang in [study.source, *spec.targets]}
    identity = {"source": study.source, "targets": spec.targets, "layers": spec.layers,
                "max_train_sentences": spec.max_train_sentences,
                "max_eval_sentences": spec.max_eval_sentences, "n_boot": spec.n_boot,
                "seed": spec.seed}
    params = {**identity, "model": study.model, "ud": study.ud, "train": str(train),
              "train_spec": spec.train}
    if study.allow_test_training:  # not in the key: it permits, it does not change the result
        params["allow_test_training"] = True
    return Cell(_key("probe", identity, {"train": train, "test": tests}, model_id), "probe",
                params)


def estimate_cost(study: Study, cells: list[Cell], tokens_per_s: float | None = None,
                  ) -> dict[str, float]:
    """Rough cost in sentence-passes and, with a measured throughput, in seconds per kind.

    Training costs ~3 forward-equivalents per training sentence per epoch; evaluation and
    similarity one forward pass per sentence. ``tokens_per_s`` (forward tokens per second, e.g.
    from a finished cell) converts passes to seconds at ~30 tokens per sentence.
    """
    passes: dict[str, float] = {}
    for c in cells:
        p = c.params
        if c.kind == "finetune":
            n_train = p["max_train_sentences"] or 12_000
            n_eval = (p["max_eval_sentences"] or 1000) * (len(p["evals"]) + 1)
            cost = 3 * n_train * p["training"]["epochs"] + n_eval
        elif c.kind == "probe":  # one frozen forward pass per sentence; probes are cheap
            cost = (p["max_train_sentences"] or 12_000) + \
                (p["max_eval_sentences"] or 1000) * (len(p["targets"]) + 1)
        else:  # similarity_ft: the tuned and the pretrained encoder; seeds: two tuned ones
            n = p["n"] or 1000
            cost = n * (len(p["languages"]) + 1) * \
                (2 if c.kind in ("similarity_ft", "similarity_seeds") else 1)
        passes[c.kind] = passes.get(c.kind, 0.0) + cost
    if tokens_per_s:
        return {k: v * 30 / tokens_per_s for k, v in passes.items()}
    return passes
