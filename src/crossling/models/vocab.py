"""Exact vocabulary trimming: fine-tune only the embedding rows a run can ever look up.

A multilingual encoder's embedding matrix (250k rows) dominates a training step's gradient,
clipping norm and AdamW update, though a run touches a few tens of thousands of rows.
`trim_vocabulary` swaps in a `TrimmedEmbedding` holding the rows of every text the run encodes
(input ids unchanged: it maps them inside ``forward``); rows never looked up have zero gradient,
so scores equal the untrimmed run's. `merge_vocabulary` writes the trained rows back, so a saved
encoder is an ordinary full-vocabulary folder (docs/finetune.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from crossling.core.errors import ModelError
from crossling.models.languages import any_language, code_ids
from crossling.models.words import tokenize_words


class TrimmedEmbedding(nn.Module):
    """An ``nn.Embedding`` restricted to ``kept`` rows, still indexed by full-vocabulary ids.

    ``weight`` keeps the name (and so the state-dict key and optimiser group) of the embedding it
    replaces. ``remap[full_id]`` is the trimmed row, -1 for ids that were trimmed away: looking
    one of those up raises `ModelError` instead of returning another token's vector.
    """

    kept: torch.Tensor
    remap: torch.Tensor

    def __init__(self, full: nn.Embedding, kept: torch.Tensor) -> None:
        super().__init__()
        kept = kept.to(device=full.weight.device, dtype=torch.long)
        remap = torch.full((full.num_embeddings,), -1, dtype=torch.long,
                           device=full.weight.device)
        remap[kept] = torch.arange(len(kept), device=full.weight.device)
        self.register_buffer("kept", kept)
        self.register_buffer("remap", remap)
        self.num_full = full.num_embeddings
        self.embedding_dim = full.embedding_dim
        pad = full.padding_idx
        self.padding_idx = None if pad is None else int(remap[pad])
        if self.padding_idx is not None and self.padding_idx < 0:
            raise ModelError(f"padding id {pad} is not among the kept sub-word ids")
        self.weight = nn.Parameter(full.weight.detach()[kept].clone(),
                                   requires_grad=full.weight.requires_grad)
        # Gemma's and XGLM's scaled word embeddings multiply the looked-up rows by a constant
        scale = getattr(full, "embed_scale", None)
        self.scale: float | None = None
        if torch.is_tensor(scale):
            self.register_buffer("scale_tensor", scale.detach().clone(), persistent=False)
        elif scale is not None:
            self.scale = float(scale)
        # The pretrained full module, kept outside the module tree (not a parameter, not in the
        # state dict) so that merge_vocabulary can write the trained rows back into it.
        self.__dict__["full"] = full

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        rows = self.remap[input_ids]
        if bool((rows < 0).any()):
            bad = int(input_ids[rows < 0][0])
            raise ModelError(f"sub-word id {bad} is outside the trimmed vocabulary "
                             f"({len(self.kept)} of {self.num_full} ids kept): every text a "
                             "fine-tuning run encodes must be given to trim_vocabulary")
        out = F.embedding(rows, self.weight, self.padding_idx)
        scale_tensor = getattr(self, "scale_tensor", None)
        if scale_tensor is not None:  # as the module it replaces computes it, bit for bit
            return out * scale_tensor.to(self.weight.dtype)
        return out if self.scale is None else out * self.scale

    def extra_repr(self) -> str:
        return f"{len(self.kept)} of {self.num_full} rows, dim {self.embedding_dim}"


def kept_ids(tokenizer: Any, sentences: Iterable[Sequence[str]], max_length: int,
             ) -> torch.Tensor:
    """Sorted sub-word ids of pre-split ``sentences`` (as the tasks tokenise them), plus every
    special token's id (padding, CLS/SEP, UNK, ...) and every language code's
    (`crossling.models.languages.code_ids`).

    A tokenizer wrapper holding the sentences' encodings already (``stored_input_ids``, as
    `crossling.training.encoded.EncodedTokenizer` does) is asked for them instead of
    tokenising again.
    """
    texts = [list(s) for s in sentences]
    ids: set[int] = set(int(i) for i in tokenizer.all_special_ids) | code_ids(tokenizer)
    if tokenizer.pad_token_id is not None:
        ids.add(int(tokenizer.pad_token_id))
    stored_of = getattr(tokenizer, "stored_input_ids", None)
    stored = stored_of(texts, max_length) if callable(stored_of) else None
    if stored is not None:
        for row in stored:
            ids.update(row)
        texts = []
    with any_language(tokenizer):  # a code is a special token: kept above, whichever it is
        for row in tokenize_words(tokenizer, texts, max_length):
            ids.update(row.input_ids)
    return torch.tensor(sorted(ids), dtype=torch.long)


def trim_vocabulary(model: Any, tokenizer: Any, sentences: Iterable[Sequence[str]],
                    max_length: int) -> TrimmedEmbedding:
    """Replace ``model``'s input embedding with the rows ``sentences`` need; returns the module.

    ``model`` is a Hugging Face encoder (anything with ``get_input_embeddings`` and
    ``set_input_embeddings``). Call it after any re-initialisation and before building the
    optimiser; `merge_vocabulary` undoes it.
    """
    current = model.get_input_embeddings()
    if isinstance(current, TrimmedEmbedding):
        raise ModelError("the vocabulary is already trimmed; merge_vocabulary first")
    if not isinstance(current, nn.Embedding):
        raise ModelError(f"{type(model).__name__}: input embedding is a "
                         f"{type(current).__name__}, not an nn.Embedding; cannot trim it")
    if type(current) is not nn.Embedding and not _scaled(current):
        raise ModelError(f"{type(model).__name__}: input embedding {type(current).__name__} "
                         "computes more than a row lookup, so a trimmed copy would not be "
                         "exact; fine-tune without trimming (FinetuneSettings trim_vocab=False)")
    kept = kept_ids(tokenizer, sentences, max_length)
    if current.padding_idx is not None:  # the model's padding row, whichever token pads
        kept = torch.unique(torch.cat([kept, torch.tensor([current.padding_idx])]))
    if len(kept) and int(kept[-1]) >= current.num_embeddings:
        raise ModelError(f"tokenizer id {int(kept[-1])} is beyond the model's "
                         f"{current.num_embeddings}-row embedding")
    trimmed = TrimmedEmbedding(current, kept)
    model.set_input_embeddings(trimmed)
    return trimmed


def _scaled(module: nn.Embedding) -> bool:
    """A scaled word embedding (Gemma, XGLM): a lookup times ``embed_scale``, which
    `TrimmedEmbedding` reproduces exactly."""
    return type(module).__name__.endswith("ScaledWordEmbedding") and \
        hasattr(module, "embed_scale")


def merge_vocabulary(model: Any) -> bool:
    """Write trained rows back into the full embedding and restore it; False if not trimmed.

    Afterwards the model is an ordinary full-vocabulary model (``save_pretrained`` writes a
    folder any Hugging Face code loads), equal to the trimmed one on every kept id.
    """
    current = model.get_input_embeddings()
    if not isinstance(current, TrimmedEmbedding):
        return False
    full: nn.Embedding = current.__dict__["full"]
    full.to(current.weight.device)
    with torch.no_grad():
        full.weight[current.kept] = current.weight.detach().to(full.weight.dtype)
    full.weight.requires_grad_(current.weight.requires_grad)
    model.set_input_embeddings(full)
    return True
