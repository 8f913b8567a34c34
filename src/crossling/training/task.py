"""The contract between a task (POS, parsing, NER) and the generic training loop.

The loop (:mod:`crossling.training.loop`) knows nothing about labels or heads: it asks the task
to build batches, a model, a loss and predictions, and to score predictions against gold. Each
concrete task lives in :mod:`crossling.training.tasks` and is picked by name from ``TASKS``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import nn

from crossling.data.example import Example
from crossling.models.encoder import WordBatch

__all__ = ["Example", "Score", "Task", "TaskBatch"]


@dataclass
class TaskBatch:
    """A padded batch: tokenised words plus label tensors (-100 where there is no label)."""

    words: WordBatch
    labels: torch.Tensor
    heads: torch.Tensor | None
    examples: Sequence[Example]

    def to(self, device: torch.device) -> TaskBatch:
        return TaskBatch(self.words.to(device), self.labels.to(device),
                         None if self.heads is None else self.heads.to(device), self.examples)


@dataclass(frozen=True)
class Score:
    """A score in [0, 100] with a 95% bootstrap interval over sentences."""

    value: float
    ci_low: float
    ci_high: float
    n_sentences: int
    n_units: int


class Task(Protocol):
    """What a task provides to the training loop and the evaluator."""

    name: str
    main_metric: str  # the metric used for early stopping, e.g. "upos_acc", "las", "span_f1"

    def labels_from(self, train: Sequence[Example]) -> list[str]:
        """The label inventory, built from training data only (sorted, deterministic)."""
        ...

    def check_labels(self, examples: Sequence[Example], labels: Sequence[str]) -> list[str]:
        """Gold labels of ``examples`` that no label of ``labels`` can match under the task's
        metric (always errors; reported, never silently mapped)."""
        ...

    def build_model(self, encoder: nn.Module, labels: Sequence[str]) -> nn.Module:
        ...

    def collate(self, tokenizer: Any, examples: Sequence[Example], labels: Sequence[str],
                max_length: int) -> TaskBatch:
        ...

    def loss(self, model: nn.Module, batch: TaskBatch) -> torch.Tensor:
        ...

    def predict(self, model: nn.Module, batch: TaskBatch, labels: Sequence[str]) -> list[Any]:
        """One prediction per example (tags, or (heads, relations) for parsing)."""
        ...

    def score(self, examples: Sequence[Example], predictions: Sequence[Any],
              seed: int = 0) -> dict[str, Score]:
        """Every metric of the task with bootstrap CIs, keyed by metric name."""
        ...
