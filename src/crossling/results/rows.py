"""One frozen dataclass per kind of result row, on two bases: `SimilarityRow` and `ScoreRow`.

Each kind has only the fields that mean something for it (a weight change has no interval, a
layer difference no null), so a reader never has to know which columns a kind leaves unused.
The stored layout is one wide record per table (`SIMILARITY_RECORD`, `SCORE_RECORD`: the CSV,
JSON and store columns); `record()` fills the fields a kind lacks with its fixed values, and
`from_record()` turns a record of any version back into the kind's class (`compat` first).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, ClassVar, TypeVar

from crossling.results.compat import upgrade_score, upgrade_similarity
from crossling.results.counts import SentenceCounts

PROBE_TASK = "probe_pos"
"""The ``task`` of layer-wise probing rows: they share the score table with fine-tuning
scores, and analyses of fine-tuning leave them out by it."""

SIMILARITY_RECORD: Mapping[str, Any] = {
    "kind": str, "source": str, "target": str, "layer": int, "metric": str, "value": float,
    "ci_low": float, "ci_high": float, "null_mean": float, "null_high": float, "n": int,
    "pooling": str, "model": str, "compare_model": str | None, "provenance": dict,
    "task": str | None, "seed": int | None, "finetune_cell": str | None,
    "compare_layer": int | None, "reinit": str | None, "compare_seed": int | None}
"""The stored columns of a similarity row, in order, with their types (CSV, JSON, store)."""

SCORE_RECORD: Mapping[str, Any] = {
    "task": str, "language": str, "split": str, "metric": str, "value": float,
    "ci_low": float, "ci_high": float, "n_sentences": int, "n_units": int, "model": str,
    "reinit": str, "seed": int, "provenance": dict, "source": str | None,
    "layer": int | None}
"""The stored columns of a score row, in order, with their types (CSV, JSON, store)."""

_NAN = float("nan")
_R = TypeVar("_R", bound="SimilarityRow | ScoreRow")


def _same(a: Any, b: Any) -> bool:
    nan = isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)
    return nan or a == b


def _fill(row: Any, layout: Mapping[str, Any], fixed: Mapping[str, Any]) -> dict[str, Any]:
    own = {f.name: getattr(row, f.name) for f in fields(row)}
    return {name: own[name] if name in own else fixed.get(name) for name in layout}


def _build(cls: type[_R], record: Mapping[str, Any]) -> _R:
    """``cls`` from the record's values of its fields; a required field must have a value, and
    every other column the value the kind always stores there (None, NaN, ...): else
    ValueError."""
    names = {f.name for f in fields(cls)}
    missing = [f.name for f in fields(cls) if f.default is MISSING and
               f.default_factory is MISSING and record.get(f.name) is None]
    if missing:
        raise ValueError(f"{cls.__name__} needs {', '.join(missing)}")
    for name, value in record.items():
        if name not in names and name != "kind" and not _same(value, cls.FIXED.get(name)):
            raise ValueError(f"{cls.__name__} has no {name} (got {value!r})")
    return cls(**{k: v for k, v in record.items() if k in names})


@dataclass(frozen=True, kw_only=True)
class SimilarityRow:
    """One value measured at one ``layer`` of ``model`` for ``source`` and ``target`` (the base
    of the similarity kinds; ``kind`` names the subclass, ``from_record`` builds one).

    ``task``, ``seed``, ``finetune_cell`` and ``reinit`` name the fine-tuning that produced the
    model measured (the *fine-tuning* seed, the study cell of the run, its re-init group); all
    None for a pretrained model. ``provenance``: model, data checksums, settings, versions.
    """

    kind: ClassVar[str] = ""
    FIXED: ClassVar[Mapping[str, Any]] = {}
    """Stored values of the columns this kind has no field for (None when not listed)."""

    source: str
    target: str
    layer: int
    metric: str
    value: float
    model: str
    provenance: dict[str, Any] = field(default_factory=dict)
    task: str | None = None
    seed: int | None = None
    finetune_cell: str | None = None
    reinit: str | None = None

    def __post_init__(self) -> None:
        if not self.kind:
            raise TypeError("SimilarityRow is the base of the row kinds: construct one of "
                            f"{', '.join(c.__name__ for c in SIMILARITY_CLASSES.values())}")

    def record(self) -> dict[str, Any]:
        """The row as stored: every column of `SIMILARITY_RECORD`, in order."""
        return _fill(self, SIMILARITY_RECORD, {**self.FIXED, "kind": self.kind})

    @staticmethod
    def from_record(record: Mapping[str, Any]) -> SimilarityRow:
        """The row of a stored record (any version: `crossling.results.compat` upgrades
        older ones); ValueError for an unknown kind or a value the kind cannot hold."""
        rec = upgrade_similarity(record)
        cls = SIMILARITY_CLASSES.get(str(rec.get("kind")))
        if cls is None:
            raise ValueError(f"unknown similarity row kind {rec.get('kind')!r}")
        return _build(cls, rec)


@dataclass(frozen=True, kw_only=True)
class _Sampled(SimilarityRow):
    """A statistic of ``n`` sentences' vectors (``pooling``) with a 95% bootstrap interval
    over sentences (NaN for a measure without one)."""

    ci_low: float
    ci_high: float
    n: int
    pooling: str


@dataclass(frozen=True, kw_only=True)
class _Nulled(_Sampled):
    """... and the mean and 95th percentile of the statistic over shuffled pairings."""

    null_mean: float
    null_high: float


@dataclass(frozen=True, kw_only=True)
class CrossLingualRow(_Nulled):
    """Similarity of one model's vectors of ``source`` and ``target`` sentences (parallel)."""

    kind: ClassVar[str] = "cross-lingual"


