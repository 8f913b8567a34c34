"""Per-layer sentence vectors from any encoder that returns hidden states.

Texts are tokenised once, sorted by length and cut into batches under a token budget
(`crossling.data.batching.bucket_batches`, the package's one length batcher); each batch
runs one forward pass under ``torch.inference_mode`` returning every hidden state (or only the
asked ones, without running the blocks above them), pooled at once, so only the pooled
[layers, n, hidden] result is kept. `extract_cached` adds an
on-disk cache (atomic writes) so an interrupted analysis resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from crossling.core.checksums import CacheDamaged, load_tensors, save_tensors, warn_recompute
from crossling.core.errors import ConfigError, ModelError
from crossling.core.precision import DEFAULT_PRECISION, NAMES, resolve_precision, torch_dtype
from crossling.data.batching import bucket_batches
from crossling.models.encoder import (
    Encoder,
    model_fingerprint,
    tokenizer_fingerprint,
    word_position,
)
from crossling.models.languages import language_tag, require_language, source_language
from crossling.models.states import hidden_states
from crossling.models.words import text_word_ids
from crossling.similarity.pooling import first_subword_mask, get_pooling, pool

log = logging.getLogger(__name__)


BATCH_TOKENS = 16384
"""Default token budget of a forward pass (longest sentence x batch size) for every frozen-encoder
pass: similarity and retrieval extraction, probing word vectors, and their CLIs."""

MAX_BATCH = 256
"""Most sentences per forward pass, whatever the token budget (bounds activation memory for
corpora of very short lines)."""


def frozen_precision(encoder: Encoder, precision: str = DEFAULT_PRECISION) -> str:
    """The resolved precision (``fp32``, ``bf16``, ``fp16``) of the encoder's frozen passes on
    its device (`crossling.core.precision.resolve_precision`).

    A non-fp32 precision changes the vectors (by ~1e-2 relative in bf16), so it is part of the
    cache key and of the provenance (`extraction_precision`).
    """
    first = next(iter(encoder.model.parameters()), None)
    return resolve_precision(precision, first.device if first is not None else "cpu")


def extraction_precision(encoder: Encoder, precision: str = DEFAULT_PRECISION) -> str:
    """``"float32"``, ``"bfloat16"`` or ``"float16"``: the dtype the frozen passes run in."""
    return NAMES[frozen_precision(encoder, precision)]


def cast_frozen(encoder: Encoder, resolved: str) -> None:
    """Cast the encoder's weights to ``resolved``'s dtype, once: later passes find them cast.

    Weights cast down by crossling are not cast back up for an fp32 pass (the lost digits do
    not return): that is a ModelError asking for the encoder to be loaded again. The weights
    fingerprint is taken before the first cast, so the cache keys name the weights as loaded.
    """
    dtype = torch_dtype(resolved)
    first = next(iter(encoder.model.parameters()), None)
    if first is None or first.dtype == dtype:
        return
    cast_by_us = getattr(encoder, "_crossling_cast", None)
    if cast_by_us is not None and dtype == torch.float32:
        raise ModelError(f"{encoder.name}: its weights were cast to {cast_by_us} for an "
                         "earlier pass; load the model again for a float32 pass")
    encoder_fingerprint(encoder)  # of the weights as loaded
    encoder.model.to(dtype)
    encoder._crossling_cast = NAMES[resolved]  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Forward:
    """How the forward passes run: the token budget of a batch, the sub-words kept per
    sentence, the precision (`crossling.core.precision`; ``auto``: bf16 where the device
    computes it natively; bf16 and fp16 cast the weights once, `cast_frozen`), the hidden
    states kept (None: all), and the texts' language, whose code tokenizers such as
    mBART-50's and NLLB's put before each sentence (`crossling.models.languages`; others
    ignore it)."""

    batch_tokens: int = BATCH_TOKENS
    max_length: int = 512
    precision: str = DEFAULT_PRECISION
    layers: tuple[int, ...] | None = None
    language: str | None = None


def extract(encoder: Encoder, texts: Sequence[str], pooling: str = "mean",
            forward: Forward | None = None, progress: bool = True,
            desc: str = "extract") -> torch.Tensor:
    """Sentence vectors of every layer: a float32 CPU tensor [num_layers + 1, n, hidden].

    Layer 0 is the embedding output, layer i the output of block i. Rows follow ``texts``.
    ``forward`` (default: ``Forward()``) sets the batches, truncation and precision.
    ``forward.layers``: only these hidden states, [len(layers), n, hidden] in that order;
    blocks above the highest do not run (`crossling.models.states.hidden_states`).
    """
    fwd = Forward() if forward is None else forward
    batch_tokens, max_length, layers = fwd.batch_tokens, fwd.max_length, fwd.layers
    if batch_tokens <= 0:
        raise ConfigError(f"batch_tokens = {batch_tokens}: the token budget per forward pass "
                          "must be > 0")
    weights_of = get_pooling(pooling)
    tok = encoder.tokenizer
    model = encoder.model
    device = encoder.device
    with source_language(tok, fwd.language):
        require_language(tok, "sentences")
        enc = tok(list(texts), truncation=True, max_length=max_length,
                  return_special_tokens_mask=True)
        lengths = [len(ids) for ids in enc["input_ids"]]
        truncated = sum(1 for t, n in zip(texts, lengths, strict=True)
                        if n >= max_length and len(tok(t)["input_ids"]) > max_length)
    if truncated:
        log.warning("%d of %d sentences truncated to %d tokens", truncated, len(texts),
                    max_length)
    cast_frozen(encoder, frozen_precision(encoder, fwd.precision))
    out: torch.Tensor | None = None
    # The training loop's length batcher in its evaluation form (no shuffle: one global sort
    # by length), capped by the token budget: one batching implementation for the package.
    batches = bucket_batches(lengths, MAX_BATCH, seed=0, shuffle=False, max_tokens=batch_tokens)
    bar = tqdm(total=len(texts), desc=desc, unit="sent", disable=not progress, leave=False)
    with torch.inference_mode():
        for idx in batches:
            feats = {k: [enc[k][i] for i in idx] for k in enc
                     if k in ("input_ids", "attention_mask", "token_type_ids",
                              "special_tokens_mask")}
            padded = tok.pad(feats, return_tensors="pt")
            if pooling == "first_subword":
                padded["first_subword_mask"] = _word_mask(tok, enc, texts, idx,
                                                          padded["input_ids"].shape[1])
            weights = weights_of(padded).to(device)
            inputs = {k: padded[k].to(device) for k in ("input_ids", "attention_mask",
                                                         "token_type_ids") if k in padded}
            states = hidden_states(model, inputs, layers, encoder.name)
            pooled = pool(torch.stack(states).float(), weights).cpu()
            del states
            if out is None:
                out = torch.empty(pooled.shape[0], len(texts), pooled.shape[2])
            out[:, torch.tensor(idx)] = pooled
            bar.update(len(idx))
    bar.close()
    if out is None:
        raise ValueError("no texts to encode")
    return out


def _word_mask(tok: Any, enc: Any, texts: Sequence[str], idx: Sequence[int],
               width: int) -> torch.Tensor:
    """``first_subword`` pooling's weights for the sentences ``idx``, padded to ``width`` on
    the tokenizer's padding side. Words are the fast tokenizer's pre-tokens (``word_ids()``),
    or for a Python tokenizer (ByT5) the whitespace-separated words (`text_word_ids`)."""
    position = word_position(tok)
    left = getattr(tok, "padding_side", "right") == "left"
    fast = getattr(tok, "is_fast", False)
    rows = []
    for i in idx:
        if fast:
            m = first_subword_mask(enc.word_ids(i), enc.tokens(i), position)
        else:
            words, tokens = text_word_ids(tok, texts[i], enc["input_ids"][i],
                                          enc["special_tokens_mask"][i])
            m = first_subword_mask(words, tokens, position)
        pad = [0] * (width - len(m))
        rows.append(pad + m if left else m + pad)
    return torch.tensor(rows)


def encoder_fingerprint(encoder: Encoder) -> str:
    """The weights fingerprint of an encoder, computed once per loaded encoder."""
    fp = getattr(encoder, "_crossling_fingerprint", None)
    if fp is None:
        fp = model_fingerprint(encoder.model)
        encoder._crossling_fingerprint = fp  # type: ignore[attr-defined]
    return str(fp)


def encoder_tokenizer_fingerprint(encoder: Encoder) -> str:
    """The tokenizer fingerprint of an encoder, computed once per loaded encoder.

    Two encoders with the same weights and different tokenizers encode the same text into
    different vectors, so the tokenizer is part of the cache key and the provenance.
    """
    fp = getattr(encoder, "_crossling_tokenizer_fingerprint", None)
    if fp is None:
        fp = tokenizer_fingerprint(encoder.tokenizer)
        encoder._crossling_tokenizer_fingerprint = fp  # type: ignore[attr-defined]
    return str(fp)


def precision_tag(resolved: str) -> str:
    """The precision's part of a vector cache key: fp32 keeps the tag of the keys written
    before precisions were a setting (their entries stay valid), another names itself."""
    return "bf16=False" if resolved == "fp32" else f"precision={resolved}"


def cache_key(encoder: Encoder, texts: Sequence[str], pooling: str, max_length: int,
              precision: str = "fp32", layers: Sequence[int] | None = None) -> str:
    """Content key: weights and tokenizer fingerprints, pooling, truncation, the resolved
    precision, texts, the layers kept when not all are (`layers_suffix`), and the active
    language code, if any (`crossling.models.languages.language_tag`)."""
    digest = hashlib.sha256()
    digest.update(f"{encoder_fingerprint(encoder)}|{encoder_tokenizer_fingerprint(encoder)}|"
                  f"{pooling}|{max_length}|{precision_tag(precision)}|{len(texts)}"
                  f"{layers_suffix(layers)}{language_tag(encoder.tokenizer)}".encode())
    for t in texts:
        digest.update(t.encode("utf-8") + b"\0")
    return digest.hexdigest()[:24]


def extract_cached(encoder: Encoder, texts: Sequence[str], pooling: str = "mean",
                   cache_dir: str | Path | None = None, language: str | None = None,
                   **kwargs: object) -> torch.Tensor:
    """`extract`, reading/writing ``cache_dir/<key>.safetensors`` when a cache is given;
    ``kwargs``: `Forward`'s fields, ``progress`` and ``desc``. With ``layers`` only those states
    are computed, held and cached (their own entry); ``language`` as `Forward`'s.

    An entry is used only if its checksum matches (`crossling.core.checksums`); a damaged
    one is recomputed and rewritten, with a warning.
    """
    forward = Forward(**{k: kwargs.pop(k) for k in ("batch_tokens", "max_length", "precision")
                         if k in kwargs})  # type: ignore[arg-type]
    asked = kwargs.pop("layers", None)
    layers = None if asked is None else list(asked)  # type: ignore[call-overload]
    forward = replace(forward, layers=None if layers is None else tuple(layers))
    with source_language(encoder.tokenizer, language):
        if cache_dir is None:
            return extract(encoder, texts, pooling, forward, **kwargs)  # type: ignore[arg-type]
        return _extract_cached(encoder, texts, pooling, Path(cache_dir), forward, layers,
                               **kwargs)


def _extract_cached(encoder: Encoder, texts: Sequence[str], pooling: str, cache_dir: Path,
                    forward: Forward, layers: list[int] | None,
                    **kwargs: object) -> torch.Tensor:
    """`extract_cached` with a cache folder, inside the texts' language."""
    resolved = frozen_precision(encoder, forward.precision)
    forward = replace(forward, precision=resolved)
    key = cache_key(encoder, texts, pooling, forward.max_length, resolved, layers)
    path = Path(cache_dir) / f"{key}.safetensors"
    if path.is_file():
        try:
            stored = load_tensors(path)
            if "vectors" in stored and stored["vectors"].shape[1] == len(texts) and (
                    layers is None or stored["vectors"].shape[0] == len(layers)):
                return stored["vectors"]
            warn_recompute(path, "unexpected content")
        except CacheDamaged as exc:
            warn_recompute(path, exc)
    vectors = extract(encoder, texts, pooling, forward, **kwargs)  # type: ignore[arg-type]
    metadata = {"model": encoder.name, "pooling": pooling, "precision": NAMES[resolved]}
    if layers is not None:
        metadata["layers"] = ",".join(str(k) for k in layers)
    if language_tag(encoder.tokenizer):
        metadata["src_lang"] = language_tag(encoder.tokenizer).partition("=")[2]
    save_tensors(path, {"vectors": vectors}, metadata=metadata)
    return vectors


def layers_suffix(layers: Sequence[int] | None) -> str:
    """The cache-key part of a layer subset: empty for all layers (keys of full extractions
    stay what they were), else ``|layers=1,5``."""
    return "" if layers is None else "|layers=" + ",".join(str(k) for k in layers)


def kept_layers(chosen: Sequence[int], num_states: int) -> list[int] | None:
    """What to extract for the analysed layers ``chosen`` of a model with ``num_states``
    hidden states: None (every state, one cache entry for every analysis) when all are
    analysed, else ``chosen`` sorted, without repeats."""
    picked = sorted(set(chosen))
    return None if picked == list(range(num_states)) else picked


def by_layer(vectors: torch.Tensor, layers: Sequence[int] | None) -> dict[int, torch.Tensor]:
    """Per-layer vectors [states, n, d] from `extract` as ``{layer: [n, d]}`` (views, no
    copy): ``layers`` names the states of a subset extraction, None means 0, 1, ..."""
    names = range(vectors.shape[0]) if layers is None else layers
    if len(names) != vectors.shape[0]:
        raise ValueError(f"{len(names)} layer names for {vectors.shape[0]} states")
    return {int(k): vectors[i] for i, k in enumerate(names)}
