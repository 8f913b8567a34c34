"""Task heads: words are read at their first sub-word; scores do not depend on batch padding."""

from __future__ import annotations

from pathlib import Path

import torch

from crossling.models.encoder import encode_words, load_encoder
from crossling.models.heads import BiaffineParser, TokenTagger, gather_words

SENTS = [["The", "unbelievably", "long", "sentence", "ends", "."], ["Short", "one"]]


def test_gather_words_picks_first_subwords_and_zeros_missing_words() -> None:
    hidden = torch.arange(2 * 5 * 3, dtype=torch.float).reshape(2, 5, 3)
    first = torch.tensor([[1, 3, 4], [2, -1, -1]])
    words = gather_words(hidden, first)
    assert torch.equal(words[0], hidden[0, [1, 3, 4]])
    assert torch.equal(words[1, 0], hidden[1, 2])
    assert torch.count_nonzero(words[1, 1:]) == 0


def test_tagger_and_parser_shapes_and_padding_invariance(tiny_model: Path) -> None:
    enc = load_encoder(str(tiny_model), device="cpu")
    torch.manual_seed(0)
    tagger, parser = TokenTagger(enc.model, 5).eval(), BiaffineParser(enc.model, 7).eval()
    batch = encode_words(enc.tokenizer, SENTS)
    alone = encode_words(enc.tokenizer, SENTS[1:])
    assert batch.inputs["input_ids"].shape[1] > alone.inputs["input_ids"].shape[1]  # padded
    with torch.inference_mode():
        logits = tagger(batch.inputs, batch.first_subword)
        logits_alone = tagger(alone.inputs, alone.first_subword)
        arc, rel_dep, rel_head = parser(batch.inputs, batch.first_subword)
        arc_alone, _, _ = parser(alone.inputs, alone.first_subword)
        rels = parser.relations(rel_dep, rel_head, arc.argmax(-1))
    assert logits.shape == (2, 6, 5) and arc.shape == (2, 6, 7) and rels.shape == (2, 6, 7)
    # the short sentence scores the same whether or not a longer one pads its batch
    torch.testing.assert_close(logits[1, :2], logits_alone[0], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(arc[1, :2, :3], arc_alone[0], atol=1e-4, rtol=1e-4)


def test_parser_root_node_is_the_first_token(tiny_bert: Path) -> None:
    enc = load_encoder(str(tiny_bert), device="cpu")
    parser = BiaffineParser(enc.model, 3).eval()
    batch = encode_words(enc.tokenizer, SENTS[:1])
    with torch.inference_mode():
        words, nodes = parser.nodes(batch.inputs, batch.first_subword)
        hidden = enc.model(**batch.inputs).last_hidden_state
    torch.testing.assert_close(nodes[:, 0], hidden[:, 0])
    torch.testing.assert_close(nodes[:, 1:], words)
