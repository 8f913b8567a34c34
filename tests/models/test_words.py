"""Pre-split words get the sub-tokens of their running text, for every kind of tokenizer.

Each tokenizer is built offline the way transformers builds the real one (its own class from a
vocabulary and merges trained here on a few sentences): WordPiece (BERT), byte-level BPE
without a prefix space (GPT-2, Llama-3/Qwen2) and RoBERTa's, SentencePiece-style Unigram with
``▁`` before every word (XLM-R, e5) and BPE with ``▁`` before the text only (Llama-2 legacy
and not, Gemma, which has no prefix at all), and ByT5's Python byte tokenizer (no offsets: words
align by prefixes). ``is_split_into_words`` gave GPT-2, RoBERTa, Qwen2 and Gemma ``cat`` where
running text has ``Ġcat`` / ``▁cat``.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pytest
import torch

from crossling.core.errors import ModelError
from crossling.models.encoder import encode_words, word_positions
from crossling.models.vocab import kept_ids
from crossling.models.words import (
    running_text,
    text_word_ids,
    tokenize_words,
    tokenize_words_by_prefixes,
)
from crossling.training.encoded import EncodedTokenizer, encode_batch

CORPUS = ["The cat sat on the mat .", "A dog ran , and the cat sat !",
          "Hello , world ! The dogs sat ."] * 20
SENTENCES = [["The", "cat", "sat", "."], ["Hello", ",", "world", "!"],
             ["A", "dog", "ran", ",", "and", "the", "cat", "sat", "on", "the", "mat", "."]]
MARKERS = ("\u2581", "\u0120", " ")


def _trained(model: Any, pre_tokenizer: Any, trainer: Any) -> tuple[dict[str, int], list]:
    from tokenizers import Tokenizer

    tok = Tokenizer(model)
    tok.pre_tokenizer = pre_tokenizer
    tok.train_from_iterator(CORPUS, trainer)
    spec = json.loads(tok.to_str())["model"]
    return spec["vocab"], [tuple(m) for m in spec["merges"]]


@cache
def _byte_level() -> tuple[dict[str, int], list]:
    from tokenizers import models, pre_tokenizers, trainers

    return _trained(models.BPE(), pre_tokenizers.ByteLevel(add_prefix_space=False),
                    trainers.BpeTrainer(vocab_size=400, special_tokens=[
                        "<|endoftext|>", "<s>", "</s>", "<pad>", "<unk>", "<mask>"],
                        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))


@cache
def _sentencepiece_bpe() -> tuple[dict[str, int], list]:
    from tokenizers import models, pre_tokenizers, trainers

    return _trained(models.BPE(unk_token="<unk>"), pre_tokenizers.Metaspace(),
                    trainers.BpeTrainer(vocab_size=200, special_tokens=[
                        "<pad>", "<eos>", "<bos>", "<unk>", "<mask>", "<s>", "</s>"]))


def _wordpiece() -> Any:
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertTokenizerFast

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=False)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(CORPUS, trainers.WordPieceTrainer(
        vocab_size=120, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]))
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    return BertTokenizerFast(tokenizer_object=tok, do_lower_case=False)


def _unigram() -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import XLMRobertaTokenizerFast

    tok = Tokenizer(models.Unigram())
    tok.pre_tokenizer = pre_tokenizers.Metaspace()  # prepend_scheme "always", as XLM-R's
    tok.train_from_iterator(CORPUS, trainers.UnigramTrainer(
        vocab_size=60, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
        unk_token="<unk>"))
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 2)])
    tok.decoder = decoders.Metaspace()
    return XLMRobertaTokenizerFast(tokenizer_object=tok)


def _build(name: str) -> Any:
    import transformers

    if name == "bert":
        return _wordpiece()
    if name == "xlm-r":
        return _unigram()
    if name == "byt5":
        return transformers.ByT5Tokenizer()
    if name in ("gpt2", "roberta", "qwen2"):
        vocab, merges = _byte_level()
        cls = {"gpt2": "GPT2Tokenizer", "roberta": "RobertaTokenizer", "qwen2": "Qwen2Tokenizer"}
        return getattr(transformers, cls[name])(vocab=dict(vocab), merges=list(merges))
    vocab, merges = _sentencepiece_bpe()
    if name == "gemma":
        return transformers.GemmaTokenizer(vocab=dict(vocab), merges=list(merges))
    return transformers.LlamaTokenizer(vocab=dict(vocab), merges=list(merges),
                                       legacy=name == "llama-legacy")


KINDS = ["bert", "xlm-r", "gpt2", "roberta", "qwen2", "llama", "llama-legacy", "gemma", "byt5"]
FAST = [k for k in KINDS if k != "byt5"]


@pytest.fixture(scope="module", params=KINDS)
def tokenizer(request: pytest.FixtureRequest) -> Any:
    """A test tokenizer, right-padded, padding with EOS where it has no padding token (as
    `crossling.models.encoder.prepare_tokenizer` does)."""
    tok = _build(request.param)
    tok.padding_side = "right"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def _running_ids(tokenizer: Any, words: list[str]) -> list[int]:
    return list(tokenizer(" ".join(words))["input_ids"])


RUNNING = {"bert": ["The", "cat", "sat", "."],
           "xlm-r": ["\u2581", "T", "h", "e", "\u2581", "c", "a", "t", "\u2581", "s", "a", "t",
                     "\u2581", "."],
           "gpt2": ["The", "\u0120cat", "\u0120sat", "\u0120."],
           "llama": ["\u2581The", "\u2581cat", "\u2581sat", "\u2581."],
           "gemma": ["The", "\u2581cat", "\u2581sat", "\u2581."],
           "byt5": list("The cat sat .")}
"""Sub-tokens of ``The cat sat .`` as running text: the prefix conventions the module
docstring names (RoBERTa and Qwen2 are GPT-2's, Llama legacy is Llama's)."""


@pytest.mark.parametrize("kind", KINDS)
def test_the_test_tokenizers_have_the_conventions_named(kind: str) -> None:
    tok = _build(kind)
    expected = RUNNING[{"roberta": "gpt2", "qwen2": "gpt2", "llama-legacy": "llama"}.get(kind,
                                                                                       kind)]
    enc = tok(" ".join(SENTENCES[0]), return_special_tokens_mask=True)
    all_tokens = tok.convert_ids_to_tokens(enc["input_ids"])
    tokens = [t for t, special in zip(all_tokens, enc["special_tokens_mask"], strict=True)
              if not special]
    assert tokens == expected


def test_words_get_the_ids_of_their_running_text(tokenizer: Any) -> None:
    batch = encode_words(tokenizer, SENTENCES)
    for b, words in enumerate(SENTENCES):
        mask = batch.inputs["attention_mask"][b].bool()
        assert batch.inputs["input_ids"][b][mask].tolist() == _running_ids(tokenizer, words)


def _expected_token(tokens: list[str], own: list[int], position: str) -> int:
    if position == "last":
        return own[-1]
    bare = tokens[own[0]] in MARKERS and len(own) > 1
    return own[1] if bare else own[0]


@pytest.mark.parametrize("position", ["first", "last"])
def test_each_word_owns_the_sub_tokens_that_spell_it(tokenizer: Any, position: str) -> None:
    """A word's tokens are contiguous, decode to the word, and its representative token is
    its first (skipping a bare ``▁``) or its last."""
    if position == "last":
        tokenizer.crossling_word_position = "last"
    try:
        batch = encode_words(tokenizer, SENTENCES)
    finally:
        tokenizer.__dict__.pop("crossling_word_position", None)
    for b, words in enumerate(SENTENCES):
        ids = batch.inputs["input_ids"][b].tolist()
        tokens = tokenizer.convert_ids_to_tokens(ids)
        for w, word in enumerate(words):
            own = (batch.word_index[b] == w).nonzero().flatten().tolist()
            assert own == list(range(own[0], own[-1] + 1)), (word, own)
            assert tokenizer.decode([ids[t] for t in own]).strip() == word
            assert int(batch.first_subword[b, w]) == _expected_token(tokens, own, position)


def test_left_padding_moves_words_with_their_tokens(tokenizer: Any) -> None:
    right = encode_words(tokenizer, SENTENCES)
    tokenizer.padding_side = "left"
    try:
        left = encode_words(tokenizer, SENTENCES)
    finally:
        tokenizer.padding_side = "right"
    for b, words in enumerate(SENTENCES):
        r, lf = right.first_subword[b, :len(words)], left.first_subword[b, :len(words)]
        assert right.inputs["input_ids"][b, r].tolist() == left.inputs["input_ids"][b, lf].tolist()
        n = int(right.inputs["attention_mask"][b].sum())
        shift = left.inputs["input_ids"].shape[1] - n
        assert lf.tolist() == [int(t) + shift for t in r]
        assert torch.equal(left.word_index[b, shift:], right.word_index[b, :n])


def test_every_command_tokenises_words_the_same_way(tokenizer: Any) -> None:
    """Fine-tuning's stored encodings and vocabulary trimming use the same ids."""
    stored = EncodedTokenizer(tokenizer, max_length=64)
    stored.add(SENTENCES)
    cached = encode_batch(stored, SENTENCES, 64)
    fresh = encode_words(tokenizer, SENTENCES, 64)
    assert torch.equal(cached.inputs["input_ids"], fresh.inputs["input_ids"])
    assert torch.equal(cached.first_subword, fresh.first_subword)
    assert torch.equal(cached.word_index, fresh.word_index)
    kept = set(kept_ids(tokenizer, SENTENCES, 64).tolist())
    assert {i for s in SENTENCES for i in _running_ids(tokenizer, s)} <= kept


