"""Evaluation data used for training: test splits named as training data, sentences shared.

Zero-shot scores measure transfer only if no evaluated sentence was trained on; both checks run
before any model loads. `check_training_splits` refuses a test split as training or dev data
unless ``allow_test_training``; `check_overlap` refuses an evaluation sentence that is also a
training or dev sentence (same ``sent_id``, same words) and an evaluation set more than half
copied word for word (more than a tenth warns: short sentences such as "Thank you ." repeat
between unrelated sets).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from crossling.core.errors import ConfigError, DataError
from crossling.data.example import Example, examples_from_ud
from crossling.data.memo import read_conllu_once
from crossling.data.ner import read_iob2

log = logging.getLogger(__name__)

_SPLIT = re.compile(r"(?:^|[-_.])(train|dev|val|test)$")
REFUSE_SHARE = 0.5
"""Share of an evaluation set's sentences found word for word in training that is refused."""
WARN_SHARE = 0.1
"""Share that is warned about (natural repeats of short sentences stay below ~5%)."""


def split_of(path: str | Path) -> str | None:
    """``train``, ``dev`` or ``test`` when the file name says so (``*-ud-test.conllu``,
    ``val.conllu``), else None (a file named otherwise is taken as the user gives it)."""
    m = _SPLIT.search(Path(path).stem.lower())
    if m is None:
        return None
    return "dev" if m.group(1) == "val" else m.group(1)


def check_training_splits(role: str, named: Sequence[tuple[str, str | Path]],
                          allow_test_training: bool = False) -> None:
    """Refuse a ``role`` (train, dev) file that is a test split, unless allowed (then a
    warning): ``named`` is (spec, resolved file) pairs."""
    for spec, path in named:
        if split_of(path) != "test":
            continue
        if allow_test_training:
            log.warning("%s: %r is a test split (%s), used for training as allowed", role, spec,
                        path)
            continue
        raise ConfigError(f"{role}: {spec!r} is a test split ({path}): training or model "
                          "selection on test data; name a train or dev split (e.g. "
                          "en_ewt:train), or set allow_test_training to do it on purpose")


def check_overlap(training: Mapping[str, Sequence[Example]],
                  evals: Mapping[str, Sequence[Example]]) -> None:
    """Refuse evaluation sentences that are training sentences (see the module docstring).

    ``training`` maps a role (train, dev) and ``evals`` a label to its examples."""
    by_id: dict[tuple[str, tuple[str, ...]], tuple[str, Example]] = {}
    by_words: dict[tuple[str, ...], tuple[str, Example]] = {}
    for role, examples in training.items():
        for ex in examples:
            if ex.sent_id is not None:
                by_id.setdefault((ex.sent_id, ex.words), (role, ex))
            by_words.setdefault(ex.words, (role, ex))
    for label, examples in evals.items():
        if not examples:
            continue
        same = [ex for ex in examples
                if ex.sent_id is not None and (ex.sent_id, ex.words) in by_id]
        if same:
            role, seen = by_id[(same[0].sent_id or "", same[0].words)]
            raise DataError(same[0].path, same[0].line, (
                f"{len(same)} of {len(examples)} sentences of test set {label!r} are {role} "
                f"sentences (same sent_id and words; first: {same[0].sent_id!r}, "
                f"{role} at {seen.path}:{seen.line}): scores would measure memorised "
                "sentences"))
        copies = [ex for ex in examples if ex.words in by_words]
        share = len(copies) / len(examples)
        if share > WARN_SHARE:
            role, seen = by_words[copies[0].words]
            what = (f"{len(copies)} of {len(examples)} sentences of test set {label!r} "
                    f"({copies[0].path}) are word for word {role} sentences ({seen.path})")
            if share > REFUSE_SHARE:
                raise DataError(copies[0].path, copies[0].line,
                                f"{what}: a copy of training data cannot test transfer")
            log.warning("%s: check that the test set is not training data", what)


def _sentences(task: str, path: str | Path) -> list[Example]:
    """Words, ``sent_id`` and origin of every sentence of a data file: IOB2 for ``ner``, else
    CoNLL-U (parsed once per process: the run that follows does not parse it again)."""
    return read_iob2(path) if task == "ner" else examples_from_ud(read_conllu_once(path), "pos")


def check_files_overlap(task: str, training: Mapping[str, Sequence[str | Path]],
                        evals: Mapping[str, str | Path]) -> None:
    """`check_overlap` on whole files: ``training`` maps a role (train, dev) to its
    files, ``evals`` a label to its test file (a superset of any subsample a run draws)."""
    check_overlap({role: [ex for p in paths for ex in _sentences(task, p)]
                   for role, paths in training.items()},
                  {label: _sentences(task, p) for label, p in evals.items()})
