"""Task heads on top of a model of any supported family, reading each word at the sub-word
that represents it (its first; for causal models its last: `crossling.models.encoder`).

`TokenTagger` is a linear layer over those word vectors (UPOS, NER); `BiaffineParser` is
Dozat & Manning's (2017) parser: dependent/head MLPs, a biaffine arc scorer over the words plus
a root (the first real token: ``[CLS]``/``<s>``/BOS) and a biaffine relation classifier.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from crossling.models.encoder import forward_inputs


def gather_words(hidden: torch.Tensor, first_subword: torch.Tensor) -> torch.Tensor:
    """[B, T, H] token states -> [B, W, H] first-sub-word states (zeros where index is -1)."""
    idx = first_subword.clamp_min(0)
    words = torch.gather(hidden, 1, idx.unsqueeze(-1).expand(-1, -1, hidden.shape[-1]))
    return words * (first_subword >= 0).unsqueeze(-1).to(words.dtype)


def _hidden(encoder: nn.Module, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    out: Any = encoder(**forward_inputs(encoder, inputs), return_dict=True)
    return out.last_hidden_state


def _hidden_size(encoder: nn.Module) -> int:
    return int(encoder.config.hidden_size)  # type: ignore[union-attr,arg-type]


def _first_real(hidden: torch.Tensor, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    """[B, 1, H]: each row's first real token (position 0 unless the batch is left-padded)."""
    mask = inputs.get("attention_mask")
    if mask is None or bool(mask[:, 0].all()):
        return hidden[:, :1]
    first = mask.int().argmax(1)
    return hidden[torch.arange(len(first), device=hidden.device), first].unsqueeze(1)


class TokenTagger(nn.Module):
    """Labels each word from its first sub-word: logits [B, W, num_labels]."""

    def __init__(self, encoder: nn.Module, num_labels: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(_hidden_size(encoder), num_labels)

    def forward(self, inputs: dict[str, torch.Tensor], first_subword: torch.Tensor,
                ) -> torch.Tensor:
        words = gather_words(_hidden(self.encoder, inputs), first_subword)
        return self.classifier(self.dropout(words))


class _MLP(nn.Sequential):
    def __init__(self, d_in: int, d_out: int, dropout: float) -> None:
        super().__init__(nn.Linear(d_in, d_out), nn.GELU(), nn.Dropout(dropout))


class BiaffineParser(nn.Module):
    """Biaffine dependency parser: arc scores [B, W, W+1] and relation scores [B, W, R].

    ``arc[b, d, h]`` scores word ``d`` (0-based) taking node ``h`` as head, node 0 being the root
    and node ``h >= 1`` word ``h - 1``.
    """

    def __init__(self, encoder: nn.Module, num_rels: int, arc_dim: int = 256,
                 rel_dim: int = 128, dropout: float = 0.2) -> None:
        super().__init__()
        h = _hidden_size(encoder)
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        self.arc_dep, self.arc_head = _MLP(h, arc_dim, dropout), _MLP(h, arc_dim, dropout)
        self.rel_dep, self.rel_head = _MLP(h, rel_dim, dropout), _MLP(h, rel_dim, dropout)
        self.arc_weight = nn.Parameter(torch.zeros(arc_dim, arc_dim))
        self.arc_head_bias = nn.Linear(arc_dim, 1, bias=False)
        self.rel_bilinear = nn.Bilinear(rel_dim, rel_dim, num_rels)
        self.rel_linear = nn.Linear(2 * rel_dim, num_rels, bias=False)

    def nodes(self, inputs: dict[str, torch.Tensor], first_subword: torch.Tensor,
              ) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.dropout(_hidden(self.encoder, inputs))
        words = gather_words(hidden, first_subword)
        return words, torch.cat([_first_real(hidden, inputs), words], dim=1)

    def forward(self, inputs: dict[str, torch.Tensor], first_subword: torch.Tensor,
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Arc scores [B, W, W+1] plus the dependent and head relation features."""
        words, nodes = self.nodes(inputs, first_subword)
        dep, head = self.arc_dep(words), self.arc_head(nodes)
        arc = torch.einsum("bda,ae,bhe->bdh", dep, self.arc_weight, head)
        arc = arc + self.arc_head_bias(head).transpose(1, 2)
        return arc, self.rel_dep(words), self.rel_head(nodes)

    def relations(self, rel_dep: torch.Tensor, rel_head: torch.Tensor,
                  heads: torch.Tensor) -> torch.Tensor:
        """Relation scores [B, W, R] of each word attached to ``heads`` [B, W] (node indices)."""
        idx = heads.clamp_min(0).unsqueeze(-1).expand(-1, -1, rel_head.shape[-1])
        chosen = torch.gather(rel_head, 1, idx)
        return self.rel_bilinear(rel_dep.contiguous(), chosen.contiguous()) + \
            self.rel_linear(torch.cat([rel_dep, chosen], -1))
