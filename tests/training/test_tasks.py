from __future__ import annotations

from pathlib import Path

import pytest
import torch

from crossling.core.errors import ConfigError
from crossling.data.conllu import read_conllu
from crossling.data.example import examples_from_ud
from crossling.models.encoder import load_encoder
from crossling.training.decode import is_tree
from crossling.training.tasks import TASKS, get_task


def test_the_registry_holds_each_task_under_its_own_name() -> None:
    """Adding a task is one module and one TASKS record: the loop needs nothing else."""
    assert set(TASKS) == {"pos", "parsing", "ner"}
    for name, task in TASKS.items():
        assert task.name == name and task.main_metric and get_task(name) is task
    with pytest.raises(ConfigError, match=r"^unknown task 'srl' \(available: pos, parsing, ner\)"):
        get_task("srl")


@pytest.fixture(scope="module")
def pud_examples(ud_dir: Path) -> list:  # type: ignore[type-arg]
    return read_conllu(ud_dir / "UD_English-PUD" / "en_pud-ud-test.conllu", limit=8)


@pytest.mark.slow
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


@pytest.mark.slow
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


def _fixture_examples(fixture_dir: Path, task: str) -> list:  # type: ignore[type-arg]
    return examples_from_ud(read_conllu(fixture_dir / "ud" / "UD_English-Fixture" /
                                        "en_fixture-ud-test.conllu"), task)


@pytest.mark.parametrize("invisible", ["\u200b", "\u00ad"])
def test_unseen_word_never_shifts_the_others(fixture_bert: Path, fixture_dir: Path,
                                             invisible: str) -> None:
    """A word the tokenizer deletes (U+200B, U+00AD: BERT's normaliser strips them) is unseen.

    Parser and tagger predict every other word exactly as for the sentence without that word
    (heads renumbered), decode the tree over the seen words only, and count the unseen word
    (and a word whose gold head is the unseen word) as an error.
    """
    from crossling.data.example import Example
    from crossling.training.tasks.base import MISSING

    enc = load_encoder(str(fixture_bert), device="cpu")
    assert enc.tokenizer([invisible], is_split_into_words=True).word_ids() == [None, None]
    base = _fixture_examples(fixture_dir, "parsing")[4]  # The children play in the garden .
    assert base.words[2:4] == ("play", "in")
    k = 3  # the invisible word goes before "in"; it is the gold head of "in"

    def shift(h: int) -> int:
        return h + 1 if h > k else h

    heads = [shift(h) for h in base.heads]
    heads[k] = k + 1  # "in" hangs from the invisible word in gold
    with_word = Example((*base.words[:k], invisible, *base.words[k:]),
                        (*base.labels[:k], "dep", *base.labels[k:]),
                        (*heads[:k], 3, *heads[k:]))
    torch.manual_seed(0)
    parsing = get_task("parsing")
    labels = parsing.labels_from([base, with_word])
    model = parsing.build_model(enc.model, labels).eval()
    batch = parsing.collate(enc.tokenizer, [base, with_word], labels, 128)
    assert int(batch.heads[1, k]) == -100 and int(batch.heads[1, k + 1]) == -100  # not in loss
    with torch.inference_mode():
        (b_heads, b_rels), (w_heads, w_rels) = parsing.predict(model, batch, labels)
    assert is_tree(b_heads)
    assert w_heads == [shift(h) for h in b_heads[:k]] + [-1] + [shift(h) for h in b_heads[k:]]
    assert w_rels == [*b_rels[:k], MISSING, *b_rels[k:]]
    scores = parsing.score([with_word], [(w_heads, w_rels)])
    assert scores["uas"].n_units == len(with_word.words)
    assert scores["uas"].value <= 100 * (len(with_word.words) - 2) / len(with_word.words)

    pos = get_task("pos")
    tags = [Example(base.words, ("X",) * len(base.words)),
            Example(with_word.words, ("X",) * len(with_word.words))]
    plabels = ["ADJ", "NOUN", "VERB", "X"]
    torch.manual_seed(0)
    tagger = pos.build_model(enc.model, plabels).eval()
    with torch.inference_mode():
        b_tags, w_tags = pos.predict(tagger, pos.collate(enc.tokenizer, tags, plabels, 128),
                                     plabels)
    assert w_tags == [*b_tags[:k], MISSING, *b_tags[k:]]


def test_parsing_collate_leaves_missing_heads_out_of_the_loss(fixture_bert: Path,
                                                              fixture_dir: Path) -> None:
    """A HEAD ``_`` (-1) used to index word -2 (Python's negative indexing) and crash the loss."""
    from crossling.data.example import Example

    ex = _fixture_examples(fixture_dir, "parsing")[0]  # The cat sleeps .
    broken = Example(ex.words, ex.labels, (2, -1, 0, 3))
    task = get_task("parsing")
    enc = load_encoder(str(fixture_bert), device="cpu")
    labels = task.labels_from([ex])
    batch = task.collate(enc.tokenizer, [broken], labels, 128)
    assert batch.heads[0].tolist()[:4] == [2, -100, 0, 3]
    assert batch.labels[0, 1] == -100
    model = task.build_model(enc.model, labels)
    assert torch.isfinite(task.loss(model, batch))


def test_parsing_label_check_compares_what_las_compares() -> None:
    """LAS strips subtypes, so nmod:poss is scorable when training has nmod (or nmod:tmod)."""
    from crossling.data.example import Example

    parsing, pos, ner = get_task("parsing"), get_task("pos"), get_task("ner")
    train = [Example(("a", "b", "c"), ("root", "nmod:tmod", "obl"), (0, 1, 1))]
    target = [Example(("a", "b", "c", "d"), ("root", "nmod:poss", "obl:arg", "flat:name"),
                      (0, 1, 1, 3))]
    assert parsing.check_labels(target, parsing.labels_from(train)) == ["flat:name"]
    # one implementation for every task; tags compare whole (an unseen I-X cannot be produced)
    assert type(parsing).check_labels is type(pos).check_labels is type(ner).check_labels
    assert pos.check_labels(target, pos.labels_from(train)) == ["flat:name", "nmod:poss",
                                                                "obl:arg"]
