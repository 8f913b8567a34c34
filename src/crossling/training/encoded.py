"""Encoded sentence sets, cached: each set of a run is tokenised once, and once per study.

`EncodedTokenizer` wraps a fast tokenizer (delegating everything else, so it goes wherever the
tokenizer goes); its ``add`` encodes a set of pre-split sentences once or loads it from
``cache_dir``, and `encode_batch` / `encoded_lengths` then build batches from the stored ids,
equal to `crossling.models.encoder.encode_words`'s. An entry is keyed by the tokenizer's
fingerprint, the truncation length, every sentence's words and the language code the tokenizer
put on them, if any (`crossling.models.languages.source_language`: a set is added and looked up
inside its language), and checksummed: a changed input is a new key, a damaged entry is
encoded again (docs/finetune.md).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from crossling.core.checksums import CacheDamaged, load_text, save_text, warn_recompute
from crossling.models.encoder import (
    WordBatch,
    encode_words,
    tokenizer_fingerprint,
    word_position,
    word_positions,
)
from crossling.models.languages import active_language, language_tag
from crossling.models.words import tokenize_words

log = logging.getLogger(__name__)

FORMAT = 3
"""Bumped when the stored fields or their meaning change (part of every key); 3: words
tokenised as running text (`crossling.models.words`)."""


def default_cache_dir() -> Path:
    """``$CROSSLING_CACHE/encoded`` (default ``~/.cache/crossling/encoded``)."""
    return Path(os.environ.get("CROSSLING_CACHE", Path.home() / ".cache" / "crossling")) / \
        "encoded"


@dataclass(frozen=True)
class EncodedSentence:
    """One sentence as the tasks tokenise it: ids (specials included, truncated), the word of
    each token (-1 for specials) and the representative sub-word of each word (-1: none)."""

    input_ids: tuple[int, ...]
    token_type_ids: tuple[int, ...] | None
    word_ids: tuple[int, ...]
    starts: tuple[int, ...]


def _encode(tokenizer: Any, sentences: Sequence[Sequence[str]], max_length: int,
            ) -> list[EncodedSentence]:
    position = word_position(tokenizer)
    out: list[EncodedSentence] = []
    for words, row in zip(sentences, tokenize_words(tokenizer, sentences, max_length),
                          strict=True):
        first = word_positions(row.word_ids, row.tokens, position)
        out.append(EncodedSentence(
            tuple(row.input_ids), None if row.token_type_ids is None else tuple(row.token_type_ids),
            tuple(-1 if w is None else w for w in row.word_ids),
            tuple(first.get(w, -1) for w in range(len(words)))))
    return out


class EncodedTokenizer:
    """A fast tokenizer plus the stored encodings of the sentence sets given to `add`."""

    def __init__(self, tokenizer: Any, max_length: int,
                 cache_dir: str | Path | None = None) -> None:
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.cache_dir = None if cache_dir is None else Path(cache_dir)
        self.fingerprint = tokenizer_fingerprint(tokenizer)
        self.hits = 0  # sets loaded from disk
        self.misses = 0  # sets tokenised here
        # by (active language code, words): one text in two languages is two encodings
        self._memo: dict[tuple[str | None, tuple[str, ...]], EncodedSentence] = {}

    def __getattr__(self, name: str) -> Any:
        # only reached for attributes this wrapper lacks: the tokenizer's own API
        if name == "tokenizer":
            raise AttributeError(name)
        return getattr(self.tokenizer, name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.tokenizer(*args, **kwargs)

    def __len__(self) -> int:
        return len(self.tokenizer)

    def key(self, sentences: Sequence[Sequence[str]]) -> str:
        """Cache key of a set: format, tokenizer fingerprint, truncation, every sentence, and
        the active language code, if any."""
        digest = hashlib.sha256(f"{FORMAT}|{self.fingerprint}|{self.max_length}|"
                                f"{len(sentences)}{language_tag(self.tokenizer)}".encode())
        for s in sentences:
            digest.update("\x1f".join(s).encode("utf-8") + b"\x1e")
        return digest.hexdigest()[:24]

    def add(self, sentences: Sequence[Sequence[str]]) -> None:
        """Encode ``sentences`` once (or load them from the cache folder) for later batches,
        in the active language (`crossling.models.languages.source_language`)."""
        keys = [tuple(s) for s in sentences]
        if not keys:
            return
        path = None if self.cache_dir is None else self.cache_dir / f"{self.key(keys)}.json"
        encoded: list[EncodedSentence] | None = None
        if path is not None and path.is_file():
            try:
                rows = json.loads(load_text(path))
                encoded = [EncodedSentence(tuple(r[0]), None if r[1] is None else tuple(r[1]),
                                           tuple(r[2]), tuple(r[3])) for r in rows]
            except CacheDamaged as exc:
                warn_recompute(path, exc)
            except (ValueError, TypeError, IndexError) as exc:
                warn_recompute(path, f"unexpected content: {exc}")
            if encoded is not None and len(encoded) != len(keys):
                warn_recompute(path, "unexpected content")
                encoded = None
        if encoded is None:
            encoded = _encode(self.tokenizer, keys, self.max_length)
            self.misses += 1
            if path is not None:
                save_text(path, json.dumps([[e.input_ids, e.token_type_ids, e.word_ids,
                                              e.starts] for e in encoded],
                                            separators=(",", ":")))
        else:
            self.hits += 1
        code = active_language(self.tokenizer)
        self._memo.update(((code, k), e) for k, e in zip(keys, encoded, strict=True))

    def lookup(self, sentences: Sequence[Sequence[str]], max_length: int,
               ) -> list[EncodedSentence] | None:
        """The stored encodings of ``sentences`` in the active language, or None if any is
        missing (or other length)."""
        if max_length != self.max_length:
            return None
        code = active_language(self.tokenizer)
        found = [self._memo.get((code, tuple(s))) for s in sentences]
        return None if any(e is None for e in found) else found  # type: ignore[return-value]

    def stored_input_ids(self, sentences: Sequence[Sequence[str]], max_length: int,
                         ) -> list[tuple[int, ...]] | None:
        """Input ids of ``sentences`` if all are stored, in whichever language (used by
        vocabulary trimming: a language changes only its code, a special token kept anyway)."""
        if max_length != self.max_length:
            return None
        by_words = {words: e for (_, words), e in self._memo.items()}
        found = [by_words.get(tuple(s)) for s in sentences]
        return None if any(e is None for e in found) else [e.input_ids for e in found]  # type: ignore[union-attr]


def _pad(rows: Sequence[Sequence[int]], width: int, value: int) -> torch.Tensor:
    return torch.tensor([list(r) + [value] * (width - len(r)) for r in rows], dtype=torch.long)


def collate_encoded(encoded: Sequence[EncodedSentence], n_words: Sequence[int], pad_id: int,
                    pad_type_id: int = 0) -> WordBatch:
    """A right-padded `WordBatch` from stored encodings (as ``encode_words`` pads)."""
    width = max(len(e.input_ids) for e in encoded)
    inputs = {"input_ids": _pad([e.input_ids for e in encoded], width, pad_id),
              "attention_mask": _pad([[1] * len(e.input_ids) for e in encoded], width, 0)}
    if encoded[0].token_type_ids is not None:
        inputs["token_type_ids"] = _pad([e.token_type_ids or () for e in encoded], width,
                                        pad_type_id)
    first = _pad([e.starts for e in encoded], max(max(n_words, default=0), 1), -1)
    return WordBatch(inputs, first, _pad([e.word_ids for e in encoded], width, -1),
                     list(n_words))


def encode_batch(tokenizer: Any, sentences: Sequence[Sequence[str]],
                 max_length: int) -> WordBatch:
    """`encode_words`, from stored encodings when there are."""
    if isinstance(tokenizer, EncodedTokenizer):
        found = tokenizer.lookup(sentences, max_length)
        if found is not None and found and tokenizer.padding_side == "right":
            return collate_encoded(found, [len(s) for s in sentences], tokenizer.pad_token_id,
                                   tokenizer.pad_token_type_id)
        tokenizer = tokenizer.tokenizer
    return encode_words(tokenizer, sentences, max_length)


def encoded_lengths(tokenizer: Any, sentences: Sequence[Sequence[str]], max_length: int,
                    ) -> list[int] | None:
    """Sub-word counts from stored encodings, or None when some sentence is not stored."""
    if not isinstance(tokenizer, EncodedTokenizer):
        return None
    found = tokenizer.lookup(sentences, max_length)
    return None if found is None else [len(e.input_ids) for e in found]

