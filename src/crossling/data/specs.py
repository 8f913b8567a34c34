"""Data specs of a task to files: one resolution and one set of defaults for the CLI and studies.

A spec is a file path (used as is) or a language spec resolved in the task's data folder: UD
(`crossling.data.resolve.resolve_ud`) for ``pos`` and ``parsing``, WikiANN/UNER
(`crossling.data.ner.resolve_ner`) for ``ner``. ``crossling finetune`` and studies both call
`resolve_spec`, `default_train` and `DEFAULT_TEST`, so a spec names the same file however a run
is started.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from crossling.core.errors import ConfigError
from crossling.data.leakage import check_training_splits
from crossling.data.ner import resolve_ner
from crossling.data.resolve import resolve_ud

DEFAULT_TEST = "en"
"""The source test set when none is named: English PUD (pos, parsing) or WikiANN en (ner)."""


def default_train(task: str) -> str:
    """The training (and dev) spec when none is named: English EWT, or WikiANN en for NER."""
    return "en" if task == "ner" else "en_ewt"


@dataclass(frozen=True)
class DataFolders:
    """Where language specs are resolved: the UD folder and the NER folder (None: not given)."""

    ud: Path | None
    ner: Path | None

    @classmethod
    def under(cls, root: str | Path | None) -> DataFolders:
        """``root/ud`` and ``root/ner`` where they exist, else ``root`` itself for both (a UD or
        NER folder passed directly); no folders when ``root`` is None."""
        if root is None:
            return cls(None, None)
        base = Path(root)
        return cls(base / "ud" if (base / "ud").is_dir() else base,
                   base / "ner" if (base / "ner").is_dir() else base)


def resolve_spec(task: str, spec: str, split: str, folders: DataFolders) -> Path:
    """A file path as given, else ``spec`` resolved in the task's data folder for ``split``."""
    if Path(spec).is_file():
        return Path(spec)
    ner = task == "ner"
    folder = folders.ner if ner else folders.ud
    if folder is None:
        kind, key = ("NER", "ner") if ner else ("UD", "ud")
        raise ConfigError(f"{spec!r} is not a file and no {kind} data folder is given to resolve "
                          f"language codes in (--data, or data.{key} in a study)")
    return resolve_ner(folder, spec, split) if ner else resolve_ud(folder, spec, split)


def check_distinct(what: str, named: Sequence[tuple[str, str | Path]],
                   source: str | None = None) -> None:
    """Refuse two specs of ``what`` that name one file (by real path: ``fr`` and ``fr_pud``, a
    symlink and its target): its sentences would count twice, or a set would be scored under
    two names. With ``source``, ``named[0]`` is the source's set, which no target may repeat."""
    seen: dict[str, int] = {}
    for i, (spec, path) in enumerate(named):
        j = seen.setdefault(os.path.realpath(path), i)
        if j == i:
            continue
        first = named[j][0]
        if source is not None and j == 0:
            raise ConfigError(f"{what}: {spec!r} is the source test set ({source}: {path}), "
                              "not a target")
        problem = "is given twice" if first == spec else \
            f"and {first!r} name the same file ({path})"
        raise ConfigError(f"{what}: {spec!r} {problem}")


@dataclass(frozen=True)
class TaskFiles:
    """The files of one fine-tuning run: training, dev, and test sets by spec (source first)."""

    train: list[Path]
    dev: list[Path]
    source: str
    evals: dict[str, Path] = field(default_factory=dict)


@dataclass(frozen=True)
class FileSpecs:
    """The specs of one fine-tuning run as given (None: the defaults); a test split as train or
    dev only with ``allow_test_training``."""

    train: Sequence[str] | None = None
    dev: Sequence[str] | None = None
    test: str | None = None
    evals: Sequence[str] | None = None
    allow_test_training: bool = False


def resolve_task_files(task: str, folders: DataFolders,
                       specs: FileSpecs | None = None) -> TaskFiles:
    """Resolve a run's specs with the shared defaults (train and dev: `default_train`;
    source test: `DEFAULT_TEST`); ``evals`` are the target test sets. No file twice in
    one list, and no test split as train or dev unless ``allow_test_training``
    (`crossling.data.leakage.check_training_splits`)."""
    specs = specs or FileSpecs()
    train = list(specs.train) if specs.train else [default_train(task)]
    dev = list(specs.dev) if specs.dev else [default_train(task)]
    train_files = [resolve_spec(task, s, "train", folders) for s in train]
    dev_files = [resolve_spec(task, s, "dev", folders) for s in dev]
    source = specs.test or DEFAULT_TEST
    tests = [(s, resolve_spec(task, s, "test", folders)) for s in [source, *(specs.evals or [])]]
    check_distinct("train", list(zip(train, train_files, strict=True)))
    check_distinct("dev", list(zip(dev, dev_files, strict=True)))
    check_distinct("eval", tests, source=source)
    check_training_splits("train", list(zip(train, train_files, strict=True)),
                          specs.allow_test_training)
    check_training_splits("dev", list(zip(dev, dev_files, strict=True)),
                          specs.allow_test_training)
    return TaskFiles(train=train_files, dev=dev_files, source=source, evals=dict(tests))


def find_ud_folder(data: str | Path | None) -> Path:
    """The UD folder holding the PUD treebanks: ``data`` or ``data/ud`` (default: ``../shared/
    data`` or ``shared/data``, beside or inside the checkout, as the demo expects)."""
    candidates = [Path(data)] if data else [Path("../shared/data"), Path("shared/data")]
    for c in candidates:
        for folder in (c / "ud", c):
            if any(folder.glob("UD_*-PUD")):
                return folder
    raise ConfigError(f"{candidates[0]}: no UD PUD treebanks found (pass --data with the folder "
                      "that holds UD_English-PUD, or its parent)")
