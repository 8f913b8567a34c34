"""Language codes of multilingual seq2seq tokenizers: crossling's language -> the ``src_lang``.

mBART-50 (``fr_XX``), NLLB (``fra_Latn``) and M2M100 (``__fr__``) tokenizers put a source
language code before every sentence, as their models were trained. crossling names languages
as its corpora do: an ISO 639-1 code, or a UD spec whose part before ``_`` / ``:`` is one
(``fr``, ``fr_gsd``, ``fr_gsd:dev``). A family's ``language_code`` turns that into the value of
the tokenizer's ``src_lang``, found among the tokenizer's own code tokens; NLLB's codes add an
ISO 639-3 code and a script, which no installed library maps, hence `NLLB_CODES`.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from crossling.core.errors import ConfigError

NLLB_CODES = {
    "ar": "arb_Arab", "cs": "ces_Latn", "de": "deu_Latn", "en": "eng_Latn", "es": "spa_Latn",
    "fi": "fin_Latn", "fr": "fra_Latn", "hi": "hin_Deva", "id": "ind_Latn", "it": "ita_Latn",
    "ja": "jpn_Jpan", "ko": "kor_Hang", "nl": "nld_Latn", "pl": "pol_Latn", "pt": "por_Latn",
    "ru": "rus_Cyrl", "sv": "swe_Latn", "th": "tha_Thai", "tr": "tur_Latn", "zh": "zho_Hans",
}
"""NLLB's code of each language of the shared data (the 19 PUD languages and WikiANN's nl):
ISO 639-3 (Arabic: Modern Standard, ``arb``) and script (Chinese PUD is Simplified)."""

_NLLB = re.compile(r"^[a-z]{3}_[A-Z][a-z]{3}$")


def base_language(language: str) -> str:
    """The ISO code in a crossling language spec: ``fr_gsd:dev`` -> ``fr``."""
    return language.partition(":")[0].partition("_")[0].lower()


def _missing(language: str, family: str, codes: Collection[str]) -> ConfigError:
    listed = ", ".join(sorted(codes)) or "none"
    return ConfigError(f"language {language!r}: no {family} language code for it among the "
                       f"tokenizer's codes ({listed})")


def mbart_code(codes: Collection[str], language: str) -> str:
    """mBART(-50)'s code: the tokenizer's code ``xx_YY`` whose ``xx`` is the language."""
    if language in codes:
        return language
    base = base_language(language)
    found = sorted(c for c in codes if re.fullmatch(rf"{re.escape(base)}_[A-Z]{{2}}", c))
    if len(found) != 1:
        raise _missing(language, "mBART", [c for c in codes if re.fullmatch(r"[a-z]{2}_[A-Z]{2}",
                                                                            c)])
    return found[0]


def m2m100_code(codes: Collection[str], language: str) -> str:
    """NLLB's code (``fra_Latn``: `NLLB_CODES`, or the one code of an ISO 639-3 language) or
    M2M100's ``src_lang`` (``fr`` for the token ``__fr__``), whichever the tokenizer has."""
    if language in codes:
        return language
    base = base_language(language)
    if f"__{base}__" in codes:
        return base
    nllb = [c for c in codes if _NLLB.fullmatch(c)]
    if nllb:
        want = NLLB_CODES.get(base)
        found = [want] if want in codes else sorted(c for c in nllb if c.startswith(base + "_"))
        if len(found) == 1 and found[0] is not None:
            return found[0]
        raise _missing(language, "NLLB", nllb)
    raise _missing(language, "M2M100", [c for c in codes if re.fullmatch(r"__[a-z_]+__", c)])