def test_truncation_leaves_later_words_without_a_token(tokenizer: Any) -> None:
    words = SENTENCES[2]
    full = tokenize_words(tokenizer, [words], 512)[0]
    cut = tokenize_words(tokenizer, [words], 6)[0]
    assert len(cut.input_ids) == 6
    batch = encode_words(tokenizer, [words], 6)
    kept = {w for w in cut.word_ids if w is not None}
    assert kept and max(kept) < len(words) - 1
    assert all(int(batch.first_subword[0, w]) == -1 for w in range(max(kept) + 1, len(words)))
    assert set(full.word_ids) - {None} == set(range(len(words)))


def test_running_text_spans() -> None:
    text, starts, ends = running_text(["Hello", ",", "world"])
    assert text == "Hello , world"
    assert [text[s:e] for s, e in zip(starts, ends, strict=True)] == ["Hello", ",", "world"]


def test_a_token_across_two_words_is_refused() -> None:
    """A tokenizer whose merges join ``t▁s`` cannot give that token one word."""
    from tokenizers import Tokenizer, models, normalizers
    from transformers import PreTrainedTokenizerFast

    chars = ["<unk>", "T", "h", "e", "\u2581", "c", "a", "t", "s", "."]
    vocab = {c: i for i, c in enumerate(chars)}
    vocab.update({"t\u2581": len(vocab), "t\u2581s": len(vocab) + 1})
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[("t", "\u2581"), ("t\u2581", "s")],
                               unk_token="<unk>"))
    tok.normalizer = normalizers.Replace(" ", "\u2581")
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>")
    with pytest.raises(ModelError, match="joins the words 'cat' and 'sat'"):
        tokenize_words(fast, [["The", "cat", "sat", "."]], 64)