@dataclass(frozen=True, kw_only=True)
class ModelModelRow(_Nulled):
    """Similarity of ``model`` and ``compare_model`` on the same sentences of ``target``
    (``source`` equals ``target``); the fine-tuning fields describe whichever is tuned."""

    kind: ClassVar[str] = "model-model"
    compare_model: str


@dataclass(frozen=True, kw_only=True)
class SeedSeedRow(_Nulled):
    """Similarity of two REF models of one task that differ only in their fine-tuning seed:
    ``seed`` the first's, ``compare_seed`` the second's (on the sentences of ``target``)."""

    kind: ClassVar[str] = "seed-seed"
    compare_model: str
    compare_seed: int


@dataclass(frozen=True, kw_only=True)
class LayerDifferenceRow(_Sampled):
    """The fall of ``metric``'s cross-lingual curve from its peak to the top layer:
    ``value`` = m(``layer``) - m(``compare_layer``), ``layer`` the peak (argmax of the point
    estimates), ``compare_layer`` the last analysed layer; a paired bootstrap interval; no null.
    ``provenance["layer_difference"]["p_top_ge_peak"]``: the fraction of resamples with
    m_b(top) >= m_b(peak)."""

    kind: ClassVar[str] = "layer-difference"
    FIXED: ClassVar[Mapping[str, Any]] = {"null_mean": _NAN, "null_high": _NAN}
    compare_layer: int


@dataclass(frozen=True, kw_only=True)
class RetrievalRow(_Nulled):
    """P@1 of retrieving each sentence's translation (``metric`` = variant and direction);
    ``null_mean`` is chance, 1/n."""

    kind: ClassVar[str] = "retrieval"


@dataclass(frozen=True, kw_only=True)
class WeightChangeRow(SimilarityRow):
    """The relative weight change of block ``layer`` during fine-tuning (0 = embeddings;
    metric ``rel_change_from_start`` or ``rel_change_from_pretrained``): no vectors, so no
    interval, null or sentences; ``source`` = ``target`` = the run's source language."""

    kind: ClassVar[str] = "weight-change"
    FIXED: ClassVar[Mapping[str, Any]] = {"ci_low": _NAN, "ci_high": _NAN, "null_mean": _NAN,
                                          "null_high": _NAN, "n": 0, "pooling": "-"}


SIMILARITY_CLASSES: dict[str, type[SimilarityRow]] = {
    c.kind: c for c in (CrossLingualRow, ModelModelRow, SeedSeedRow, LayerDifferenceRow,
                        RetrievalRow, WeightChangeRow)}
"""Each kind's row class, by ``kind``."""


@dataclass(frozen=True)
class ScoreRow:
    """One evaluation score of a fine-tuned model on one language (test set).

    ``metric`` is ``upos_acc``, ``uas``, ``las`` or ``span_f1`` (values in [0, 100]);
    ``n_sentences`` and ``n_units`` (words, or gold entities for NER) say what it was computed
    on; ``reinit`` is ``"REF"`` or the re-initialised layer group (``"1-2"``, 1-based blocks);
    ``source`` the label of the run's source-language test set (the row with ``language ==
    source`` is the in-language score).
    """

    FIXED: ClassVar[Mapping[str, Any]] = {}

    task: str
    language: str
    split: str
    metric: str
    value: float
    ci_low: float
    ci_high: float
    n_sentences: int
    n_units: int
    model: str
    reinit: str
    seed: int
    provenance: dict[str, Any] = field(default_factory=dict)
    source: str | None = None
    sentences: SentenceCounts | None = field(default=None, kw_only=True, compare=False,
                                             repr=False)
    """The per-sentence counts ``value`` is the ratio of, when kept: not a stored column (the
    store and a run folder keep them apart, `crossling.results.sentences`), nor compared."""

    def __post_init__(self) -> None:
        if (self.task == PROBE_TASK) != isinstance(self, ProbeRow):
            raise ValueError(f"task {PROBE_TASK!r} is the task of ProbeRow, and only of it")

    def record(self) -> dict[str, Any]:
        """The row as stored: every column of `SCORE_RECORD`, in order."""
        return _fill(self, SCORE_RECORD, self.FIXED)

    @staticmethod
    def from_record(record: Mapping[str, Any]) -> ScoreRow:
        """The row of a stored record (any version, upgraded by `crossling.results.compat`):
        a `ProbeRow` when its task is `PROBE_TASK`."""
        rec = upgrade_score(record)
        return _build(ProbeRow if rec.get("task") == PROBE_TASK else ScoreRow, rec)


@dataclass(frozen=True)
class ProbeRow(ScoreRow):
    """A layer-wise probe's score (task `PROBE_TASK`): ``layer`` is the hidden state the
    probe read (0 = embedding output, ``i`` = block ``i``), None for the majority baseline;
    ``reinit`` is ``"REF"`` (the pretrained model) and ``seed`` the probe's seed."""

    layer: int | None = None


Row = SimilarityRow | ScoreRow
