"""Per-language covariates of P6 that need the model's tokenizer and the PUD text.

Does similarity predict transfer only because targets that share sub-words or a script with
English are both similar and easy? The analysis (`crossling.analysis.confounds`) controls for
two covariates computed here and handed to it as a frame:

- ``subword_overlap``: token-weighted share of the target's PUD sub-word tokens (the model's own
  tokenizer, no special tokens) whose id also occurs somewhere in the source's PUD tokens;
  an unknown token never counts as shared. ``type_overlap`` is the same share over distinct
  ids. Computed from the tokenizer, so it is defined for every model family.
- ``same_script``: whether the target's majority script (`crossling.data.scripts`, read from
  the characters) is the source's.

Each row records what produced it: the tokenizer's name and fingerprint and the PUD file with
its SHA-256.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from crossling.analysis.frames import language_code
from crossling.core.provenance import data_key, sha256_file
from crossling.data.parallel import ParallelCorpus, align_by_sent_id
from crossling.data.resolve import pud_languages, resolve_ud
from crossling.data.scripts import majority_script
from crossling.models.encoder import load_tokenizer, tokenizer_fingerprint
from crossling.models.languages import any_language
from crossling.models.naming import model_name

COVARIATE_COLUMNS = ["language", "subword_overlap", "type_overlap", "unk_share", "n_tokens",
                     "script", "script_share", "same_script", "n_sentences", "source",
                     "tokenizer", "tokenizer_fingerprint", "pud_file", "pud_sha256"]
OVERLAP_DEFINITION = ("token-weighted share of the target's PUD sub-word tokens (model "
                      "tokenizer, no special tokens) whose id occurs in the source's PUD tokens; "
                      "unknown tokens never shared")


def token_ids(tokenizer: Any, texts: Sequence[str]) -> list[list[int]]:
    """Sub-word ids of each text without special tokens (any language code: the ids of the
    text itself do not depend on it)."""
    with any_language(tokenizer):
        ids = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
    specials = set(tokenizer.all_special_ids) - {tokenizer.unk_token_id}
    return [[int(i) for i in row if i not in specials] for row in ids]


def subword_overlap(target: Sequence[Sequence[int]], source: Sequence[Sequence[int]],
                    unk_id: int | None = None) -> tuple[float, float, float]:
    """(token-weighted overlap, type overlap, unknown share) of ``target``'s ids with
    ``source``'s: the share of target tokens (of distinct target ids) whose id occurs in the
    source; ``unk_id`` tokens are counted but never shared. NaN for a target without tokens."""
    vocab = {i for row in source for i in row} - {unk_id}
    tokens = [i for row in target for i in row]
    if not tokens:
        return float("nan"), float("nan"), float("nan")
    shared = sum(1 for i in tokens if i in vocab)
    types = set(tokens)
    unk = sum(1 for i in tokens if i == unk_id) if unk_id is not None else 0
    return shared / len(tokens), len(types & vocab) / len(types), unk / len(tokens)


def language_covariates(tokenizer: Any, corpus: ParallelCorpus, source: str, *,
                        tokenizer_name: str = "") -> pd.DataFrame:
    """`COVARIATE_COLUMNS` for every language of ``corpus`` but ``source``, one row each,
    indexed by language code; ``tokenizer_name`` is recorded with the fingerprint."""
    src_ids = token_ids(tokenizer, corpus.texts[source])
    src_script = majority_script(corpus.texts[source])
    fingerprint = tokenizer_fingerprint(tokenizer)
    rows = []
    for lang in corpus.languages:
        if lang == source:
            continue
        texts = corpus.texts[lang]
        ids = token_ids(tokenizer, texts)
        overlap, types, unk = subword_overlap(ids, src_ids, tokenizer.unk_token_id)
        script = majority_script(texts)
        path = corpus.files[lang]
        rows.append({"language": language_code(lang), "subword_overlap": overlap,
                     "type_overlap": types, "unk_share": unk,
                     "n_tokens": sum(len(r) for r in ids), "script": script.name,
                     "script_share": script.share,
                     "same_script": script.name is not None and script.name == src_script.name,
                     "n_sentences": len(texts), "source": language_code(source),
                     "tokenizer": tokenizer_name, "tokenizer_fingerprint": fingerprint,
                     "pud_file": data_key(path), "pud_sha256": sha256_file(path)})
    return pd.DataFrame(rows, columns=COVARIATE_COLUMNS)


def pud_covariates(model: str | Path, ud: str | Path, source: str = "en",
                   targets: Sequence[str] | None = None) -> pd.DataFrame:
    """`language_covariates` of ``model``'s tokenizer on every aligned PUD sentence of
    ``source`` and ``targets`` (default: every other PUD language under ``ud``)."""
    langs = list(targets) if targets else [x for x in pud_languages(ud) if x != source]
    langs = [x for x in dict.fromkeys(langs) if x != source]
    corpus = align_by_sent_id({lang: resolve_ud(ud, lang) for lang in [source, *langs]})
    tokenizer = load_tokenizer(str(model))
    return language_covariates(tokenizer, corpus, source, tokenizer_name=model_name(model))