def test_something_that_is_no_tokenizer_is_refused() -> None:
    with pytest.raises(ModelError, match="not a Hugging Face tokenizer"):
        tokenize_words(object(), [["a"]], 8)


IN_VOCABULARY = [c.split() for c in dict.fromkeys(CORPUS)] + [
    ["the", "mat", "sat", "!"], ["Hello", "dogs", ",", "cat", "ran", "on", "the", "mat"],
    ["A"], ["", "cat", "", "sat"], ["world", "!", "!", "The", "dog"]]
"""Sentences of the tokenizers' training characters only (an unknown character shifts the
offsets of the Llama-style test tokenizers, which drop it: there offsets are wrong)."""


@pytest.mark.parametrize("kind", FAST)
@pytest.mark.parametrize("max_length", [6, 9, 64])
def test_prefixes_align_exactly_as_offsets_on_fast_tokenizers(kind: str, max_length: int) -> None:
    tok = _build(kind)
    sentences = SENTENCES + IN_VOCABULARY
    assert tokenize_words_by_prefixes(tok, sentences, max_length) == \
        tokenize_words(tok, sentences, max_length)
    tok.truncation_side = "left"
    assert tokenize_words_by_prefixes(tok, sentences, max_length) == \
        tokenize_words(tok, sentences, max_length)


def test_byt5_words_own_their_bytes_and_the_eos_none() -> None:
    """A word owns its UTF-8 bytes and the spaces before it (an empty word owns none: its
    space goes to the next word); ``</s>`` is no word's; truncation keeps the first bytes."""
    from transformers import ByT5Tokenizer

    tok = ByT5Tokenizer()
    words = ["Die", "Katze", "schläft", "", "tief", "。", "🐈"]
    row = tokenize_words(tok, [words], 512)[0]
    spaces = [0, 1, 1, 1, 2, 1, 1]
    expected: list[int | None] = []
    for w, word in enumerate(words):
        if word:
            expected += [w] * (len(word.encode("utf-8")) + spaces[w])
    assert row.word_ids == [*expected, None]
    assert row.input_ids == list(tok(" ".join(words))["input_ids"])
    assert row.input_ids[-1] == tok.eos_token_id
    cut = tokenize_words(tok, [words], 10)[0]
    assert cut.word_ids == [*expected[:9], None] and cut.input_ids[:9] == row.input_ids[:9]
    # a word is read at its first byte, not at the space before it
    starts = word_positions(row.word_ids, row.tokens)
    assert [row.tokens[t] for t in (starts[0], starts[1])] == ["D", "K"]


