"""Sentence pooling: which token positions of a layer make up a sentence vector.

Each pooling is a function returning a [batch, tokens] weight matrix; the sentence vector of every
layer is the weighted mean of its token states. One weight matrix serves all layers of a forward
pass, so pooling happens on the fly and no token-level state outlives its batch.

- ``mean`` (default): mean over word-pieces, special tokens excluded (the paper's choice). The
  authors' script prepended ``[CLS]`` and appended ``[SEP]`` by hand *and* let the tokenizer add
  them again, so one copy of each was pooled; here the tokenizer adds them once and the
  ``special_tokens_mask`` removes them.
- ``mean_with_special``: mean over all real tokens, special tokens included (e5's own pooling).
- ``first_token``: the first real token (``[CLS]`` / ``<s>`` / a causal model's BOS).
- ``last_token``: the last real token (a causal model's only state that has seen the whole
  sentence; the EOS where the tokenizer appends one).
- ``first_subword``: mean over the sub-word that represents each pre-tokenised word: its first
  (encoders) or, for causal models, its last (the first has not seen the word).

For causal models ``mean`` excludes the BOS token (a special token): in many LLMs the BOS /
attention-sink state has a norm far above the others and dominates the mean;
``mean_with_special`` includes it. Every pooling finds real tokens by the attention mask, so
left- and right-padded batches pool the same positions.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from crossling.core.errors import ConfigError
from crossling.models.encoder import word_positions

PoolWeights = Callable[[dict[str, torch.Tensor]], torch.Tensor]


def _mean(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    return (batch["attention_mask"].bool() & ~batch["special_tokens_mask"].bool()).float()


def _mean_with_special(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    return batch["attention_mask"].float()


def _first_token(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    mask = batch["attention_mask"]
    w = torch.zeros_like(mask, dtype=torch.float32)
    w[torch.arange(len(mask)), mask.int().argmax(1)] = 1.0  # 0 under right padding
    return w


def _last_token(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    mask = batch["attention_mask"]
    w = torch.zeros_like(mask, dtype=torch.float32)
    last = mask.shape[1] - 1 - mask.int().flip(1).argmax(1)
    w[torch.arange(len(mask)), last] = 1.0
    return w


def _first_subword(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    return batch["first_subword_mask"].float()


POOLINGS: dict[str, PoolWeights] = {
    "mean": _mean,
    "mean_with_special": _mean_with_special,
    "first_token": _first_token,
    "last_token": _last_token,
    "first_subword": _first_subword,
}


def get_pooling(name: str) -> PoolWeights:
    try:
        return POOLINGS[name]
    except KeyError:
        raise ConfigError(f"unknown pooling {name!r} (available: {', '.join(POOLINGS)})") \
            from None


def first_subword_mask(word_ids: list[int | None], tokens: list[str],
                       position: str = "first") -> list[int]:
    """1 at the sub-word that represents each word (by the tokenizer's pre-tokenisation): its
    first one, skipping a bare ``▁`` piece as the taggers do, or its last one for causal models
    (``position``, `crossling.models.encoder.word_positions`); else 0."""
    out = [0] * len(word_ids)
    for t in word_positions(word_ids, tokens, position).values():
        out[t] = 1
    return out


def pool(hidden: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Weighted mean over tokens: hidden [layers, B, T, H] x weights [B, T] -> [layers, B, H].

    A sentence with no selected token (e.g. empty after removing specials) pools to zeros.
    """
    w = weights.to(hidden.dtype)
    total = w.sum(1).clamp_min(1e-9)
    return torch.einsum("lbth,bt->lbh", hidden, w) / total[None, :, None]
