from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from crossling.errors import ModelError
from crossling.models.encoder import encode_words, load_encoder, transformer_layers


def test_load_tiny_models(tiny_model: Path) -> None:
    enc = load_encoder(str(tiny_model), device="cpu")
    assert enc.num_layers == 4
    assert not enc.model.training
    assert enc.tokenizer.is_fast


def test_first_subword_alignment(tiny_model: Path) -> None:
    enc = load_encoder(str(tiny_model), device="cpu")
    sents = [["Le", "chat", "dort", "profondément", "."], ["Hello", "世界"]]
    batch = encode_words(enc.tokenizer, sents)
    assert batch.first_subword.shape == (2, 5)
    assert batch.n_words == [5, 2]
    ids = batch.inputs["input_ids"]
    for b, words in enumerate(sents):
        for w, word in enumerate(words):
            t = int(batch.first_subword[b, w])
            assert t > 0, "every word keeps a sub-word"
            assert int(batch.word_index[b, t]) == w
            # the first sub-word of a word decodes to the start of that word
            piece = enc.tokenizer.convert_ids_to_tokens(int(ids[b, t]))
            piece = piece.replace("▁", "").replace("##", "")
            assert word.startswith(piece) or piece in ("", "[UNK]", "<unk>")
        assert (batch.first_subword[b, len(words):] == -1).all()
    # special tokens and padding belong to no word
    assert int(batch.word_index[0, 0]) == -1


def test_truncated_words_are_marked(tiny_bert: Path) -> None:
    enc = load_encoder(str(tiny_bert), device="cpu")
    words = ["word"] * 50
    batch = encode_words(enc.tokenizer, [words], max_length=12)
    kept = int((batch.first_subword[0] >= 0).sum())
    assert 0 < kept < 50
    assert (batch.first_subword[0, kept:] == -1).all()


def test_model_without_encoder_layers_is_rejected() -> None:
    class NotAnEncoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(2, 2)

    with pytest.raises(ModelError, match=r"has no encoder\.layer"):
        transformer_layers(NotAnEncoder())
    assert torch.is_tensor(NotAnEncoder().lin.weight)