def test_a_python_tokenizer_that_joins_words_is_refused() -> None:
    from transformers import ByT5Tokenizer

    class Joining(ByT5Tokenizer):  # type: ignore[misc]
        def _tokenize(self, text: str) -> list[str]:
            return ["t s" if t == "\x00" else t for t in super()._tokenize(
                text.replace("t s", "\x00"))]

    with pytest.raises(ModelError, match="joins the words 'cat' and 'sat'"):
        tokenize_words(Joining(), [["The", "cat", "sat", "."]], 64)


def test_raw_text_words_are_whitespace_separated_for_python_tokenizers() -> None:
    """``first_subword`` pooling's words for ByT5: runs of non-space; spaces before a word are
    its own, trailing ones nobody's."""
    from transformers import ByT5Tokenizer

    tok = ByT5Tokenizer()
    text = "  ab  c "
    enc = tok(text, return_special_tokens_mask=True)
    words, tokens = text_word_ids(tok, text, enc["input_ids"], enc["special_tokens_mask"])
    assert words == [0, 0, 0, 0, 1, 1, 1, None, None]
    assert tokens[:4] == [" ", " ", "a", "b"] and tokens[-1] == "</s>"


def test_e5_ids_are_those_of_split_words(e5_model_dir: Any) -> None:
    """For multilingual-e5 (SentencePiece, ``▁`` before every word) nothing changes: the
    fixture treebank's words get the ids, words and representative tokens of
    ``is_split_into_words``."""
    from crossling.data.conllu import iter_conllu
    from crossling.models.encoder import load_tokenizer
    from tests.conftest import FIXTURES

    tok = load_tokenizer(str(e5_model_dir))
    sentences = [list(s.words) for f in sorted((FIXTURES / "ud").rglob("*.conllu"))
                 for s in iter_conllu(f)]
    old = tok(sentences, is_split_into_words=True, truncation=True, max_length=64)
    new = tokenize_words(tok, sentences, 64)
    for b, row in enumerate(new):
        assert row.input_ids == old["input_ids"][b]
        assert row.word_ids == old.word_ids(b)
        assert word_positions(row.word_ids, row.tokens) == \
            word_positions(old.word_ids(b), old.tokens(b))


def _char_offsets(text: str, pieces: Any) -> list[tuple[int, int]]:
    """SentencePiece's byte offsets of ``pieces`` as character offsets of ``text``."""
    char_at = {}
    at = 0
    for i, c in enumerate(text):
        char_at[at] = i
        at += len(c.encode("utf-8"))
    char_at[at] = len(text)
    return [(char_at[p.begin], char_at[p.end]) for p in pieces]


def test_m2m100_words_align_as_sentencepiece_offsets(tiny_tokenizers: dict, fixture_dir: Any,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """M2M100's Python tokenizer gives every sub-token the word its character span in
    SentencePiece's own offsets falls in (fixture treebank sentences in three languages,
    unknown characters and an empty word included), and growing prefixes give the same; the
    code comes first, ``</s>`` last, and the ids are those of the running text."""
    from crossling.data.conllu import read_conllu
    from crossling.data.resolve import resolve_ud
    from crossling.models import words as words_module
    from crossling.models.words import _word_of_tokens
    from tests.models.tiny_families import m2m100_tokenizer

    tok = m2m100_tokenizer(tiny_tokenizers["bert"])
    sentences = [s.words for lang in ("en", "fr", "de")
                 for s in read_conllu(resolve_ud(fixture_dir / "ud", lang))]
    sentences += [["Привет", "мир", "!"], ["Die", "", "Katze", "龍", "schläft"]]
    rows = tokenize_words(tok, sentences, 512)
    for words, row in zip(sentences, rows, strict=True):
        text = running_text(words)[0]
        pieces = tok.sp_model.encode(text, out_type="proto").pieces
        offsets = _char_offsets(text, pieces)
        expected = _word_of_tokens(words, offsets, [False] * len(offsets))
        assert row.word_ids == [None, *expected, None]
        assert row.tokens[1:-1] == [p.piece for p in pieces]
        assert row.input_ids == list(tok(text)["input_ids"])
        assert row.input_ids[0] == tok.convert_tokens_to_ids("__en__")
        assert row.input_ids[-1] == tok.eos_token_id
    assert any(tok.unk_token_id in row.input_ids for row in rows)  # Cyrillic, Chinese: <unk>
    for max_length in (6, 512):
        by_offsets = tokenize_words(tok, sentences, max_length)
        with monkeypatch.context() as m:
            m.setattr(words_module, "_sentencepiece_words", lambda *a: None)
            assert tokenize_words(tok, sentences, max_length) == by_offsets
