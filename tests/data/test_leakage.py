"""Evaluation data used for training is refused: test splits as training data, shared
sentences."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from crossling.core.errors import ConfigError, DataError
from crossling.data.example import Example
from crossling.data.leakage import check_overlap, check_training_splits, split_of


@pytest.mark.parametrize(("name", "split"), [
    ("en_ewt-ud-test.conllu", "test"), ("en_ewt-ud-train.conllu", "train"),
    ("wikiann/en/val.conllu", "dev"), ("wikiann/en/test.conllu", "test"),
    ("uner/en_pud-ud-test.iob2", "test"), ("my_sentences.conllu", None),
    ("contest.conllu", None)])
def test_split_of_file_names(name: str, split: str | None) -> None:
    assert split_of(name) == split


def test_a_test_split_as_training_data_is_refused_unless_allowed(
        caplog: pytest.LogCaptureFixture) -> None:
    named = [("en_ewt", Path("en_ewt-ud-train.conllu")), ("x", Path("fr_pud-ud-test.conllu"))]
    with pytest.raises(ConfigError, match=r"^dev: 'x' is a test split \(fr_pud-ud-test"):
        check_training_splits("dev", named)
    with caplog.at_level(logging.WARNING):
        check_training_splits("dev", named, allow_test_training=True)
    assert "'x' is a test split" in caplog.text


def _ex(words: str, sid: str | None, path: str, line: int = 1) -> Example:
    return Example(tuple(words.split()), tuple("X" for _ in words.split()), (), sid, path, line)


def test_an_evaluated_training_sentence_is_refused_with_the_count_and_both_files() -> None:
    train = [_ex(f"train sentence number {i}", f"t{i}", "tr.conllu", i) for i in range(50)]
    test = [_ex(f"test sentence number {i}", f"s{i}", "te.conllu", 100 + i) for i in range(40)]
    check_overlap({"train": train}, {"fr": test})  # nothing shared
    shared = [*test, _ex("train sentence number 7", "t7", "te.conllu", 300),
              _ex("train sentence number 9", "t9", "te.conllu", 305)]
    with pytest.raises(DataError, match=r"^te\.conllu:300: 2 of 42 sentences of test set 'fr' "
                                        r"are train sentences \(same sent_id and words; first: "
                                        r"'t7', train at tr\.conllu:7\)"):
        check_overlap({"train": train}, {"fr": shared})
    # the same id with other words is another treebank's sentence, not a copy
    check_overlap({"train": train}, {"fr": [*test, _ex("other words", "t7", "te.conllu")]})


def test_a_copy_without_ids_is_refused_and_a_large_share_warned(
        caplog: pytest.LogCaptureFixture) -> None:
    train = [_ex(f"train sentence number {i}", None, "tr.iob2", i) for i in range(50)]
    copy = [_ex(f"train sentence number {i}", None, "te.iob2", i) for i in range(30)]
    with pytest.raises(DataError, match=r"30 of 30 sentences of test set 'en' \(te\.iob2\) are "
                                        r"word for word train sentences \(tr\.iob2\)"):
        check_overlap({"train": train}, {"en": copy})
    some = copy[:5] + [_ex(f"other {i}", None, "te.iob2") for i in range(25)]
    with caplog.at_level(logging.WARNING):
        check_overlap({"dev": train}, {"en": some})
    assert "5 of 30 sentences of test set 'en' (te.iob2) are word for word dev" in caplog.text
    caplog.clear()
    few = copy[:2] + [_ex(f"other {i}", None, "te.iob2") for i in range(28)]  # "Thank you ."
    with caplog.at_level(logging.WARNING):
        check_overlap({"train": train}, {"en": few})
    assert not caplog.text
