"""The three tasks of the paper behind the :class:`~crossling.training.task.Task` contract.

``TASKS`` maps a task name to its adapter: ``pos`` (UPOS tagging, token accuracy), ``parsing``
(biaffine parser, UAS/LAS, well-formed trees) and ``ner`` (IOB2 tagging, span F1). Label sets come
from the training data only; target-language labels outside them are reported by
:meth:`check_labels` (a gold label never seen in training can never be predicted and counts as
an error). Words lost to truncation get a placeholder prediction that never matches gold: they
count as errors instead of silently disappearing from the denominator.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from crossling.errors import ConfigError
from crossling.models.heads import BiaffineParser, TokenTagger
from crossling.training.decode import decode_tree
from crossling.training.encoded import encode_batch
from crossling.training.metrics import accuracy, attachment_scores, span_f1
from crossling.training.task import Example, Score, TaskBatch

IGNORE = -100
MISSING = "_"  # prediction for a word the model never saw (truncated): never equals gold


def _label_tensor(examples: Sequence[Example], labels: Sequence[str], width: int,
                  first_subword: torch.Tensor) -> torch.Tensor:
    index = {lab: i for i, lab in enumerate(labels)}
    out = torch.full((len(examples), width), IGNORE, dtype=torch.long)
    for b, ex in enumerate(examples):
        for w, lab in enumerate(ex.labels):
            if first_subword[b, w] >= 0 and lab in index:
                out[b, w] = index[lab]
    return out


class _Tagging:
    name = "tagging"
    main_metric = ""
    fallback = MISSING

    def labels_from(self, train: Sequence[Example]) -> list[str]:
        return sorted({lab for ex in train for lab in ex.labels})

    def check_labels(self, examples: Sequence[Example], labels: Sequence[str]) -> list[str]:
        return sorted({lab for ex in examples for lab in ex.labels} - set(labels))

    def build_model(self, encoder: nn.Module, labels: Sequence[str]) -> nn.Module:
        return TokenTagger(encoder, len(labels))

    def collate(self, tokenizer: Any, examples: Sequence[Example], labels: Sequence[str],
                max_length: int) -> TaskBatch:
        words = encode_batch(tokenizer, [ex.words for ex in examples], max_length)
        width = words.first_subword.shape[1]
        return TaskBatch(words, _label_tensor(examples, labels, width, words.first_subword),
                         None, examples)

    def loss(self, model: nn.Module, batch: TaskBatch) -> torch.Tensor:
        logits = model(batch.words.inputs, batch.words.first_subword)
        return F.cross_entropy(logits.float().flatten(0, 1), batch.labels.flatten(),
                               ignore_index=IGNORE)

    def predict(self, model: nn.Module, batch: TaskBatch, labels: Sequence[str]) -> list[Any]:
        logits = model(batch.words.inputs, batch.words.first_subword)
        best = logits.argmax(-1).cpu()
        first = batch.words.first_subword.cpu()
        return [[labels[int(best[b, w])] if first[b, w] >= 0 else self.fallback
                 for w in range(len(ex.words))] for b, ex in enumerate(batch.examples)]

    def score(self, examples: Sequence[Example], predictions: Sequence[Any],
              seed: int = 0) -> dict[str, Score]:
        raise NotImplementedError  # pragma: no cover - defined by each tagging task


class PosTask(_Tagging):
    name = "pos"
    main_metric = "upos_acc"

    def score(self, examples: Sequence[Example], predictions: Sequence[Any],
              seed: int = 0) -> dict[str, Score]:
        return {"upos_acc": accuracy([ex.labels for ex in examples], predictions, seed=seed)}


class NerTask(_Tagging):
    name = "ner"
    main_metric = "span_f1"
    fallback = "O"  # a word the model never saw is in no predicted entity

    def score(self, examples: Sequence[Example], predictions: Sequence[Any],
              seed: int = 0) -> dict[str, Score]:
        return span_f1([ex.labels for ex in examples], predictions, seed=seed)


class ParsingTask:
    """Biaffine dependency parsing; predictions are (heads, relations) per sentence."""

    name = "parsing"
    main_metric = "las"

    def labels_from(self, train: Sequence[Example]) -> list[str]:
        return sorted({lab for ex in train for lab in ex.labels})

    def check_labels(self, examples: Sequence[Example], labels: Sequence[str]) -> list[str]:
        return sorted({lab for ex in examples for lab in ex.labels} - set(labels))

    def build_model(self, encoder: nn.Module, labels: Sequence[str]) -> nn.Module:
        return BiaffineParser(encoder, len(labels))

    def collate(self, tokenizer: Any, examples: Sequence[Example], labels: Sequence[str],
                max_length: int) -> TaskBatch:
        words = encode_batch(tokenizer, [ex.words for ex in examples], max_length)
        first = words.first_subword
        width = first.shape[1]
        rels = _label_tensor(examples, labels, width, first)
        heads = torch.full((len(examples), width), IGNORE, dtype=torch.long)
        for b, ex in enumerate(examples):
            for w, h in enumerate(ex.heads):
                # a head lost to truncation cannot be scored: leave the arc out of the loss
                if first[b, w] >= 0 and (h == 0 or first[b, h - 1] >= 0):
                    heads[b, w] = h
        rels[heads == IGNORE] = IGNORE
        return TaskBatch(words, rels, heads, examples)

    def loss(self, model: nn.Module, batch: TaskBatch) -> torch.Tensor:
        assert batch.heads is not None
        arc, rel_dep, rel_head = model(batch.words.inputs, batch.words.first_subword)
        arc = arc.float().masked_fill(~self._head_mask(batch), float("-inf"))
        arc_loss = F.cross_entropy(arc.flatten(0, 1), batch.heads.flatten(),
                                   ignore_index=IGNORE)
        parser = cast(BiaffineParser, model)
        rel = parser.relations(rel_dep, rel_head, batch.heads.clamp_min(0)).float()
        rel_loss = F.cross_entropy(rel.flatten(0, 1), batch.labels.flatten(),
                                   ignore_index=IGNORE)
        return arc_loss + rel_loss

    @staticmethod
    def _head_mask(batch: TaskBatch) -> torch.Tensor:
        """[B, W, W+1]: True for candidate heads that exist (root + the sentence's words)."""
        first = batch.words.first_subword
        exists = torch.cat([torch.ones_like(first[:, :1], dtype=torch.bool), first >= 0], 1)
        return exists.unsqueeze(1).expand(-1, first.shape[1], -1)

    def predict(self, model: nn.Module, batch: TaskBatch, labels: Sequence[str]) -> list[Any]:
        arc, rel_dep, rel_head = model(batch.words.inputs, batch.words.first_subword)
        arc = arc.float().masked_fill(~self._head_mask(batch), float("-inf"))
        logp = F.log_softmax(arc, -1).cpu().numpy()
        first = batch.words.first_subword.cpu()
        all_heads = torch.zeros(first.shape, dtype=torch.long)
        decoded: list[list[int]] = []
        for b, ex in enumerate(batch.examples):
            seen = int((first[b, :len(ex.words)] >= 0).sum())
            scores = np.full((seen + 1, seen + 1), -np.inf)
            scores[1:, :] = logp[b, :seen, :seen + 1]
            heads = decode_tree(scores)
            decoded.append(heads)
            all_heads[b, :seen] = torch.tensor(heads, dtype=torch.long)
        parser = cast(BiaffineParser, model)
        rel = parser.relations(rel_dep, rel_head, all_heads.to(rel_dep.device)).argmax(-1).cpu()
        out = []
        for b, ex in enumerate(batch.examples):
            heads = decoded[b]
            seen = len(heads)
            rels = [labels[int(rel[b, w])] for w in range(seen)]
            missing = len(ex.words) - seen
            out.append((heads + [-1] * missing, rels + [MISSING] * missing))
        return out

    def score(self, examples: Sequence[Example], predictions: Sequence[Any],
              seed: int = 0) -> dict[str, Score]:
        return attachment_scores([ex.heads for ex in examples], [ex.labels for ex in examples],
                                 [p[0] for p in predictions], [p[1] for p in predictions],
                                 seed=seed)


TASKS: dict[str, Any] = {"pos": PosTask(), "parsing": ParsingTask(), "ner": NerTask()}


def get_task(name: str) -> Any:
    try:
        return TASKS[name]
    except KeyError:
        raise ConfigError(f"unknown task {name!r} (available: {', '.join(TASKS)})") from None
