"""Task metrics with 95% bootstrap intervals that resample sentences, the unit of a treebank.

Every metric is a corpus ratio of per-sentence counts; a resample is one product of multinomial
counts with them, so thousands cost milliseconds. UPOS is token accuracy; UAS/LAS follow CoNLL
2018 (all words, universal relations); NER is micro span F1 with seqeval's default chunking, as
XTREME reports (definitions: docs/tasks.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from seqeval.metrics.sequence_labeling import get_entities

from crossling.results import SentenceCounts

N_BOOT = 1000


@dataclass(frozen=True)
class Score:
    """A score in [0, 100] with a 95% bootstrap interval over sentences, and the per-sentence
    counts it is the ratio of (``sentences``: None when not kept)."""

    value: float
    ci_low: float
    ci_high: float
    n_sentences: int
    n_units: int
    sentences: SentenceCounts | None = field(default=None, compare=False, repr=False)


def sentence_counts(num: np.ndarray | Sequence[float], den: np.ndarray | Sequence[float],
                    f1: bool = False) -> SentenceCounts:
    """The counts `bootstrap_ratio` turns into a score: scale 200 for F1, else 100."""
    return SentenceCounts(tuple(float(v) for v in num), tuple(float(v) for v in den),
                          200.0 if f1 else 100.0)


def bootstrap_ratio(num: np.ndarray, den: np.ndarray, n_boot: int = N_BOOT, seed: int = 0,
                    f1: bool = False, zero_division: float = float("nan"),
                    ) -> tuple[float, float, float]:
    """Corpus ratio sum(num)/sum(den) (x100) and its 95% bootstrap CI over sentences.

    With ``f1=True``, ``num`` holds true positives and ``den`` predicted + gold entities, and the
    score is 2 * tp / (pred + gold).

    ``zero_division`` is the score of a zero denominator, for the corpus value and for every
    resample alike (a resample is never dropped: dropping the empty ones biases the interval).
    Span metrics pass 0, seqeval's convention (``zero_division="warn"`` acts as 0): a model that
    predicts no entity has precision 0, not NaN. Accuracy and attachment scores keep NaN: their
    denominator is a word count, zero only for an empty evaluation set.
    """
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    factor = 200.0 if f1 else 100.0
    total = den.sum()
    value = factor * num.sum() / total if total > 0 else zero_division
    n = num.shape[0]
    if n == 0 or n_boot <= 0:
        return value, float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot)  # [B, n] counts
    b_num, b_den = weights @ num, weights @ den
    boots = np.full(n_boot, zero_division)
    np.divide(factor * b_num, b_den, out=boots, where=b_den > 0)
    boots = boots[np.isfinite(boots)]
    if boots.size == 0:
        return value, float("nan"), float("nan")
    # not core.stats.percentile_interval: its tail (1 - 0.95) / 2 * 100 is 2.500000000000002,
    # which moves the last bits of the published intervals
    lo, hi = np.percentile(boots, [2.5, 97.5])
    return value, float(lo), float(hi)


def universal_relation(deprel: str) -> str:
    """``nmod:poss`` -> ``nmod``: CoNLL 2018 LAS ignores language-specific subtypes."""
    return deprel.split(":", 1)[0]


@dataclass
class RatioMetric:
    """Streaming per-sentence (numerator, denominator) counts; read the score with a CI."""

    num: list[float] = field(default_factory=list)
    den: list[float] = field(default_factory=list)
    f1: bool = False

    def add(self, num: float, den: float) -> None:
        self.num.append(num)
        self.den.append(den)

    def score(self, n_units: int | None = None, seed: int = 0, n_boot: int = N_BOOT) -> Score:
        value, lo, hi = bootstrap_ratio(np.array(self.num), np.array(self.den), n_boot=n_boot,
                                        seed=seed, f1=self.f1)
        units = int(sum(self.den)) if n_units is None else n_units
        return Score(value, lo, hi, len(self.num), units,
                     sentence_counts(self.num, self.den, self.f1))


def _check_lengths(gold: Sequence[object], pred: Sequence[object], what: str) -> None:
    if len(gold) != len(pred):
        raise ValueError(f"{what}: {len(gold)} gold vs {len(pred)} predicted")


def accuracy(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]],
             seed: int = 0, n_boot: int = N_BOOT) -> Score:
    """Token accuracy over words, CI over sentences (``n_boot`` resamples; 0: no interval)."""
    _check_lengths(gold, pred, "sentences")
    m = RatioMetric()
    for g, p in zip(gold, pred, strict=True):
        _check_lengths(g, p, "words in a sentence")
        m.add(sum(a == b for a, b in zip(g, p, strict=True)), len(g))
    return m.score(seed=seed, n_boot=n_boot)


def attachment_scores(gold_heads: Sequence[Sequence[int]], gold_rels: Sequence[Sequence[str]],
                      pred_heads: Sequence[Sequence[int]], pred_rels: Sequence[Sequence[str]],
                      seed: int = 0) -> dict[str, Score]:
    """UAS and LAS over all words (CoNLL 2018 definition), CIs over sentences."""
    _check_lengths(gold_heads, pred_heads, "sentences")
    uas, las = RatioMetric(), RatioMetric()
    for gh, gr, ph, pr in zip(gold_heads, gold_rels, pred_heads, pred_rels, strict=True):
        _check_lengths(gh, ph, "words in a sentence")
        head_ok = [a == b for a, b in zip(gh, ph, strict=True)]
        label_ok = [universal_relation(a) == universal_relation(b)
                    for a, b in zip(gr, pr, strict=True)]
        uas.add(sum(head_ok), len(gh))
        las.add(sum(h and lab for h, lab in zip(head_ok, label_ok, strict=True)), len(gh))
    return {"uas": uas.score(seed=seed), "las": las.score(seed=seed)}


def span_counts(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]],
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-sentence (true positive, predicted, gold) entity counts: what the bootstrap resamples.

    Entities come from seqeval's own ``get_entities`` (default chunking).
    """
    _check_lengths(gold, pred, "sentences")
    tp, n_pred, n_gold = [], [], []
    for g, p in zip(gold, pred, strict=True):
        _check_lengths(g, p, "words in a sentence")
        ge, pe = set(get_entities(list(g))), set(get_entities(list(p)))
        tp.append(len(ge & pe))
        n_pred.append(len(pe))
        n_gold.append(len(ge))
    tp_a, pred_a, gold_a = (np.array(v, dtype=np.float64) for v in (tp, n_pred, n_gold))
    return tp_a, pred_a, gold_a


