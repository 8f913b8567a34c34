"""Encoded-set cache: batches equal encode_words'; disk hits and misses follow tokenizer+data."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import crossling.training.encoded as encoded
from crossling.data.conllu import read_conllu
from crossling.data.example import examples_from_ud
from crossling.data.resolve import resolve_ud
from crossling.models.encoder import encode_words, load_tokenizer
from crossling.models.vocab import kept_ids
from crossling.training.encoded import EncodedTokenizer, encode_batch, encoded_lengths
from crossling.training.loop import subword_lengths


def _sentences(ud_dir: Path, lang: str, n: int) -> list[tuple[str, ...]]:
    return [s.words for s in read_conllu(resolve_ud(ud_dir, lang), limit=n)]


def _equal(a: object, b: object) -> None:
    assert a.inputs.keys() == b.inputs.keys()  # type: ignore[attr-defined]
    for k in a.inputs:  # type: ignore[attr-defined]
        assert torch.equal(a.inputs[k], b.inputs[k]), k  # type: ignore[attr-defined]
    assert torch.equal(a.first_subword, b.first_subword)  # type: ignore[attr-defined]
    assert torch.equal(a.word_index, b.word_index)  # type: ignore[attr-defined]
    assert a.n_words == b.n_words  # type: ignore[attr-defined]


@pytest.mark.parametrize("max_length", [12, 64])
def test_batches_equal_encode_words(tiny_model: Path, ud_dir: Path, max_length: int) -> None:
    """Padding, truncation (12) and SentencePiece's bare boundary marker (zh) included."""
    tok = load_tokenizer(str(tiny_model))
    sents = _sentences(ud_dir, "en", 20) + _sentences(ud_dir, "zh", 12)
    cached = EncodedTokenizer(tok, max_length)
    cached.add(sents)
    for start in range(0, len(sents), 7):
        batch = sents[start:start + 7]
        _equal(encode_batch(cached, batch, max_length), encode_words(tok, batch, max_length))
    assert encoded_lengths(cached, sents, max_length) == [
        min(n, max_length) for n in (len(tok(list(s), is_split_into_words=True)["input_ids"])
                                     for s in sents)]
    # not stored (another sentence, another max length): tokenised as before
    other = _sentences(ud_dir, "fr", 3)
    _equal(encode_batch(cached, other, max_length), encode_words(tok, other, max_length))
    assert encoded_lengths(cached, other, max_length) is None
    assert encoded_lengths(cached, sents, max_length + 1) is None
    assert kept_ids(cached, sents, max_length).tolist() == kept_ids(tok, sents,
                                                                    max_length).tolist()


def test_training_lengths_come_from_the_store(tiny_bert: Path, ud_dir: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    tok = load_tokenizer(str(tiny_bert))
    examples = examples_from_ud(read_conllu(resolve_ud(ud_dir, "en"), limit=10), "pos")
    cached = EncodedTokenizer(tok, 64)
    cached.add([ex.words for ex in examples])
    expected = subword_lengths(tok, examples, 64)
    monkeypatch.setattr(cached, "tokenizer", None)  # any tokenisation now fails
    assert subword_lengths(cached, examples, 64) == expected


def test_disk_cache_hits_and_misses(tiny_tokenizers: dict, ud_dir: Path, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    src = resolve_ud(ud_dir, "fr")
    sents = _sentences(ud_dir, "fr", 30)
    tok = tiny_tokenizers["xlmr"]
    first = EncodedTokenizer(tok, 64, tmp_path)
    first.add(sents)
    assert (first.hits, first.misses) == (0, 1)
    assert len(list(tmp_path.glob("*.json"))) == 1
    reference = encode_batch(first, sents[:5], 64)

    real_encode = encoded._encode
    calls: list[int] = []

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        return real_encode(*args, **kwargs)

    monkeypatch.setattr(encoded, "_encode", counting)
    again = EncodedTokenizer(tok, 64, tmp_path)
    again.add(sents)  # same tokenizer, same data: a hit, no tokenisation
    assert (again.hits, again.misses, calls) == (1, 0, [])
    _equal(encode_batch(again, sents[:5], 64), reference)

    # the same file with one word changed: another key
    lines = src.read_text(encoding="utf-8").splitlines()
    i = next(i for i, ln in enumerate(lines) if ln and ln[0].isdigit())
    cols = lines[i].split("\t")
    cols[1] = cols[1] + "x"
    lines[i] = "\t".join(cols)
    changed = tmp_path / "changed" / src.name
    changed.parent.mkdir()
    changed.write_text("\n".join(lines) + "\n", encoding="utf-8")
    edited = [s.words for s in read_conllu(changed, limit=30)]
    assert edited != sents
    for tokenizer, max_length, data in [(tok, 64, edited), (tiny_tokenizers["bert"], 64, sents),
                                        (tok, 32, sents)]:
        other = EncodedTokenizer(tokenizer, max_length, tmp_path)
        other.add(data)
        assert (other.hits, other.misses) == (0, 1)
    assert len(calls) == 3 and len(list(tmp_path.glob("*.json"))) == 4


def test_unreadable_cache_file_is_re_encoded(tiny_tokenizers: dict, ud_dir: Path,
                                             tmp_path: Path) -> None:
    sents = _sentences(ud_dir, "de", 8)
    tok = tiny_tokenizers["bert"]
    first = EncodedTokenizer(tok, 64, tmp_path)
    first.add(sents)
    path = next(tmp_path.glob("*.json"))
    path.write_text("[[1, 2", encoding="utf-8")  # truncated by hand
    again = EncodedTokenizer(tok, 64, tmp_path)
    again.add(sents)
    assert (again.hits, again.misses) == (0, 1)
    _equal(encode_batch(again, sents, 64), encode_words(tok, sents, 64))


def test_fingerprint_ignores_call_settings_not_content(tiny_tokenizers: dict) -> None:
    """A call with truncation changes the backend's serialised state, not the fingerprint."""
    tok = tiny_tokenizers["bert"]
    before = encoded.tokenizer_fingerprint(tok)
    tok([["a", "b"]], is_split_into_words=True, truncation=True, max_length=7, padding=True)
    assert encoded.tokenizer_fingerprint(tok) == before
    assert encoded.tokenizer_fingerprint(tiny_tokenizers["xlmr"]) != before


def test_flipped_digit_in_cache_file_is_re_encoded(tiny_tokenizers: dict, ud_dir: Path,
                                                   tmp_path: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    """A changed id that still parses is caught by the checksum, not used as the sentence's
    tokens: the set is encoded again, with a warning naming the file."""
    sents = _sentences(ud_dir, "de", 8)
    tok = tiny_tokenizers["bert"]
    EncodedTokenizer(tok, 64, tmp_path).add(sents)
    path = next(tmp_path.glob("*.json"))
    text = path.read_text(encoding="utf-8")
    i = text.index("[[[") + 3  # the first sentence's first input id
    path.write_text(text[:i] + ("7" if text[i] != "7" else "8") + text[i + 1:],
                    encoding="utf-8")
    with caplog.at_level("WARNING"):
        again = EncodedTokenizer(tok, 64, tmp_path)
        again.add(sents)
    assert (again.hits, again.misses) == (0, 1)
    assert any(str(path) in r.getMessage() for r in caplog.records)
    _equal(encode_batch(again, sents, 64), encode_words(tok, sents, 64))
