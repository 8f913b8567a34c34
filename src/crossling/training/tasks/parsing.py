"""Dependency parsing with a biaffine parser, scored by UAS/LAS over well-formed trees.

The parser decodes a tree over the seen words only (words with a sub-word of their own) and
maps it back through `seen_words`; unseen words get head -1 and relation ``_``. A gold head that
is an unseen word cannot be predicted, and the loss leaves such arcs out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from crossling.data.example import Example
from crossling.models.heads import BiaffineParser
from crossling.training.decode import decode_tree
from crossling.training.encoded import encode_batch
from crossling.training.metrics import Score, attachment_scores, universal_relation
from crossling.training.tasks.base import (
    IGNORE,
    MISSING,
    Labels,
    TaskBatch,
    cross_entropy,
    label_tensor,
)


def seen_words(first_subword: torch.Tensor, n_words: int) -> list[int]:
    """Original (0-based) indices of the words of one sentence that have a sub-word.

    ``first_subword`` is the sentence's row of `WordBatch.first_subword`. Position ``k``
    of the result is the word behind seen-index ``k``: the parser decodes over seen words only
    and maps back through this list.
    """
    row = first_subword[:n_words].tolist()
    return [w for w, t in enumerate(row) if t >= 0]


class ParsingTask(Labels):
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
        rels = label_tensor(examples, labels, width, first)
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
