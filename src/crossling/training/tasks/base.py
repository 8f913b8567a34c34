"""The contract between a task and the generic training loop, and what tagging tasks share.

The loop (`crossling.training.loop`) knows nothing about labels or heads: it asks a `Task` to
build batches, a model, a loss and predictions, and to score predictions against gold. Label
sets come from training data only; `check_labels` reports the gold labels no training label can
match under the task's metric. A word without a sub-word of its own (cut by ``max_length``, or
made of characters the tokenizer deletes) has ``first_subword = -1``: it gets a placeholder
prediction that never matches gold, so it counts as an error and never shifts other words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import nn
from torch.nn import functional as F

from crossling.data.example import Example
from crossling.models.encoder import WordBatch
from crossling.models.heads import TokenTagger
from crossling.training.encoded import encode_batch
from crossling.training.metrics import Score

IGNORE = -100
MISSING = "_"  # prediction for a word the model never saw (unseen): never equals gold


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


def cross_entropy(scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over the targets that are not ``IGNORE``; 0 (still part of the
    graph) when there is none, instead of a NaN that would fail the run as divergence."""
    if not bool((targets != IGNORE).any()):
        return scores.flatten()[:0].sum()
    return F.cross_entropy(scores, targets, ignore_index=IGNORE)


def label_tensor(examples: Sequence[Example], labels: Sequence[str], width: int,
                 first_subword: torch.Tensor) -> torch.Tensor:
    """[B, width] label indices of the seen words, ``IGNORE`` elsewhere and for unknown labels."""
    index = {lab: i for i, lab in enumerate(labels)}
    out = torch.full((len(examples), width), IGNORE, dtype=torch.long)
    for b, ex in enumerate(examples):
        for w, lab in enumerate(ex.labels):
            if first_subword[b, w] >= 0 and lab in index:
                out[b, w] = index[lab]
    return out


class Labels:
    """Label inventory and the unscorable-label check, shared by every task.

    ``scored`` maps a label to what the metric compares: the label itself for tags, the
    universal relation for LAS. A gold label is scorable when some training label compares
    equal to it under ``scored`` (the model only ever predicts training labels).
    """

    @staticmethod
    def scored(label: str) -> str:
        return label

    def labels_from(self, train: Sequence[Example]) -> list[str]:
        return sorted({lab for ex in train for lab in ex.labels})

    def check_labels(self, examples: Sequence[Example], labels: Sequence[str]) -> list[str]:
        """Gold labels of ``examples`` that no training label can match, hence always errors."""
        known = {self.scored(lab) for lab in labels}
        return sorted({lab for ex in examples for lab in ex.labels
                       if self.scored(lab) not in known})


class Tagging(Labels):
    """A task that tags every word (a linear head over its first sub-word); a subclass sets
    ``name``, ``main_metric``, the unseen words' ``fallback`` tag and ``score``."""

    name = "tagging"
    main_metric = ""
    fallback = MISSING

    def build_model(self, encoder: nn.Module, labels: Sequence[str]) -> nn.Module:
        return TokenTagger(encoder, len(labels))

    def collate(self, tokenizer: Any, examples: Sequence[Example], labels: Sequence[str],
                max_length: int) -> TaskBatch:
        words = encode_batch(tokenizer, [ex.words for ex in examples], max_length)
        width = words.first_subword.shape[1]
        return TaskBatch(words, label_tensor(examples, labels, width, words.first_subword),
                         None, examples)

    def loss(self, model: nn.Module, batch: TaskBatch) -> torch.Tensor:
        logits = model(batch.words.inputs, batch.words.first_subword)
        return cross_entropy(logits.float().flatten(0, 1), batch.labels.flatten())

    def predict(self, model: nn.Module, batch: TaskBatch, labels: Sequence[str]) -> list[Any]:
        logits = model(batch.words.inputs, batch.words.first_subword)
        best = logits.argmax(-1).cpu()
        first = batch.words.first_subword.cpu()
        return [[labels[int(best[b, w])] if first[b, w] >= 0 else self.fallback
                 for w in range(len(ex.words))] for b, ex in enumerate(batch.examples)]

    def score(self, examples: Sequence[Example], predictions: Sequence[Any],
              seed: int = 0) -> dict[str, Score]:
        raise NotImplementedError  # pragma: no cover - defined by each tagging task
