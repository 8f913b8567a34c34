"""Word vectors: the representative sub-word's hidden states, and their checksummed cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from crossling.models.encoder import encode_words, load_encoder
from crossling.probing.vectors import Extraction, extract_word_vectors, word_vectors_cached


def test_word_vectors_are_the_representative_subword_states(tiny_model: Path) -> None:
    """Each word's vector is the hidden state at encode_words' first_subword (the sub-word
    fine-tuning labels; a bare '▁' is skipped), whatever order the length batches take."""
    enc = load_encoder(str(tiny_model), device="cpu")
    sentences = [["The", "cat", "sat", "."], ["Ein", "Haus", "."],
                 ["中文", "句子", "很", "长", "。"], ["x"] * 30]
    vectors = extract_word_vectors(enc, sentences, Extraction(batch_tokens=40), progress=False)
    assert vectors.n_words == (4, 3, 5, 30) and bool(vectors.valid.all())
    batch = encode_words(enc.tokenizer, sentences)
    with torch.inference_mode():
        states = enc.model(**batch.inputs, output_hidden_states=True).hidden_states
    assert vectors.n_states == len(states) == enc.num_layers + 1
    offset = 0
    for b, n in enumerate(vectors.n_words):
        for w in range(n):
            for k in (0, len(states) - 1):
                want = states[k][b, batch.first_subword[b, w]]
                assert torch.allclose(vectors.layer(k)[offset + w], want, atol=2e-2), (b, w, k)
        offset += n


def test_truncated_words_have_no_vector(tiny_bert: Path) -> None:
    enc = load_encoder(str(tiny_bert), device="cpu")
    vectors = extract_word_vectors(enc, [["the"] * 20], Extraction(max_length=8),
                                   progress=False)
    assert vectors.valid.tolist() == [True] * 6 + [False] * 14  # [CLS] + 6 words + [SEP]
    assert not vectors.layer(1)[6:].any()


def test_word_vector_cache_is_reused_not_recomputed(tiny_bert: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    enc = load_encoder(str(tiny_bert), device="cpu")
    sentences = [["A", "small", "test", "."], ["Another", "one"]]
    first = word_vectors_cached(enc, sentences, tmp_path, progress=False)
    assert first.path is not None and first.path.is_file() and first.memory is None
    def boom(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("re-extracted")

    monkeypatch.setattr(enc.model, "forward", boom)
    again = word_vectors_cached(enc, sentences, tmp_path, progress=False)
    assert again.path == first.path and torch.equal(again.layer(2), first.layer(2))
    assert again.layer(2).dtype == torch.float32
    other = tmp_path / "other"  # other sentences: another key, so extraction runs
    with pytest.raises(RuntimeError, match="re-extracted"):
        word_vectors_cached(enc, [["Something", "else"]], other, progress=False)


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_damaged_word_vector_cache_is_re_extracted(tiny_bert: Path, tmp_path: Path, damage: str,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    """A flipped bit in a cached layer (or a truncated file) is caught by the checksum: the set
    is extracted again, equal to a fresh extraction, with a warning naming the file."""
    enc = load_encoder(str(tiny_bert), device="cpu")
    sentences = [["A", "small", "test", "."], ["Another", "one"]]
    fresh = extract_word_vectors(enc, sentences, progress=False)
    first = word_vectors_cached(enc, sentences, tmp_path, progress=False)
    assert first.path is not None
    raw = bytearray(first.path.read_bytes())
    if damage == "flip":
        raw[-5] ^= 0x40
    else:
        raw = raw[:-64]
    first.path.write_bytes(bytes(raw))
    with caplog.at_level("WARNING"):
        again = word_vectors_cached(enc, sentences, tmp_path, progress=False)
    assert any(str(first.path) in r.getMessage() for r in caplog.records)
    for k in range(fresh.n_states):
        assert torch.equal(again.layer(k), fresh.layer(k)), k


def test_a_layer_subset_caches_and_holds_only_those_layers(tiny_bert: Path,
                                                          tmp_path: Path) -> None:
    from safetensors import safe_open

    enc = load_encoder(str(tiny_bert), device="cpu")
    sentences = [["Le", "chat", "dort", "."], ["Hello", "world"]]
    full = extract_word_vectors(enc, sentences, progress=False)
    some = word_vectors_cached(enc, sentences, tmp_path, Extraction(layers=(3, 1)),
                               progress=False)
    assert some.held == (3, 1) and some.path is not None
    with safe_open(str(some.path), framework="pt") as fh:
        names = fh.keys()
    assert {k for k in names if k.startswith("layer_")} == {"layer_1", "layer_3"}
    for k in (1, 3):
        torch.testing.assert_close(some.layer(k), full.layer(k), atol=0, rtol=0)
    with pytest.raises(IndexError, match="not extracted"):
        some.layer(2)
    memory = extract_word_vectors(enc, sentences, Extraction(layers=(2,)), progress=False)
    assert memory.memory is not None and memory.memory.shape[0] == 1
    torch.testing.assert_close(memory.layer(2), full.layer(2), atol=0, rtol=0)
