"""Pre-split words (UD, NER) as a model reads them: tokenised as running text, mapped back.

Word-level tasks get sentences as words. Handing those to a tokenizer with
``is_split_into_words=True`` tokenises each word as if it began a text: byte-level BPE
tokenizers (GPT-2, RoBERTa, Llama-3, Qwen2, BLOOM) then drop the ``Ġ`` of every word after the
first, and SentencePiece tokenizers that prefix only the text (Gemma) the ``▁``: every word
gets sub-tokens the model never saw in pretraining. `tokenize_words` instead tokenises the
running text, the words joined by one space, and gives each sub-token the word its character
span (``return_offsets_mapping``) falls in; a token that spans only whitespace (a bare ``▁``)
belongs to the word after it. For WordPiece (BERT) and for SentencePiece tokenizers that
prefix every word (XLM-R, e5, mT5), the ids are those of ``is_split_into_words``.

UD's ``SpaceAfter=No`` is not reproduced: ``cat ,`` and ``cat,`` give XLM-R different ids, so
doing so would change every result of those models, and one space between words keeps word
boundaries exact. A token that would cover parts of two words is a `ModelError`.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from crossling.core.errors import ModelError
from crossling.models.languages import require_language

__all__ = ["WordTokens", "running_text", "tokenize_words"]

CHUNK = 1024
"""Sentences per tokenizer call (bounds the memory of one call's offsets)."""


@dataclass(frozen=True)
class WordTokens:
    """One sentence tokenised: ids with special tokens (truncated), token type ids (None if
    the tokenizer makes none), each token's word (None: special token) and its string."""

    input_ids: list[int]
    token_type_ids: list[int] | None
    word_ids: list[int | None]
    tokens: list[str]


def running_text(words: Sequence[str]) -> tuple[str, list[int], list[int]]:
    """The words joined by one space, with each word's start and end character."""
    starts: list[int] = []
    ends: list[int] = []
    at = 0
    for w in words:
        starts.append(at)
        at += len(w)
        ends.append(at)
        at += 1
    return " ".join(words), starts, ends


def _word_of_tokens(words: Sequence[str], offsets: Sequence[tuple[int, int]],
                    special: Sequence[bool]) -> list[int | None]:
    """The word of each token from its character span (see the module docstring)."""
    text, starts, ends = running_text(words)
    out: list[int | None] = []
    for (s, e), is_special in zip(offsets, special, strict=True):
        if is_special:
            out.append(None)
            continue
        w = bisect_right(ends, s)  # the first word ending after the token's start
        while w < len(words) and ends[w] == starts[w]:  # empty words own no character
            w += 1
        if w >= len(words):
            raise ModelError(f"a sub-token at characters {s}-{e} of {text[:60]!r} lies after "
                             "the last word")
        if w + 1 < len(words) and starts[w + 1] < e and ends[w + 1] > starts[w + 1]:
            raise ModelError(f"the tokenizer joins the words {words[w]!r} and {words[w + 1]!r} "
                             f"of {text[:60]!r} into one sub-token ({text[s:e]!r}); crossling "
                             "cannot give it one word")
        out.append(w)
    return out


def tokenize_words(tokenizer: Any, sentences: Sequence[Sequence[str]],
                   max_length: int) -> list[WordTokens]:
    """Tokenise pre-split sentences as running text (truncated to ``max_length``) with each
    token's word: the one tokenisation of words for every command (fine-tuning, probing,
    vocabulary trimming). Needs a fast tokenizer (character offsets)."""
    if not getattr(tokenizer, "is_fast", False):
        raise ModelError(f"{type(tokenizer).__name__}: not a fast tokenizer; crossling needs "
                         "character offsets to align words and sub-words")
    require_language(tokenizer, "words")
    out: list[WordTokens] = []
    for first in range(0, len(sentences), CHUNK):
        chunk = [list(s) for s in sentences[first:first + CHUNK]]
        enc = tokenizer([running_text(s)[0] for s in chunk], truncation=True,
                        max_length=max_length, return_offsets_mapping=True)
        types = enc.get("token_type_ids")
        for b, words in enumerate(chunk):
            special = [i is None for i in enc.sequence_ids(b)]
            out.append(WordTokens(
                list(enc["input_ids"][b]), None if types is None else list(types[b]),
                _word_of_tokens(words, enc["offset_mapping"][b], special), enc.tokens(b)))
    return out
