"""The settings of a layer-wise probe: one frozen object, one rule per field.

The CLI, a study's ``probe`` section and the Python API build the same `ProbeSettings`, so a
bad value fails once, before any data or model is read, with the field's name (the caller
renames it to a flag or a field path). Only the layers' upper bound waits for the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crossling.core.errors import SettingError
from crossling.core.precision import DEFAULT_PRECISION, precision
from crossling.core.settings import (
    Settings,
    count,
    device_name,
    distinct,
    flag,
    number,
    setting,
    text,
)
from crossling.core.settings import seed as seed_rule
from crossling.probing.fit import DEFAULT_L2, DEFAULT_MAX_ITER
from crossling.similarity.extract import BATCH_TOKENS

DEFAULT_MAX_TRAIN_SENTENCES = 4000
"""Training sentences drawn from EWT train by default (about 65k words: enough for a probe of
6.5k parameters, at a third of the extraction time of all 12.5k; docs/probing.md)."""


_spec = text("a language code or a file")
"""A language code, treebank spec or file path."""


def _targets(name: str, value: Any) -> tuple[str, ...] | None:
    """None (every other PUD language), a bare spec (one set) or a list of distinct specs."""
    if value is None:
        return None
    if isinstance(value, str | Path):
        value = [value]
    return distinct(_spec)(name, value)


def _layers(name: str, value: Any) -> tuple[int, ...] | None:
    """None (every hidden state), a bare integer (one layer) or distinct integers >= 0, sorted;
    the upper bound is the model's (checked once its config is read)."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if isinstance(value, range):
        value = list(value)
    return tuple(sorted(distinct(count(0))(name, value)))


@dataclass(frozen=True)
class ProbeSettings(Settings):
    """What a probe is fitted and scored on, and how: everything but the model and data folder.

    ``source_train`` is resolved in the train split, ``source`` and ``targets`` in the test
    split (None: every other PUD language); ``layers`` None probes every hidden state
    (0 = embeddings); ``max_train_sentences`` None trains on all; ``max_eval_sentences`` keeps
    the first N of each test set; ``max_length`` None: the model's limit, at most 512;
    ``precision`` of the frozen passes (`crossling.core.precision`).
    """

    source_train: str = setting("en_ewt", rule=_spec)
    source: str = setting("en", rule=_spec)
    targets: tuple[str, ...] | None = setting(None, rule=_targets)
    layers: tuple[int, ...] | None = setting(None, rule=_layers)
    max_train_sentences: int | None = setting(DEFAULT_MAX_TRAIN_SENTENCES,
                                              rule=count(1, optional=True))
    max_eval_sentences: int | None = setting(None, rule=count(1, optional=True))
    n_boot: int = setting(1000, rule=count(0))
    seed: int = setting(0, rule=seed_rule)
    l2: float = setting(DEFAULT_L2, rule=number(0.0))
    max_iter: int = setting(DEFAULT_MAX_ITER, rule=count(1))
    max_length: int | None = setting(None, rule=count(3, optional=True))
    batch_tokens: int = setting(BATCH_TOKENS, rule=count(1))
    device: str | None = setting(None, rule=device_name)
    precision: str = setting(DEFAULT_PRECISION, rule=precision)
    allow_test_training: bool = setting(False, rule=flag)


def check_layers(layers: tuple[int, ...] | None, n_blocks: int) -> list[int]:
    """The hidden states to probe of a model with ``n_blocks`` blocks: ``layers`` (a
    `ProbeSettings` field) if given, each within 0..n_blocks, else all of them."""
    if layers is None:
        return list(range(n_blocks + 1))
    for k in layers:
        if k > n_blocks:
            raise SettingError("layers", f"must be in 0..{n_blocks} (0 = embeddings), got {k}")
    return list(layers)
