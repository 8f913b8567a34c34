"""Sentence pooling: which token positions of a layer make up a sentence vector.

Each pooling is a function returning a [batch, tokens] weight matrix; the sentence vector of every
layer is the weighted mean of its token states. One weight matrix serves all layers of a forward
pass, so pooling happens on the fly and no token-level state outlives its batch.

- ``mean`` (default): mean over word-pieces, special tokens excluded (the paper's choice). The
  authors' script prepended ``[CLS]`` and appended ``[SEP]`` by hand *and* let the tokenizer add
  them again, so one copy of each was pooled; here the tokenizer adds them once and the
  ``special_tokens_mask`` removes them.
- ``mean_with_special``: mean over all real tokens, special tokens included (e5's own pooling).
- ``first_token``: the first token (``[CLS]`` / ``<s>``).
- ``first_subword``: mean over the first sub-word of each pre-tokenised word.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from crossling.core.errors import ConfigError
from crossling.models.encoder import word_start_positions

PoolWeights = Callable[[dict[str, torch.Tensor]], torch.Tensor]


def _mean(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    return (batch["attention_mask"].bool() & ~batch["special_tokens_mask"].bool()).float()


def _mean_with_special(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    return batch["attention_mask"].float()


def _first_token(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    w = torch.zeros_like(batch["attention_mask"], dtype=torch.float32)
    w[:, 0] = 1.0
    return w


def _first_subword(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    return batch["first_subword_mask"].float()


POOLINGS: dict[str, PoolWeights] = {
    "mean": _mean,
    "mean_with_special": _mean_with_special,
    "first_token": _first_token,
    "first_subword": _first_subword,
}


def get_pooling(name: str) -> PoolWeights:
    try:
        return POOLINGS[name]
    except KeyError:
        raise ConfigError(f"unknown pooling {name!r} (available: {', '.join(POOLINGS)})") \
            from None


def first_subword_mask(word_ids: list[int | None], tokens: list[str]) -> list[int]:
    """1 at the sub-word that represents each word (by the tokenizer's pre-tokenisation): its
    first one, skipping a bare ``▁`` piece as the taggers do
    (`crossling.models.encoder.word_start_positions`); else 0."""
    out = [0] * len(word_ids)
    for t in word_start_positions(word_ids, tokens).values():
        out[t] = 1
    return out


def pool(hidden: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Weighted mean over tokens: hidden [layers, B, T, H] x weights [B, T] -> [layers, B, H].

    A sentence with no selected token (e.g. empty after removing specials) pools to zeros.
    """
    w = weights.to(hidden.dtype)
    total = w.sum(1).clamp_min(1e-9)
    return torch.einsum("lbth,bt->lbh", hidden, w) / total[None, :, None]
