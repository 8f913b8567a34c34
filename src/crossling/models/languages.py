"""Encoding text with its language's code, for tokenizers that prefix one (mBART-50, NLLB).

``with source_language(tokenizer, "fr"):`` sets the tokenizer's ``src_lang`` to the code the
model's family gives for French (`crossling.models.families.languages`) and restores it after;
every sentence tokenised inside begins with ``fr_XX`` / ``fra_Latn``, as the model was trained.
`crossling.models.encoder.prepare_tokenizer` marks such tokenizers; tokenising text with one
outside a language (`require_language`) is a ModelError, so no pass can silently encode French
as English. Tokenizers of other families are untouched: the context does nothing for them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from crossling.core.errors import ModelError
from crossling.models.families import FAMILIES

FAMILY_ATTR = "crossling_language_family"
"""Tokenizer attribute naming the family whose ``language_code`` gives its ``src_lang``."""

ACTIVE_ATTR = "crossling_source_language"
"""Tokenizer attribute holding the ``src_lang`` set by `source_language` (None outside)."""

DEFAULT_ATTR = "crossling_default_src_lang"
"""Tokenizer attribute holding the ``src_lang`` it had before any `source_language`."""


def _inner(tokenizer: Any) -> Any:
    """The tokenizer itself, under wrappers that hold it as ``.tokenizer`` (EncodedTokenizer)."""
    while (inner := getattr(tokenizer, "__dict__", {}).get("tokenizer")) is not None:
        tokenizer = inner
    return tokenizer


def uses_language_codes(tokenizer: Any) -> bool:
    """Whether the tokenizer puts a language code on each sentence (marked at loading)."""
    return getattr(_inner(tokenizer), FAMILY_ATTR, None) is not None


def code_tokens(tokenizer: Any) -> set[str]:
    """The tokenizer's special and added tokens, among which its language codes are, and the
    code tokens it keeps apart (M2M100's ``__fr__``: transformers' ``lang_token_to_id``)."""
    inner = _inner(tokenizer)
    return {str(t) for t in inner.all_special_tokens} | set(inner.get_added_vocab()) | \
        {str(t) for t in _kept_apart(inner)}


def _kept_apart(inner: Any) -> dict[str, int]:
    """Language-code tokens outside the special and added tokens, with their ids: M2M100's
    Python tokenizer numbers its ``__xx__`` codes after its vocabulary without registering
    them (transformers 5)."""
    codes = getattr(inner, "lang_token_to_id", None)
    return dict(codes) if isinstance(codes, dict) else {}


def code_ids(tokenizer: Any) -> set[int]:
    """The ids of every language code the tokenizer can put on a sentence (empty for
    tokenizers without codes): vocabulary trimming keeps them all, whichever language runs."""
    inner = _inner(tokenizer)
    if getattr(inner, FAMILY_ATTR, None) is None:
        return set()
    ids = {int(i) for i in _kept_apart(inner).values()}
    return ids | {int(i) for i in inner.all_special_ids}


def language_code(tokenizer: Any, language: str) -> str | None:
    """The ``src_lang`` for ``language`` (a crossling spec: ``fr``, ``fr_gsd``), or None for a
    tokenizer without language codes; a language it has no code for is a one-line ConfigError
    naming the tokenizer's codes."""
    name = getattr(_inner(tokenizer), FAMILY_ATTR, None)
    if name is None:
        return None
    hook = FAMILIES[name].language_code
    if hook is None:
        return None
    return hook(code_tokens(tokenizer), language)


def language_codes(tokenizer: Any, languages: Sequence[str]) -> dict[str, str]:
    """``{language: src_lang}`` for a tokenizer with language codes (empty otherwise): every
    language checked at once, before any work, and recorded in provenance."""
    codes = {lang: language_code(tokenizer, lang) for lang in languages}
    return {lang: code for lang, code in codes.items() if code is not None}


@contextmanager
def source_language(tokenizer: Any, language: str | None) -> Iterator[str | None]:
    """Tokenise inside as ``language``'s text: set the ``src_lang`` (yielded) and restore it.

    Does nothing (yields None) for tokenizers without language codes or for ``language`` None.
    """
    inner = _inner(tokenizer)
    code = None if language is None else language_code(inner, language)
    if code is None:
        yield None
        return
    previous, active = inner.src_lang, getattr(inner, ACTIVE_ATTR, None)
    if active is None:
        setattr(inner, DEFAULT_ATTR, previous)
    inner.src_lang = code
    setattr(inner, ACTIVE_ATTR, code)
    try:
        yield code
    finally:
        inner.src_lang = previous
        setattr(inner, ACTIVE_ATTR, active)


@contextmanager
def any_language(tokenizer: Any) -> Iterator[None]:
    """Tokenise inside where the language code does not matter: the ids of the words are the
    same under every code (vocabulary trimming, which keeps every special token, the codes
    among them). Keeps an active language; else the tokenizer's current ``src_lang``."""
    if not uses_language_codes(tokenizer) or active_language(tokenizer) is not None:
        yield
        return
    with source_language(tokenizer, _inner(tokenizer).src_lang):
        yield


def active_language(tokenizer: Any) -> str | None:
    """The ``src_lang`` set by the enclosing `source_language`, or None."""
    return getattr(_inner(tokenizer), ACTIVE_ATTR, None)


@contextmanager
def default_language(tokenizer: Any) -> Iterator[None]:
    """The tokenizer as loaded, whatever `source_language` is active (for its fingerprint)."""
    inner = _inner(tokenizer)
    active = active_language(inner)
    if active is None:
        yield
        return
    inner.src_lang = getattr(inner, DEFAULT_ATTR)
    try:
        yield
    finally:
        inner.src_lang = active


def require_language(tokenizer: Any, what: str = "text") -> None:
    """A ModelError when a tokenizer with language codes tokenises outside `source_language`:
    its default code (English) would be put on text of any language."""
    if uses_language_codes(tokenizer) and active_language(tokenizer) is None:
        raise ModelError(f"{type(_inner(tokenizer)).__name__}: tokenising {what} without a "
                         "language; this tokenizer puts a language code before each sentence, "
                         "wrap the call in crossling.models.languages.source_language")


def language_tag(tokenizer: Any) -> str:
    """The cache-key part of the active language code: empty without one (keys of other
    tokenizers stay what they were), else ``|src_lang=fra_Latn``."""
    code = active_language(tokenizer)
    return "" if code is None else f"|src_lang={code}"
