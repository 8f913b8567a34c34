"""Word vectors of a frozen encoder for probing: one per word and hidden state, cached on disk.

A word is represented by the hidden state of its representative sub-word, the one fine-tuning
labels (`crossling.models.encoder.encode_words`), so probing and fine-tuning see words alike.
A set's vectors are cached as float16 safetensors (one tensor per layer, checksummed, keyed like
the sentence-vector cache of `crossling.similarity.extract`) and read back one layer at a
time: the sets of a probe would not fit in memory together (docs/probing.md).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from crossling.core.checksums import CacheDamaged, save_tensors, verify_tensors, warn_recompute
from crossling.core.precision import DEFAULT_PRECISION, NAMES, precision
from crossling.core.settings import Settings, count, setting
from crossling.data.batching import bucket_batches
from crossling.models.encoder import Encoder, encode_words
from crossling.models.languages import language_tag
from crossling.models.states import hidden_states
from crossling.models.words import tokenize_words
from crossling.similarity.extract import (
    BATCH_TOKENS,
    MAX_BATCH,
    cast_frozen,
    encoder_fingerprint,
    encoder_tokenizer_fingerprint,
    frozen_precision,
    layers_suffix,
    precision_tag,
)

log = logging.getLogger(__name__)

FORMAT = 2
"""Version of the word-vector cache layout (part of every key); 2: words tokenised as running
text (`crossling.models.words`)."""


@dataclass(frozen=True)
class Extraction(Settings):
    """How the frozen encoder runs: sub-words kept per sentence, padded sub-words per forward
    pass, the ``precision`` as in `crossling.similarity.extract.Forward` (``auto``: bf16
    where the device computes it natively), and the hidden states kept (None: all; sorted,
    checked by the caller)."""

    max_length: int = setting(512, rule=count(1))
    batch_tokens: int = setting(BATCH_TOKENS, rule=count(1))
    precision: str = setting(DEFAULT_PRECISION, rule=precision)
    layers: tuple[int, ...] | None = setting(None)


@dataclass(frozen=True)
class WordVectors:
    """Every word's vector at every hidden state of an encoder, for one set of sentences.

    Words are in sentence order, sentences in the order given (``n_words`` per sentence).
    ``valid[i]`` is False for a word that has no representative sub-word (truncated); its
    vectors are zeros. The vectors are held in ``memory`` ([states, words, hidden], float16) or
    in the safetensors file ``path`` (one tensor ``layer_<k>`` per state, read one at a time).
    ``layers``: the states held when only some were extracted (``n_states``: the model's).
    """

    n_words: tuple[int, ...]
    valid: torch.Tensor
    n_states: int
    path: Path | None = None
    memory: torch.Tensor | None = None
    layers: tuple[int, ...] | None = None

    @property
    def held(self) -> tuple[int, ...]:
        """The hidden states held: ``layers``, or all ``n_states`` of them when None."""
        return tuple(range(self.n_states)) if self.layers is None else self.layers

    def layer(self, k: int) -> torch.Tensor:
        """The float32 [words, hidden] vectors of hidden state ``k``."""
        if self.layers is not None and k not in self.layers:
            raise IndexError(f"layer {k} was not extracted (extracted: "
                             f"{', '.join(str(i) for i in self.layers)})")
        if not 0 <= k < self.n_states:
            raise IndexError(f"layer {k} out of range 0..{self.n_states - 1}")
        if self.memory is not None:
            return self.memory[self.held.index(k)].float()
        if self.path is None:
            raise ValueError("word vectors with neither memory nor a file")
        from safetensors import safe_open

        with safe_open(str(self.path), framework="pt") as fh:
            return fh.get_tensor(f"layer_{k}").float()


def extract_word_vectors(encoder: Encoder, sentences: Sequence[Sequence[str]],
                         extraction: Extraction | None = None, *, progress: bool = True,
                         desc: str = "words") -> WordVectors:
    """One forward pass per length-bucketed batch under ``torch.inference_mode``; from all
    hidden states (or ``extraction.layers`` only: no block above the highest runs), the vector
    of each word's representative sub-word, kept as float16.

    Sentences are tokenised by `crossling.models.encoder.encode_words` (fine-tuning's word
    alignment) and batched by `crossling.data.batching.bucket_batches` (sorted by length, at
    most ``extraction.batch_tokens`` padded sub-words per pass). For tokenizers that put a
    language code first, call it inside `crossling.models.languages.source_language`.
    """
    ex = extraction or Extraction()
    if not sentences:
        raise ValueError("no sentences to encode")
    return _extract_word_vectors(encoder, sentences, ex, progress, desc)


def _extract_word_vectors(encoder: Encoder, sentences: Sequence[Sequence[str]], ex: Extraction,
                          progress: bool, desc: str) -> WordVectors:
    """The work of `extract_word_vectors`."""
    layers = ex.layers
    tok = encoder.tokenizer
    lists = [list(s) for s in sentences]
    lengths = [len(r.input_ids) for r in tokenize_words(tok, lists, ex.max_length)]
    n_words = [len(s) for s in lists]
    starts = torch.tensor(np.concatenate([[0], np.cumsum(n_words)[:-1]]), dtype=torch.long)
    total = int(sum(n_words))
    valid = torch.zeros(total, dtype=torch.bool)
    out: list[torch.Tensor] = []  # [states, words, hidden] once the first batch has run
    cast_frozen(encoder, frozen_precision(encoder, ex.precision))
    batches = bucket_batches(lengths, MAX_BATCH, seed=0, shuffle=False,
                             max_tokens=ex.batch_tokens)
    bar = tqdm(total=len(lists), desc=desc, unit="sent", disable=not progress, leave=False)
    with torch.inference_mode():
        for idx in batches:
            rows = _encode_batch(encoder, [lists[i] for i in idx], ex.max_length,
                                 starts[torch.tensor(idx, dtype=torch.long)], total, out, layers)
            valid[rows] = True
            bar.update(len(idx))
    bar.close()
    if not out:  # unreachable with sentences; kept for the type checker
        raise ValueError("no sentences to encode")
    lost = total - int(valid.sum())
    if lost:
        log.warning("%d of %d words have no sub-word within %d tokens (counted as errors)",
                    lost, total, ex.max_length)
    if layers is None:
        return WordVectors(tuple(n_words), valid, out[0].shape[0], memory=out[0])
    return WordVectors(tuple(n_words), valid, encoder.num_layers + 1, memory=out[0],
                       layers=tuple(layers))


def _encode_batch(encoder: Encoder, batch_words: list[list[str]], max_length: int,
                  starts: torch.Tensor, total: int, out: list[torch.Tensor],
                  layers: Sequence[int] | None) -> torch.Tensor:
    """Run one batch and write its words' states into ``out[0]`` (allocated on the first
    batch, [states kept, total words, hidden] float16); the rows written (``starts``: the
    first word's row of each sentence)."""
    batch = encode_words(encoder.tokenizer, batch_words, max_length)
    inputs = {k: v.to(encoder.device) for k, v in batch.inputs.items()}
    states = hidden_states(encoder.model, inputs, layers, encoder.name)
    first = batch.first_subword
    b, w = (first >= 0).nonzero(as_tuple=True)
    rows = starts[b] + w
    pos = first[b, w].to(encoder.device)
    b_dev = b.to(encoder.device)
    if not out:
        out.append(torch.zeros(len(states), total, states[0].shape[-1], dtype=torch.float16))
    for k, s in enumerate(states):
        out[0][k, rows] = s[b_dev, pos].to(torch.float16).cpu()
    return rows


def word_cache_key(encoder: Encoder, sentences: Sequence[Sequence[str]], max_length: int,
                   precision: str = "fp32", layers: Sequence[int] | None = None) -> str:
    """Content key: format, weights and tokenizer fingerprints, truncation, the resolved
    precision, words, the layers kept when not all are, and the active language code."""
    digest = hashlib.sha256(
        f"words|{FORMAT}|{encoder_fingerprint(encoder)}|{encoder_tokenizer_fingerprint(encoder)}|"
        f"{max_length}|{precision_tag(precision)}|{len(sentences)}{layers_suffix(layers)}"
        f"{language_tag(encoder.tokenizer)}".encode())
    for s in sentences:
        digest.update("\x1f".join(s).encode("utf-8") + b"\x1e")
    return digest.hexdigest()[:24]


def _read_word_cache(path: Path, n_sentences: int,
                     layers: tuple[int, ...] | None, n_states: int) -> WordVectors | None:
    """The file-backed word vectors cached at ``path`` if their checksum and shape hold, else
    None (after a warning: the caller extracts them again)."""
    from safetensors import safe_open

    try:
        names = verify_tensors(path)
        with safe_open(str(path), framework="pt") as fh:
            valid = fh.get_tensor("valid").bool()
            n_words = tuple(int(n) for n in fh.get_tensor("n_words").tolist())
    except CacheDamaged as exc:
        warn_recompute(path, exc)
        return None
    except (KeyError, ValueError, RuntimeError) as exc:  # a checksummed file of another layout
        warn_recompute(path, f"unreadable: {exc}")
        return None
    stored = {k for k in names if k.startswith("layer_")}
    wanted = {f"layer_{k}" for k in (range(n_states) if layers is None else layers)}
    if len(n_words) != n_sentences or stored != wanted or len(valid) != sum(n_words):
        warn_recompute(path, "unexpected content")
        return None
    return WordVectors(n_words, valid, n_states, path=path, layers=layers)


def word_vectors_cached(encoder: Encoder, sentences: Sequence[Sequence[str]],
                        cache_dir: str | Path | None, extraction: Extraction | None = None, *,
                        progress: bool = True, desc: str = "words") -> WordVectors:
    """`extract_word_vectors`, read from / written to ``cache_dir`` when one is given.

    With a cache the result is file-backed (a layer is read when asked for), whether the set
    was found there or extracted now and written atomically; without one it is in memory.
    ``extraction.layers``: only those states are computed, held and cached (their own entry).
    The language code a `crossling.models.languages.source_language` around the call sets is
    part of the key.
    """
    return _word_vectors_cached(encoder, sentences, cache_dir, extraction, progress, desc)


def _word_vectors_cached(encoder: Encoder, sentences: Sequence[Sequence[str]],
                         cache_dir: str | Path | None, extraction: Extraction | None,
                         progress: bool, desc: str) -> WordVectors:
    """The work of `word_vectors_cached`."""
    ex = extraction or Extraction()
    ex = ex.replace(precision=frozen_precision(encoder, ex.precision))
    kept = ex.layers
    if cache_dir is None:
        return extract_word_vectors(encoder, sentences, ex, progress=progress, desc=desc)
    key = word_cache_key(encoder, sentences, ex.max_length, ex.precision, kept)
    path = Path(cache_dir) / f"words-{key}.safetensors"
    if path.is_file():
        found = _read_word_cache(path, len(sentences), kept, encoder.num_layers + 1)
        if found is not None:
            return found
    vectors = extract_word_vectors(encoder, sentences, ex, progress=progress, desc=desc)
    if vectors.memory is None:  # extract_word_vectors always fills it
        raise ValueError("extraction returned no vectors")
    tensors = {f"layer_{k}": vectors.memory[i] for i, k in enumerate(vectors.held)}
    tensors["valid"] = vectors.valid.to(torch.uint8)
    tensors["n_words"] = torch.tensor(vectors.n_words, dtype=torch.long)
    save_tensors(path, tensors, metadata={
        "model": encoder.name, "max_length": str(ex.max_length),
        "precision": NAMES[ex.precision], "storage": "float16"})
    # read back a layer at a time: 20 PUD sets held in memory would take 4 GB for e5-small
    return WordVectors(vectors.n_words, vectors.valid, vectors.n_states, path=path,
                       layers=kept)
