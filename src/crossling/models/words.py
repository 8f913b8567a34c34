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

Python ("slow") tokenizers (ByT5's, M2M100's) give no character offsets. For them each word's
tokens are those that tokenising the text up to the word's end adds to the tokens of the text
up to the previous word's end (`align_by_prefixes`); if the shorter text's tokens are not a
prefix of the longer's, the tokenizer joins the two words: the same `ModelError`. On fast
tokenizers both methods give the same alignment (tests/models/test_words.py).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from crossling.core.errors import ModelError
from crossling.models.languages import require_language

__all__ = ["SLOW_TOKENIZERS", "WordTokens", "align_by_prefixes", "running_text",
           "text_word_ids", "tokenize_words", "tokenize_words_by_prefixes"]

CHUNK = 1024
"""Sentences per tokenizer call (bounds the memory of one call's offsets)."""

SLOW_TOKENIZERS = ("ByT5Tokenizer", "M2M100Tokenizer")
"""Python tokenizer classes crossling loads: their class and vocabulary define their
tokenisation (ByT5: UTF-8 bytes), or those plus their SentencePiece model (M2M100: the
``sentencepiece.bpe.model`` file, part of the fingerprint)."""


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
    vocabulary trimming). Character offsets for fast tokenizers, growing prefixes for
    Python ones (`tokenize_words_by_prefixes`)."""
    require_language(tokenizer, "words")
    if not getattr(tokenizer, "is_fast", False):
        return tokenize_words_by_prefixes(tokenizer, sentences, max_length)
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


def _check_tokenizer(tokenizer: Any) -> None:
    if not callable(getattr(tokenizer, "tokenize", None)) or \
            not callable(getattr(tokenizer, "convert_tokens_to_ids", None)):
        raise ModelError(f"{type(tokenizer).__name__}: not a Hugging Face tokenizer (no "
                         "tokenize()); crossling cannot align words and sub-words")


def tokenize_words_by_prefixes(tokenizer: Any, sentences: Sequence[Sequence[str]],
                               max_length: int) -> list[WordTokens]:
    """`tokenize_words` for tokenizers without character offsets: the same ids (the running
    text's), each token's word from `align_by_prefixes`."""
    _check_tokenizer(tokenizer)
    out: list[WordTokens] = []
    for first in range(0, len(sentences), CHUNK):
        chunk = [list(s) for s in sentences[first:first + CHUNK]]
        texts = [running_text(s) for s in chunk]
        enc = tokenizer([t[0] for t in texts], truncation=True, max_length=max_length,
                        return_special_tokens_mask=True)
        types = enc.get("token_type_ids")
        for b, (text, starts, ends) in enumerate(texts):
            ids = list(enc["input_ids"][b])
            word_ids, tokens = align_by_prefixes(
                tokenizer, text, list(zip(starts, ends, strict=True)), ids,
                enc["special_tokens_mask"][b])
            out.append(WordTokens(ids, None if types is None else list(types[b]), word_ids,
                                  tokens))
    return out


def text_word_ids(tokenizer: Any, text: str, input_ids: Sequence[int],
                  special_mask: Sequence[int]) -> tuple[list[int | None], list[str]]:
    """The word and string of each token of an encoded raw text, for tokenizers without
    offsets (``first_subword`` pooling): words are the text's whitespace-separated pieces, as
    a whitespace pre-tokeniser splits them; tokens after the last word belong to none."""
    _check_tokenizer(tokenizer)
    spans = [m.span() for m in re.finditer(r"\S+", text)]
    return align_by_prefixes(tokenizer, text, spans, input_ids, special_mask)


def _content_words(tokenizer: Any, text: str, spans: Sequence[tuple[int, int]],
                   ) -> tuple[list[str], list[int | None]]:
    """The tokens of ``text`` (no special tokens) and each one's word, by growing prefixes."""
    tokens: list[str] = []
    owner: list[int | None] = []
    last = -1
    for w, (s, e) in enumerate(spans):
        if e == s:  # an empty word owns no token
            continue
        grown = list(tokenizer.tokenize(text[:e]))
        if grown[:len(tokens)] != tokens:
            before = text[spans[last][0]:spans[last][1]]
            raise ModelError(f"the tokenizer joins the words {before!r} and {text[s:e]!r} "
                             f"of {text[:60]!r} into one sub-token; crossling cannot give it one "
                             "word")
        owner.extend([w] * (len(grown) - len(tokens)))
        tokens, last = grown, w
    end = spans[last][1] if last >= 0 else 0
    if end < len(text):  # whitespace after the last word: tokens of no word
        grown = list(tokenizer.tokenize(text))
        if grown[:len(tokens)] != tokens:
            raise ModelError(f"the tokenizer joins the last word of {text[:60]!r} with the "
                             "text after it into one sub-token; crossling cannot give it one word")
        owner.extend([None] * (len(grown) - len(tokens)))
        tokens = grown
    return tokens, owner


def _sentencepiece_words(tokenizer: Any, text: str, spans: Sequence[tuple[int, int]],
                         ) -> tuple[list[str], list[int | None]] | None:
    """`_content_words` from SentencePiece's own piece offsets, for Python tokenizers holding
    an ``sp_model`` (M2M100): one pass instead of one per word. None (prefixes decide) unless
    the pieces are exactly ``tokenize(text)``'s, or when a piece crosses a word boundary."""
    sp_model = getattr(tokenizer, "sp_model", None)
    if sp_model is None or not callable(getattr(sp_model, "encode", None)):
        return None
    pieces = sp_model.encode(text, out_type="proto").pieces
    tokens = [p.piece for p in pieces]
    if tokens != list(tokenizer.tokenize(text)):
        return None
    char_at: dict[int, int] = {}
    at = 0
    for i, c in enumerate(text):  # SentencePiece counts UTF-8 bytes
        char_at[at] = i
        at += len(c.encode("utf-8"))
    char_at[at] = len(text)
    live = [w for w, (s, e) in enumerate(spans) if e > s]  # an empty word owns no token
    ends = [spans[w][1] for w in live]
    owner: list[int | None] = []
    for p in pieces:
        if p.begin not in char_at or p.end not in char_at:
            return None
        s, e = char_at[p.begin], char_at[p.end]
        k = bisect_right(ends, s)  # the first word ending after the piece's start
        if k >= len(live):
            if text[s:e].strip():
                return None
            owner.append(None)  # whitespace after the last word
            continue
        if k + 1 < len(live) and spans[live[k + 1]][0] < e:
            return None  # joins two words: prefixes give the error
        owner.append(live[k])
    return tokens, owner


def align_by_prefixes(tokenizer: Any, text: str, spans: Sequence[tuple[int, int]],
                      input_ids: Sequence[int], special_mask: Sequence[int],
                      ) -> tuple[list[int | None], list[str]]:
    """The word (index into ``spans``, character spans of ``text``; None: special token) and
    the string of each of ``input_ids``, the encoding of ``text`` with special tokens, maybe
    truncated.

    Word ``i``'s tokens are those that tokenising ``text`` up to the end of word ``i`` adds to
    the tokens up to the end of word ``i - 1``: whitespace before a word goes with the word, as
    with offsets. The encoding's non-special ids must be those tokens (all, or the kept end of
    them under truncation), else the tokenizer's ``tokenize`` and ``__call__`` disagree: a
    `ModelError` either way. A SentencePiece tokenizer (M2M100) takes the same words from its
    pieces' offsets when they agree with ``tokenize`` (`_sentencepiece_words`), in one pass.
    """
    tokens, owner = _sentencepiece_words(tokenizer, text, spans) or \
        _content_words(tokenizer, text, spans)
    content = [t for t, special in enumerate(special_mask) if not special]
    kept = len(content)
    left = getattr(tokenizer, "truncation_side", "right") == "left"
    window = range(len(tokens) - kept, len(tokens)) if left else range(kept)
    if kept > len(tokens) or [input_ids[t] for t in content] != list(
            tokenizer.convert_tokens_to_ids([tokens[j] for j in window])):
        raise ModelError(f"{type(tokenizer).__name__}: tokenize() and the encoding disagree on "
                         f"{text[:60]!r}; crossling cannot align its words and sub-words")
    words: list[int | None] = [None] * len(input_ids)
    strings = list(tokenizer.convert_ids_to_tokens(list(input_ids)))
    for t, j in zip(content, window, strict=True):
        words[t] = owner[j]
        strings[t] = tokens[j]  # as written (an unknown character, not its <unk>)
    return words, strings
