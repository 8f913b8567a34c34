"""The three tasks of the paper behind the :class:`~crossling.training.task.Task` contract.

``TASKS`` maps a task name to its adapter: ``pos`` (UPOS tagging, token accuracy), ``parsing``
(biaffine parser, UAS/LAS, well-formed trees) and ``ner`` (IOB2 tagging, span F1). Label sets come
from the training data only; :meth:`check_labels` reports the target-language labels that can
never be scored right, compared the way the metric compares them (LAS strips relation subtypes,
so a gold ``nmod:poss`` is scorable when training has any ``nmod``).

*Unseen words.* A word without a sub-word of its own (cut off by ``max_length``, or made only of
characters the tokenizer's normaliser deletes, e.g. U+00AD soft hyphen or U+200B zero-width
space with mBERT) has ``first_subword = -1``. Both tasks treat it the same way: it gets a
placeholder prediction that never matches gold (tag ``_``, or head -1 and relation ``_``), so
it counts as an error and never leaves the denominator, and it never shifts the other words.
The parser decodes its tree over the seen words only, through the mapping
seen index -> original word index (:func:`seen_words`), for dependents and heads alike; a gold
head that is an unseen word cannot be predicted, and the loss leaves such arcs out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from crossling.core.errors import ConfigError
from crossling.models.heads import BiaffineParser, TokenTagger
from crossling.training.decode import decode_tree
from crossling.training.encoded import encode_batch
from crossling.training.metrics import (
    accuracy,
    attachment_scores,
    span_f1,
    universal_relation,
)
from crossling.training.task import Example, Score, Task, TaskBatch

IGNORE = -100
MISSING = "_"  # prediction for a word the model never saw (unseen): never equals gold


def cross_entropy(scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over the targets that are not ``IGNORE``; 0 (still part of the
    graph) when there is none. A batch without a scorable target (every word unseen, every arc
    unscorable) would otherwise give a NaN loss, and a NaN loss now fails the run."""
    if not bool((targets != IGNORE).any()):
        return scores.flatten()[:0].sum()
    return F.cross_entropy(scores, targets, ignore_index=IGNORE)


def seen_words(first_subword: torch.Tensor, n_words: int) -> list[int]:
    """Original (0-based) indices of the words of one sentence that have a sub-word.

    ``first_subword`` is the sentence's row of :attr:`WordBatch.first_subword`. Position ``k``
    of the result is the word behind seen-index ``k``: the parser decodes over seen words only
    and maps back through this list.
    """
    row = first_subword[:n_words].tolist()
    return [w for w, t in enumerate(row) if t >= 0]


class _Labels:
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


def _label_tensor(examples: Sequence[Example], labels: Sequence[str], width: int,
                  first_subword: torch.Tensor) -> torch.Tensor:
    index = {lab: i for i, lab in enumerate(labels)}
    out = torch.full((len(examples), width), IGNORE, dtype=torch.long)
    for b, ex in enumerate(examples):
        for w, lab in enumerate(ex.labels):
            if first_subword[b, w] >= 0 and lab in index:
                out[b, w] = index[lab]
    return out


class _Tagging(_Labels):
    name = "tagging"
    main_metric = ""
    fallback = MISSING

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


class ParsingTask(_Labels):
    """Biaffine dependency parsing; predictions are (heads, relations) per sentence."""

    name = "parsing"
    main_metric = "las"

    @staticmethod
    def scored(label: str) -> str:
        return universal_relation(label)  # what LAS compares (metrics.attachment_scores)

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
            if len(ex.heads) != len(ex.words):
                raise ValueError(f"parsing example at {ex.path}:{ex.line} has {len(ex.heads)} "
                                 f"heads for {len(ex.words)} words")
            seen = set(seen_words(first[b], len(ex.words)))
            for w, h in enumerate(ex.heads):
                # Arc targets are node indices over the original words (0 = root, w + 1 = word
                # w), the indexing of the arc scores, whose unseen columns _head_mask removes.
                # An unseen dependent or head (or a head that is no word, e.g. '_') cannot be
                # scored: the arc stays out of the loss.
                if w in seen and (h == 0 or (1 <= h <= len(ex.words) and h - 1 in seen)):
                    heads[b, w] = h
        rels[heads == IGNORE] = IGNORE
        return TaskBatch(words, rels, heads, examples)

    def loss(self, model: nn.Module, batch: TaskBatch) -> torch.Tensor:
        if batch.heads is None:
            raise ValueError("a parsing batch needs head targets (built by ParsingTask.collate)")
        arc, rel_dep, rel_head = model(batch.words.inputs, batch.words.first_subword)
        arc = arc.float().masked_fill(~self._head_mask(batch), float("-inf"))
        arc_loss = cross_entropy(arc.flatten(0, 1), batch.heads.flatten())
        parser = cast(BiaffineParser, model)
        rel = parser.relations(rel_dep, rel_head, batch.heads.clamp_min(0)).float()
        rel_loss = cross_entropy(rel.flatten(0, 1), batch.labels.flatten())
        return arc_loss + rel_loss

    @staticmethod
    def _head_mask(batch: TaskBatch) -> torch.Tensor:
        """[B, W, W+1]: True for candidate heads that exist (root + the sentence's words)."""
        first = batch.words.first_subword
        exists = torch.cat([torch.ones_like(first[:, :1], dtype=torch.bool), first >= 0], 1)
        return exists.unsqueeze(1).expand(-1, first.shape[1], -1)

    def predict(self, model: nn.Module, batch: TaskBatch, labels: Sequence[str]) -> list[Any]:
        """(heads, relations) per sentence: a tree over the seen words, -1 / ``_`` elsewhere."""
        arc, rel_dep, rel_head = model(batch.words.inputs, batch.words.first_subword)
        arc = arc.float().masked_fill(~self._head_mask(batch), float("-inf"))
        logp = F.log_softmax(arc, -1).cpu().numpy()
        first = batch.words.first_subword.cpu()
        all_heads = torch.zeros(first.shape, dtype=torch.long)
        decoded: list[list[int]] = []
        for b, ex in enumerate(batch.examples):
            seen = seen_words(first[b], len(ex.words))
            nodes = [0, *(w + 1 for w in seen)]  # seen node k -> original node nodes[k]
            scores = np.full((len(seen) + 1, len(seen) + 1), -np.inf)
            scores[1:, :] = logp[b][np.ix_(seen, nodes)]
            heads = [-1] * len(ex.words)
            for k, h in enumerate(decode_tree(scores)):
                heads[seen[k]] = nodes[h]
                all_heads[b, seen[k]] = nodes[h]
            decoded.append(heads)
        parser = cast(BiaffineParser, model)
        rel = parser.relations(rel_dep, rel_head, all_heads.to(rel_dep.device)).argmax(-1).cpu()
        out = []
        for b, heads in enumerate(decoded):
            rels = [labels[int(rel[b, w])] if h >= 0 else MISSING for w, h in enumerate(heads)]
            out.append((heads, rels))
        return out

    def score(self, examples: Sequence[Example], predictions: Sequence[Any],
              seed: int = 0) -> dict[str, Score]:
        return attachment_scores([ex.heads for ex in examples], [ex.labels for ex in examples],
                                 [p[0] for p in predictions], [p[1] for p in predictions],
                                 seed=seed)


TASKS: dict[str, Task] = {"pos": PosTask(), "parsing": ParsingTask(), "ner": NerTask()}


def get_task(name: str) -> Task:
    try:
        return TASKS[name]
    except KeyError:
        raise ConfigError(f"unknown task {name!r} (available: {', '.join(TASKS)})") from None
