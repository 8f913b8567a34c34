"""Language codes of mBART-50, NLLB and M2M100 tokenizers: each sentence encoded with its own
language's code, in every pass, with its own cache entries; other families untouched."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from crossling.core.errors import ConfigError, ModelError
from crossling.data.parallel import ParallelCorpus
from crossling.models.encoder import Encoder, encode_words, load_encoder, tokenizer_fingerprint
from crossling.models.families.languages import NLLB_CODES, m2m100_code, mbart_code
from crossling.models.languages import language_codes, source_language
from crossling.models.vocab import kept_ids
from crossling.similarity.extract import Forward, cache_key, extract, extract_cached
from crossling.similarity.pipeline import cross_lingual_similarity
from crossling.similarity.settings import SimilaritySettings
from crossling.training.encoded import EncodedTokenizer
from tests.models.tiny_families import (
    build_family_model,
    m2m100_tokenizer,
    mbart50_tokenizer,
    nllb_tokenizer,
)

TEXT = "Le chat dort ."


@pytest.fixture(scope="module")
def coded(tmp_path_factory: pytest.TempPathFactory, tiny_tokenizers: dict) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("coded")
    wp = tiny_tokenizers["bert"]
    return {"mbart": build_family_model(root / "mbart", "mbart", wp, tokenizer=mbart50_tokenizer),
            "nllb": build_family_model(root / "nllb", "m2m_100", wp, tokenizer=nllb_tokenizer),
            "m2m100": build_family_model(root / "m2m100", "m2m_100", wp,
                                         tokenizer=m2m100_tokenizer),
            "bert": build_family_model(root / "bert", "bert", wp)}


def _load(coded: dict[str, Path], name: str) -> Encoder:
    return load_encoder(str(coded[name]), device="cpu")


def test_codes_are_found_among_the_tokenizers_own_tokens() -> None:
    from transformers.models.mbart50.tokenization_mbart50 import FAIRSEQ_LANGUAGE_CODES as MB
    from transformers.models.nllb.tokenization_nllb import FAIRSEQ_LANGUAGE_CODES as NL

    assert mbart_code(MB, "fr") == "fr_XX"
    assert mbart_code(MB, "zh_gsd:dev") == "zh_CN"
    assert mbart_code(MB, "pt") == "pt_XX"
    assert m2m100_code(NL, "zh") == "zho_Hans"
    assert m2m100_code(NL, "ar") == "arb_Arab"
    assert m2m100_code(NL, "fra") == "fra_Latn"  # an ISO 639-3 code with one script
    assert m2m100_code(NL, "kor_Hang") == "kor_Hang"  # a code itself
    assert m2m100_code({"__en__", "__fr__", "__zh__"}, "fr_gsd") == "fr"  # M2M100's src_lang
    assert set(NLLB_CODES.values()) <= set(NL)


@pytest.mark.parametrize("hook, codes", [(mbart_code, ["en_XX", "fr_XX"]),
                                         (m2m100_code, ["eng_Latn", "fra_Latn"]),
                                         (m2m100_code, ["__en__", "__fr__"])])
def test_a_language_without_a_code_is_one_line_naming_the_codes(hook, codes) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError) as err:
        hook(codes, "qq_tb")
    msg = str(err.value)
    assert "\n" not in msg and "'qq_tb'" in msg and codes[1] in msg


@pytest.mark.parametrize("name, fr, en", [("mbart", "fr_XX", "en_XX"),
                                          ("nllb", "fra_Latn", "eng_Latn")])
def test_a_french_sentence_begins_with_the_french_code(coded, name, fr, en) -> None:  # type: ignore[no-untyped-def]
    enc = _load(coded, name)
    tok = enc.tokenizer
    fr_id = tok.convert_tokens_to_ids(fr)
    with source_language(tok, "fr_gsd") as code:
        assert code == fr
        ids = tok(TEXT)["input_ids"]
        batch = encode_words(tok, [TEXT.split()], 64)
    assert ids[0] == fr_id and batch.inputs["input_ids"][0, 0] == fr_id
    assert tok.src_lang == en  # restored
    assert tok(TEXT)["input_ids"][0] == tok.convert_tokens_to_ids(en)
    assert language_codes(tok, ["en", "fr"]) == {"en": en, "fr": fr}


def test_an_m2m100_sentence_begins_with_its_code_and_trimming_keeps_every_code(
        coded) -> None:  # type: ignore[no-untyped-def]
    """M2M100's Python tokenizer numbers its ``__xx__`` codes after its vocabulary, outside
    its special tokens: they are still found, put first, and all kept by trimming."""
    enc = _load(coded, "m2m100")
    tok = enc.tokenizer
    assert type(tok).__name__ == "M2M100Tokenizer"
    fr_id, de_id = tok.convert_tokens_to_ids(["__fr__", "__de__"])
    assert fr_id not in tok.all_special_ids and fr_id >= len(tok.get_vocab())
    with source_language(tok, "fr_gsd") as code:
        assert code == "fr"
        batch = encode_words(tok, [TEXT.split()], 64)
        kept = set(kept_ids(tok, [TEXT.split()], 64).tolist())
    assert batch.inputs["input_ids"][0, 0] == fr_id
    assert tok.src_lang == "en"  # restored
    assert language_codes(tok, ["en", "fr_gsd"]) == {"en": "en", "fr_gsd": "fr"}
    assert {fr_id, de_id, *batch.inputs["input_ids"][0].tolist()} <= kept
    with pytest.raises(ModelError, match="without a language"):
        encode_words(tok, [TEXT.split()], 64)


def test_tokenising_without_a_language_is_refused(coded) -> None:  # type: ignore[no-untyped-def]
    enc = _load(coded, "mbart")
    with pytest.raises(ModelError, match="without a language"):
        extract(enc, [TEXT], progress=False)
    with pytest.raises(ModelError, match="without a language"):
        encode_words(enc.tokenizer, [TEXT.split()], 64)


@pytest.mark.parametrize("name", ["nllb", "m2m100"])
def test_one_text_in_two_languages_gives_two_vectors_and_two_cache_entries(
        coded, tmp_path: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    enc = _load(coded, name)
    before = tokenizer_fingerprint(enc.tokenizer)
    en = extract_cached(enc, [TEXT], cache_dir=tmp_path, language="en", progress=False)
    fr = extract_cached(enc, [TEXT], cache_dir=tmp_path, language="fr", progress=False)
    assert len(list(tmp_path.glob("*.safetensors"))) == 2
    # mean pooling leaves the (special) code out: layer 0 is equal, the blocks above see it
    assert torch.equal(en[0], fr[0]) and not torch.allclose(en[-1], fr[-1])
    again = extract_cached(enc, [TEXT], cache_dir=tmp_path, language="fr", progress=False)
    assert torch.equal(again, fr)
    with source_language(enc.tokenizer, "fr"):
        assert tokenizer_fingerprint(enc.tokenizer) == before  # the tokenizer as loaded


def test_other_families_are_untouched(coded) -> None:  # type: ignore[no-untyped-def]
    enc = _load(coded, "bert")
    plain = enc.tokenizer(TEXT)["input_ids"]
    key = cache_key(enc, [TEXT], "mean", 64)
    with source_language(enc.tokenizer, "fr") as code:
        assert code is None
        assert enc.tokenizer(TEXT)["input_ids"] == plain
        assert cache_key(enc, [TEXT], "mean", 64) == key
    assert language_codes(enc.tokenizer, ["fr", "anything"]) == {}
    assert torch.equal(extract(enc, [TEXT], forward=Forward(language="fr"), progress=False),
                       extract(enc, [TEXT], progress=False))


def test_encoded_sets_are_stored_per_language(coded, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    enc = _load(coded, "mbart")
    tok = EncodedTokenizer(enc.tokenizer, 64, tmp_path)
    words = [TEXT.split()]
    for lang in ("en", "fr"):
        with source_language(tok, lang):
            tok.add(words)
    assert tok.misses == 2 and len(list(tmp_path.glob("*.json"))) == 2
    with source_language(tok, "fr"):
        found = tok.lookup(words, 64)
    assert found is not None and found[0].input_ids[0] == tok.convert_tokens_to_ids("fr_XX")
    assert tok.lookup(words, 64) is None  # outside a language: nothing stored


def test_similarity_records_each_languages_code(
        coded, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    enc = _load(coded, "mbart")
    texts = ["Le chat dort .", "Il pleut .", "Une maison .", "Un chien ."]
    files = {lang: tmp_path / f"{lang}.txt" for lang in ("en", "fr")}
    for path in files.values():
        path.write_text("\n".join(texts) + "\n", encoding="utf-8")
    corpus = ParallelCorpus(tuple(str(i) for i in range(4)), {"en": tuple(texts),
                                                              "fr": tuple(texts)},
                            {lang: str(path) for lang, path in files.items()})
    rows = cross_lingual_similarity(enc, corpus, "en", targets=["fr"], settings=SimilaritySettings(
        measures=("linear_cka",), n_boot=0, layers=(2,), progress=False))
    assert rows[0].provenance["language_codes"] == {"en": "en_XX", "fr": "fr_XX"}
