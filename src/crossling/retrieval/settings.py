"""Retrieval settings: one frozen object, one rule per field, shared by every entry point.

`ScoringSettings` holds what scoring vectors needs (`precision_at_1`, `retrieval_rows`);
`RetrievalSettings` adds what encoding needs. The CLI, a study and the Python API build the same
object, so a value is checked once, by name; the caller renames the error (flag, field path).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crossling.core.errors import SettingError
from crossling.core.precision import DEFAULT_PRECISION, precision
from crossling.core.settings import (
    Rule,
    Settings,
    count,
    device,
    distinct,
    flag,
    one_of,
    seed,
    setting,
)
from crossling.retrieval.metrics import MARGIN_K, VARIANTS, min_sentences
from crossling.similarity.checks import as_names
from crossling.similarity.extract import BATCH_TOKENS
from crossling.similarity.pooling import POOLINGS


def _optional(rule: Rule) -> Rule:
    """``rule``, letting None (meaning "all" or "automatic") pass."""
    def check(name: str, value: Any) -> Any:
        return None if value is None else rule(name, value)
    return check


variant_list = distinct(one_of(VARIANTS))
"""The rule of ``variants``: known scorings, at least one, none twice."""


@dataclass(frozen=True)
class ScoringSettings(Settings):
    """How P@1 is scored and resampled from vectors already extracted."""

    variants: tuple[str, ...] = setting(VARIANTS, rule=variant_list)
    """Scorings, in display order (``cosine``, ``centred``, ``margin``)."""
    k: int = setting(MARGIN_K, rule=count(1))
    """Nearest neighbours per direction in the margin's denominator."""
    n_boot: int = setting(1000, rule=count(0))
    """Bootstrap resamples of the query sentences (0: no interval)."""
    n_null: int = setting(200, rule=count(0))
    """Shuffled pairings for the null's 95th percentile (0: none)."""
    seed: int = setting(0, rule=seed)
    """Draws the resamples once for every layer, target, variant and direction."""
    device: str | None = setting(None, rule=device)
    """Where scoring runs, and where a workflow loads the model; None: the vectors' device (or
    the encoder's, or CUDA when available)."""
    progress: bool = setting(True, rule=flag)
    """Show progress bars."""


@dataclass(frozen=True)
class RetrievalSettings(ScoringSettings):
    """Everything a retrieval run needs besides the model, the data and the languages."""

    pooling: str = setting("mean", rule=one_of(list(POOLINGS)))
    """Sentence pooling of the hidden states."""
    n: int | None = setting(None, rule=count(2, optional=True))
    """The first n aligned sentences (the candidate pool size); None: all."""
    layers: tuple[int, ...] | None = setting(None, rule=_optional(distinct(count(0))))
    """Hidden states to score (0 = embeddings); None: all."""
    max_length: int | None = setting(None, rule=count(3, optional=True))
    """Sub-words kept per sentence; None: the model's limit, at most 512."""
    batch_tokens: int = setting(BATCH_TOKENS, rule=count(1))
    """Token budget per forward pass."""
    precision: str = setting(DEFAULT_PRECISION, rule=precision)
    """Of the forward passes (`crossling.core.precision`); ``auto``: bf16 where the device
    computes it natively."""

    def check(self) -> None:
        need = min_sentences(self.variants, self.k)
        if self.n is not None and self.n < need:
            raise SettingError("n", f"must be >= {need} with the margin (k = {self.k} "
                                    f"neighbours per query), got {self.n}")


def check_targets(source: str, targets: Any) -> list[str] | None:
    """The target languages (a bare string is one; None stays None): none twice, not the
    source; a SettingError naming ``targets`` otherwise."""
    chosen = as_names(targets, "targets")
    if chosen is None:
        return None
    distinct(empty=True)("targets", chosen)
    if source in chosen:
        raise SettingError("targets", f"include the source language {source!r}")
    return chosen
