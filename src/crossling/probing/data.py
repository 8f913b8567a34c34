"""The labelled words a probe is fitted and scored on, read and checked before any model loads.

Training words come with their gold UPOS tags and with control-task tags (Hewitt & Liang 2019):
each word *type* gets a tag drawn from the training tag distribution by a seeded hash of its
form (`control_tags`), so a control probe's accuracy is what memorising word types buys. Test
sets keep their sentences, so scores can be bootstrapped over them.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from crossling.data.example import Example
from crossling.data.leakage import check_overlap
from crossling.probing.settings import ProbeSettings
from crossling.similarity.checks import check_memory
from crossling.training.finetune import read_examples

log = logging.getLogger(__name__)

PROBE_BOOT_BYTES = 16
"""Bytes per test sentence and bootstrap resample of a probe score (the int64 multinomial
counts of `crossling.training.metrics.bootstrap_ratio` and their products)."""


def control_tags(words: Sequence[str], distribution: Mapping[str, float], seed: int,
                 ) -> list[str]:
    """Hewitt & Liang's control task: each word *type* gets a tag drawn from ``distribution``.

    The draw is a function of (``seed``, word form) only: a seeded BLAKE2b hash of the form is
    mapped to [0, 1) and through the inverse CDF of the distribution (tags in sorted order),
    so the same type gets the same tag in every sentence, set and process, and a type unseen in
    training still has its tag. Forms are compared exactly (case-sensitive).
    """
    tags = sorted(t for t, p in distribution.items() if p > 0)
    if not tags:
        raise ValueError("empty tag distribution")
    probs = np.array([distribution[t] for t in tags], dtype=np.float64)
    cdf = np.cumsum(probs / probs.sum())
    cdf[-1] = 1.0
    out = []
    for w in words:
        h = hashlib.blake2b(w.encode("utf-8"), digest_size=8,
                            key=str(seed).encode("ascii")[:64]).digest()
        u = int.from_bytes(h, "big") / 2.0**64
        out.append(tags[min(int(np.searchsorted(cdf, u, side="right")), len(tags) - 1)])
    return out


@dataclass(frozen=True)
class EvalSet:
    """One test set: its label and file, words, gold UPOS and control tags per sentence."""

    label: str
    path: Path
    words: list[tuple[str, ...]]
    gold: list[list[str]]
    control: list[list[str]]

    @property
    def n_sentences(self) -> int:
        return len(self.gold)


@dataclass(frozen=True)
class ProbeData:
    """Everything a probe reads from its files: the training sentences with their gold and
    control label indices (over ``labels``, the training tags sorted), the majority tag, the
    test sets (source first) and, per set, its gold tags never seen in training."""

    train_file: Path
    train: list[Example]
    labels: list[str]
    majority: str
    y_train: torch.Tensor
    y_control: torch.Tensor
    sets: list[EvalSet]
    unknown: dict[str, list[str]]

    @property
    def files(self) -> list[Path]:
        return [self.train_file, *(s.path for s in self.sets)]


def read_probe_data(train_file: Path, files: Mapping[str, Path], settings: ProbeSettings,
                    ) -> ProbeData:
    """Read the training file (subsampled to ``settings.max_train_sentences`` with fine-tuning's
    fixed subsample seed) and the first ``max_eval_sentences`` of each test file; refuse a test
    sentence that is a training sentence (`crossling.data.leakage`) and a bootstrap whose
    resamples cannot fit in memory; warn about gold tags never seen in training."""
    train = read_examples("pos", [train_file], settings.max_train_sentences)
    train_words = [w for ex in train for w in ex.words]
    train_tags = [t for ex in train for t in ex.labels]
    labels = sorted(set(train_tags))
    counts = Counter(train_tags)
    distribution = {t: counts[t] / len(train_tags) for t in labels}
    index = {t: i for i, t in enumerate(labels)}
    seed = settings.seed
    evaluated = {lang: read_examples("pos", [path])[:settings.max_eval_sentences]
                 for lang, path in files.items()}
    check_overlap({"train": train}, evaluated)
    sets = [EvalSet(lang, files[lang], [ex.words for ex in examples],
                    [list(ex.labels) for ex in examples],
                    [control_tags(ex.words, distribution, seed) for ex in examples])
            for lang, examples in evaluated.items()]
    largest = max(s.n_sentences for s in sets)
    check_memory(float(largest) * settings.n_boot * PROBE_BOOT_BYTES,
                 f"n_boot = {settings.n_boot}: the bootstrap of {largest} test sentences")
    unknown = {s.label: sorted({t for g in s.gold for t in g} - set(labels)) for s in sets}
    for lang, tags in unknown.items():
        if tags:
            log.warning("%s: gold tag(s) never seen in training, counted as errors: %s", lang,
                        ", ".join(tags))
    return ProbeData(
        train_file=train_file, train=train, labels=labels,
        majority=max(labels, key=lambda t: (counts[t], t)),
        y_train=torch.tensor([index[t] for t in train_tags], dtype=torch.long),
        y_control=torch.tensor([index[t] for t in control_tags(train_words, distribution, seed)],
                               dtype=torch.long),
        sets=sets, unknown=unknown)
