"""Scores of fitted probes on test sets: accuracy, control accuracy and their paired difference.

Selectivity (accuracy minus control-task accuracy) is what the representation adds beyond
memorising word types; both accuracies are bootstrapped with the same seed over the same
sentences, so its interval is a paired one. A word without a representative sub-word
(truncated) and a gold tag never seen in training count as errors, as in fine-tuning.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from crossling.probing.data import EvalSet
from crossling.probing.fit import LinearProbe
from crossling.probing.settings import ProbeSettings
from crossling.probing.vectors import WordVectors
from crossling.similarity.checks import check_vectors
from crossling.training.metrics import accuracy, bootstrap_ratio

PROBE_METRICS = ("upos_acc", "control_acc", "selectivity", "majority_acc")
"""Metrics of probing rows: the probe's UPOS accuracy, the control-task probe's accuracy on the
control tags, their difference, and the majority baseline (``layer`` None)."""

NO_PREDICTION = ""
"""The predicted tag of a word without a representative sub-word: never equal to a gold tag."""

Score = tuple[float, float, float]
"""(value, CI low, CI high)."""


def _per_sentence(values: Sequence[str], n_words: Sequence[int]) -> list[list[str]]:
    out, start = [], 0
    for n in n_words:
        out.append(list(values[start:start + n]))
        start += n
    return out


def _correct(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> np.ndarray:
    return np.array([sum(a == b for a, b in zip(g, p, strict=True))
                     for g, p in zip(gold, pred, strict=True)], dtype=np.float64)


def _check_words(xs: torch.Tensor, valid: torch.Tensor, k: int, label: str) -> None:
    """`crossling.similarity.checks.check_vectors` of one test set's word vectors ``xs`` at
    layer ``k`` (the ``valid`` words only; the variance test needs two of them)."""
    words = xs[valid]
    if words.shape[0]:
        check_vectors(words, f"layer {k} of {label}", "word vectors",
                      variance=words.shape[0] > 1)


def majority_score(s: EvalSet, majority: str, *, seed: int, n_boot: int) -> tuple[Score, int]:
    """Accuracy of always answering ``majority`` on ``s``, and the words it counts."""
    sc = accuracy(s.gold, [[majority] * len(g) for g in s.gold], seed=seed, n_boot=n_boot)
    return (sc.value, sc.ci_low, sc.ci_high), sc.n_units


def score_layer(probes: tuple[LinearProbe, LinearProbe], labels: Sequence[str], s: EvalSet,
                vectors: WordVectors, k: int, settings: ProbeSettings) -> dict[str, Score]:
    """``upos_acc``, ``control_acc`` and ``selectivity`` of the (tagger, control) ``probes``
    on set ``s`` at layer ``k``, with bootstrap intervals (``settings.n_boot`` 0: none)."""
    seed, n_boot = settings.seed, settings.n_boot
    xs = vectors.layer(k)
    _check_words(xs, vectors.valid, k, s.label)
    valid = vectors.valid.tolist()
    preds = []
    for p in probes:
        flat = [labels[i] if ok else NO_PREDICTION
                for i, ok in zip(p.predict(xs).tolist(), valid, strict=True)]
        preds.append(_per_sentence(flat, vectors.n_words))
    acc = accuracy(s.gold, preds[0], seed=seed, n_boot=n_boot)
    ctl = accuracy(s.control, preds[1], seed=seed, n_boot=n_boot)
    words = np.array([len(g) for g in s.gold], dtype=np.float64)
    diff = _correct(s.gold, preds[0]) - _correct(s.control, preds[1])
    sel = bootstrap_ratio(diff, words, n_boot=n_boot, seed=seed)
    return {"upos_acc": (acc.value, acc.ci_low, acc.ci_high),
            "control_acc": (ctl.value, ctl.ci_low, ctl.ci_high), "selectivity": sel}