def span_f1(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]],
            seed: int = 0) -> dict[str, Score]:
    """Micro span F1 (and precision, recall) with seqeval's default chunking; CIs over sentences.

    Per-sentence true positives and entity counts come from ``seqeval``'s own ``get_entities``,
    so the corpus value equals ``seqeval.metrics.f1_score`` (tested on WikiANN and Universal
    NER), precision and recall ``precision_score`` / ``recall_score``; zero denominators give 0
    as in seqeval.
    """
    tp_a, pred_a, gold_a = span_counts(gold, pred)
    # seqeval's convention: a zero denominator scores 0 (no predicted entity: precision 0;
    # no gold entity: recall 0; neither: F1 0), never NaN.
    f1 = bootstrap_ratio(tp_a, pred_a + gold_a, seed=seed, f1=True, zero_division=0.0)
    prec = bootstrap_ratio(tp_a, pred_a, seed=seed, zero_division=0.0)
    rec = bootstrap_ratio(tp_a, gold_a, seed=seed, zero_division=0.0)
    units = int(gold_a.sum())
    return {"span_f1": Score(*f1, len(gold), units, sentence_counts(tp_a, pred_a + gold_a, True)),
            "span_precision": Score(*prec, len(gold), units, sentence_counts(tp_a, pred_a)),
            "span_recall": Score(*rec, len(gold), units, sentence_counts(tp_a, gold_a))}
