from __future__ import annotations

from pathlib import Path

import pytest
import torch

from crossling.data.conllu import read_conllu
from crossling.data.example import examples_from_ud
from crossling.models.encoder import load_encoder
from crossling.training.decode import is_tree
from crossling.training.tasks import get_task


@pytest.fixture(scope="module")
def pud_examples(ud_dir: Path) -> list:  # type: ignore[type-arg]
    return read_conllu(ud_dir / "UD_English-PUD" / "en_pud-ud-test.conllu", limit=8)


def test_tagger_overfits_eight_sentences(tiny_bert: Path, pud_examples: list) -> None:  # type: ignore[type-arg]
    """Reaching 100% proves labels sit on the right sub-words and the loss reaches them."""
    torch.manual_seed(0)
    task = get_task("pos")
    enc = load_encoder(str(tiny_bert), device="cpu")
    train = examples_from_ud(pud_examples, "pos")
    labels = task.labels_from(train)
    model = task.build_model(enc.model, labels)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    batch = task.collate(enc.tokenizer, train, labels, 128)
    model.train()
    for _ in range(150):
        loss = task.loss(model, batch)
        loss.backward()
        opt.step()
        opt.zero_grad()
    model.eval()
    with torch.inference_mode():
        preds = task.predict(model, batch, labels)
    assert task.score(train, preds)["upos_acc"].value == 100.0


def test_parser_predicts_trees_and_learns(tiny_xlmr: Path, pud_examples: list) -> None:  # type: ignore[type-arg]
    torch.manual_seed(0)
    task = get_task("parsing")
    enc = load_encoder(str(tiny_xlmr), device="cpu")
    train = examples_from_ud(pud_examples, "parsing")
    labels = task.labels_from(train)
    model = task.build_model(enc.model, labels)
    batch = task.collate(enc.tokenizer, train, labels, 128)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3)
    first = None
    for _ in range(60):
        loss = task.loss(model, batch)
        first = first if first is not None else float(loss.detach())
        loss.backward()
        opt.step()
        opt.zero_grad()
    assert float(loss.detach()) < 0.5 * first
    model.eval()
    with torch.inference_mode():
        preds = task.predict(model, batch, labels)
    for ex, (heads, rels) in zip(train, preds, strict=True):
        assert len(heads) == len(rels) == len(ex.words)
        assert is_tree(heads)
    scores = task.score(train, preds)
    assert scores["uas"].value > 60 and scores["las"].value <= scores["uas"].value


def test_truncated_words_count_as_errors(tiny_bert: Path, pud_examples: list) -> None:  # type: ignore[type-arg]
    task = get_task("pos")
    enc = load_encoder(str(tiny_bert), device="cpu")
    train = examples_from_ud(pud_examples[:2], "pos")
    labels = task.labels_from(train)
    model = task.build_model(enc.model, labels).eval()
    batch = task.collate(enc.tokenizer, train, labels, max_length=8)
    with torch.inference_mode():
        preds = task.predict(model, batch, labels)
    assert [len(p) for p in preds] == [len(e.words) for e in train]
    assert preds[0][-1] == "_"  # beyond 8 sub-words: never equals a gold tag


def test_unknown_labels_are_reported() -> None:
    from crossling.data.example import Example

    task = get_task("ner")
    train = [Example(("a", "b"), ("B-PER", "O"))]
    target = [Example(("c",), ("B-MISC",))]
    assert task.check_labels(target, task.labels_from(train)) == ["B-MISC"]
