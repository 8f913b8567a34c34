from __future__ import annotations

import math
from pathlib import Path

import pytest

from crossling.data.parallel import ParallelCorpus, align_by_sent_id
from crossling.data.resolve import resolve_ud
from crossling.models.encoder import load_tokenizer, tokenizer_fingerprint
from crossling.workflows.covariates import (
    COVARIATE_COLUMNS,
    language_covariates,
    pud_covariates,
    subword_overlap,
    token_ids,
)


def test_overlap_counts_tokens_and_types_and_never_shares_unknown() -> None:
    source = [[1, 2, 3], [3, 9]]
    target = [[1, 1, 1, 4], [9, 0]]  # 0 is unknown, in both
    tok, types, unk = subword_overlap(target, [*source, [0]], unk_id=0)
    assert tok == pytest.approx(4 / 6)  # 1, 1, 1, 9 of six tokens
    assert types == pytest.approx(2 / 4)  # {1, 9} of {0, 1, 4, 9}
    assert unk == pytest.approx(1 / 6)
    assert all(math.isnan(v) for v in subword_overlap([[]], source))


def test_identical_text_overlaps_fully_and_foreign_text_less(tiny_model: Path,
                                                             ud_dir: Path) -> None:
    tokenizer = load_tokenizer(str(tiny_model))
    pud = align_by_sent_id({lang: resolve_ud(ud_dir, lang) for lang in ["en", "zh"]}, limit=50)
    same = ParallelCorpus(pud.ids, {"en": pud.texts["en"], "fr": pud.texts["en"]},
                          {"en": pud.files["en"], "fr": pud.files["en"]})
    (row,) = language_covariates(tokenizer, same, "en").to_dict("records")
    assert row["subword_overlap"] == 1.0 and row["type_overlap"] == 1.0
    assert row["same_script"] and row["script"] == "LATIN"
    (zh,) = language_covariates(tokenizer, pud, "en").to_dict("records")
    assert zh["subword_overlap"] < 0.5 and not zh["same_script"] and zh["script"] == "HAN"
    # no special token enters the count: [CLS]/<s> would be shared by every language
    ids = token_ids(tokenizer, pud.texts["zh"][:5])
    assert not set(tokenizer.all_special_ids) - {tokenizer.unk_token_id} & \
        {i for row in ids for i in row}


def test_pud_covariates_record_what_produced_them(tiny_bert: Path, ud_dir: Path) -> None:
    frame = pud_covariates(tiny_bert, ud_dir, "en", ["fr", "ru", "fr"])
    assert list(frame.columns) == COVARIATE_COLUMNS
    assert list(frame["language"]) == ["fr", "ru"]
    fr, ru = frame.to_dict("records")
    # French shares more of English's sub-words than Russian does in Cyrillic
    assert fr["subword_overlap"] > ru["subword_overlap"]
    assert fr["same_script"] and not ru["same_script"] and ru["script"] == "CYRILLIC"
    assert fr["n_sentences"] == 1000 and fr["pud_file"].endswith("fr_pud-ud-test.conllu")
    assert fr["tokenizer_fingerprint"] == tokenizer_fingerprint(load_tokenizer(str(tiny_bert)))
    assert str(ud_dir) not in frame.to_csv() and str(tiny_bert) not in frame.to_csv()
