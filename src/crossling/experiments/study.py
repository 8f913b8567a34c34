"""Study configs: one YAML file describing the paper's whole grid, expanded into hashed cells.

A study names a model, the data folders, the tasks (train / dev / eval data), the RANDOM-INIT
groups, the seeds, the training hyper-parameters and the similarity settings. :func:`expand`
turns it into cells of three kinds:

- ``similarity``: cross-lingual CKA of the pretrained model (source vs every similarity language);
- ``finetune``: one (task, re-init group, seed) run, evaluated on the source and every target;
- ``similarity_ft``: for each REF fine-tuned model, cross-lingual CKA of the fine-tuned encoder
  and pretrained-vs-fine-tuned CKA per language; depends on its ``finetune`` cell.

A cell's key is a content hash of everything that determines its result (its own parameters,
the data files' checksums, the model's identity), so editing an unrelated field of the study
(another task, a new seed) never invalidates finished cells.

Validation errors name the file, the field path and the problem, on one line.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from crossling.data.ner import resolve_ner
from crossling.data.resolve import resolve_ud
from crossling.errors import ConfigError, CrosslingError
from crossling.models.reinit import parse_group
from crossling.provenance import sha256_file
from crossling.similarity.cka import MEASURES
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


@dataclass(frozen=True)
class SimilaritySpec:
    languages: list[str]
    measures: list[str] = field(default_factory=lambda: ["linear_cka", "debiased_cka"])
    pooling: str = "mean"
    n: int | None = 1000
    n_boot: int = 200
    n_null: int = 100
    before: bool = True
    after: bool = True


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
            return f"similarity after {p['task']} seed={p['seed']}"
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
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        where = f"{p}:{line + 1}" if line is not None else str(p)
        raise ConfigError(f"{where}: invalid YAML ({getattr(exc, 'problem', exc)})") from None
    top = _Fields(str(p), raw, "")
    name = top.get("name", str, p.stem)
    model = top.get("model", str)
    model = os.path.expanduser(model) if model.startswith("~") else model
    data_f = top.sub("data")
    base = p.parent
    if data is not None:
        root = Path(data)
        ud = root / "ud" if (root / "ud").is_dir() else root
        ner = root / "ner" if (root / "ner").is_dir() else None
        data_f.get("ud", str, None)
        data_f.get("ner", str, None)
    else:
        ud = _resolve_data(data_f.get("ud", str), base)  # type: ignore[assignment]
        ner = _resolve_data(data_f.get("ner", str, None), base)
    data_f.finish()
    assert ud is not None
    source = top.get("source", str, "en")
    seeds = top.get("seeds", list, [0])
    if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise top.fail("seeds", "expected a non-empty list of integers")
    reinit = top.strings("reinit", ["REF"])
    for i, group in enumerate(reinit):
        try:
            parse_group(group)
        except ConfigError as exc:
            raise top.fail(f"reinit[{i}]", str(exc)) from None
    scheme = top.get("reinit_scheme", str, "model")
    training = _training(top.sub("training"))

    tasks: list[TaskSpec] = []
    tasks_f = top.sub("tasks")
    for tname in list(tasks_f.data):
        if tname not in TASK_NAMES:
            raise tasks_f.fail(tname, f"unknown task (available: {', '.join(TASK_NAMES)})")
        tf = tasks_f.sub(tname)
        default_train = "en" if tname == "ner" else "en_ewt"
        spec = TaskSpec(
            name=tname, train=tf.strings("train", [default_train]),
            dev=tf.strings("dev", [default_train]), test=tf.get("test", str, "en"),
            eval=tf.strings("eval", []),
            max_train_sentences=tf.get("max_train_sentences", int, None),
            max_eval_sentences=tf.get("max_eval_sentences", int, None))
        tf.finish()
        for role, specs, split in (("train", spec.train, "train"), ("dev", spec.dev, "dev"),
                                   ("test", [spec.test], "test"), ("eval", spec.eval, "test")):
            for i, lang in enumerate(specs):
                try:
                    _data_file(tname, ud, ner, lang, split)
                except CrosslingError as exc:
                    raise tf.fail(f"{role}[{i}]" if role != "test" else role, str(exc)) from None
        tasks.append(spec)
    if not tasks and "similarity" not in top.data:
        raise top.fail("tasks", "a study needs at least one task or a similarity section")

    similarity = None
    if "similarity" in top.data:
        sf = top.sub("similarity")
        similarity = SimilaritySpec(
            languages=sf.strings("languages"),
            measures=sf.strings("measures", ["linear_cka", "debiased_cka"]),
            pooling=sf.get("pooling", str, "mean"), n=sf.get("n", int, 1000),
            n_boot=sf.get("n_boot", int, 200), n_null=sf.get("n_null", int, 100),
            before=sf.get("before", bool, True), after=sf.get("after", bool, True))
        sf.finish()
        for i, m in enumerate(similarity.measures):
            if m not in MEASURES:
                raise sf.fail(f"measures[{i}]", f"unknown measure {m!r} (available: "
                                                f"{', '.join(MEASURES)})")
        if similarity.pooling not in POOLINGS:
            raise sf.fail("pooling", f"unknown pooling (available: {', '.join(POOLINGS)})")
        for i, lang in enumerate([source, *similarity.languages]):
            try:
                resolve_ud(ud, lang)
            except CrosslingError as exc:
                raise sf.fail(f"languages[{i - 1}]" if i else "source", str(exc)) from None
    top.finish()
    return Study(name=name, path=str(p), model=model, ud=str(ud),
                 ner=None if ner is None else str(ner), source=source, tasks=tasks,
                 reinit=reinit, reinit_scheme=scheme, seeds=list(seeds), training=training,
                 similarity=similarity)


def _training(tf: _Fields) -> TrainConfig:
    defaults = TrainConfig()
    kwargs: dict[str, Any] = {}
    for key, value in asdict(defaults).items():
        if key == "device":
            continue
        kind: type = type(value) if value is not None else str
        kwargs[key] = tf.get(key, kind, value)
    tf.finish()
    return TrainConfig(**kwargs)


def _data_file(task: str, ud: Path, ner: Path | None, spec: str, split: str) -> Path:
    if Path(spec).is_file():
        return Path(spec)
    if task == "ner":
        if ner is None:
            raise ConfigError("no NER data folder (data.ner)")
        return resolve_ner(ner, spec, split)
    return resolve_ud(ud, spec, split)


def _model_identity(model: str) -> str:
    """Hub name, or for a local folder its weight files' checksums (a rebuilt folder differs)."""
    folder = Path(model)
    if folder.is_dir():
        files = sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin"))
        return json.dumps({"local": folder.name,
                           "weights": {f.name: sha256_file(f) for f in files}}, sort_keys=True)
    return model


def _key(kind: str, params: Mapping[str, Any], files: list[Path], model_id: str) -> str:
    blob = json.dumps({"kind": kind, "params": params, "model": model_id,
                       "data": sorted(sha256_file(f) for f in files)}, sort_keys=True,
                      default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def expand(study: Study) -> list[Cell]:
    """All cells of a study, dependencies before dependents."""
    ud, ner = Path(study.ud), Path(study.ner) if study.ner else None
    model_id = _model_identity(study.model)
    cells: list[Cell] = []
    sim = study.similarity
    sim_params: dict[str, Any] = {}
    if sim is not None:
        sim_params = {"source": study.source, "languages": sim.languages,
                      "measures": sim.measures, "pooling": sim.pooling, "n": sim.n,
                      "n_boot": sim.n_boot, "n_null": sim.n_null}
        sim_files = [resolve_ud(ud, x) for x in [study.source, *sim.languages]]
        if sim.before:
            params = {"model": study.model, "ud": study.ud, **sim_params}
            cells.append(Cell(_key("similarity", sim_params, sim_files, model_id),
                              "similarity", params))
    train_cfg = asdict(study.training)
    for task in study.tasks:
        files = {"train": [_data_file(task.name, ud, ner, s, "train") for s in task.train],
                 "dev": [_data_file(task.name, ud, ner, s, "dev") for s in task.dev]}
        evals = {lang: _data_file(task.name, ud, ner, lang, "test")
                 for lang in [task.test, *task.eval]}
        for group in study.reinit:
            for seed in study.seeds:
                identity = {"task": task.name, "reinit": group, "scheme": study.reinit_scheme,
                            "seed": seed, "training": train_cfg,
                            "max_train_sentences": task.max_train_sentences,
                            "max_eval_sentences": task.max_eval_sentences,
                            "eval": sorted(evals)}
                all_files = files["train"] + files["dev"] + list(evals.values())
                key = _key("finetune", identity, all_files, model_id)
                params = {**identity, "model": study.model, "source": task.test,
                          # only REF models are needed later (similarity after fine-tuning)
                          "save_model": bool(sim and sim.after and group.upper() == "REF"),
                          "train": [str(f) for f in files["train"]],
                          "dev": [str(f) for f in files["dev"]],
                          "evals": {k: str(v) for k, v in evals.items()}}
                cells.append(Cell(key, "finetune", params))
                if sim is not None and sim.after and group.upper() == "REF":
                    ft_params = {**sim_params, "task": task.name, "seed": seed, "finetune": key}
                    cells.append(Cell(_key("similarity_ft", ft_params, sim_files, model_id),
                                      "similarity_ft",
                                      {**ft_params, "model": study.model, "ud": study.ud},
                                      depends_on=(key,)))
    return cells


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
        else:
            n = p["n"] or 1000
            cost = n * (len(p["languages"]) + 1) * (2 if c.kind == "similarity_ft" else 1)
        passes[c.kind] = passes.get(c.kind, 0.0) + cost
    if tokens_per_s:
        return {k: v * 30 / tokens_per_s for k, v in passes.items()}
    return passes
