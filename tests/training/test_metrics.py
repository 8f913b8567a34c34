from __future__ import annotations

import pytest
from seqeval.metrics import f1_score

from crossling.training.metrics import accuracy, attachment_scores, bootstrap_ratio, span_f1


def test_las_uas_on_hand_computed_trees() -> None:
    # Sentence 1: 4 words; sentence 2: 3 words.
    gold_heads = [[2, 0, 2, 3], [0, 1, 1]]
    gold_rels = [["nsubj", "root", "obj", "nmod:poss"], ["root", "obj", "punct"]]
    pred_heads = [[2, 0, 2, 2], [0, 1, 2]]
    pred_rels = [["nsubj", "root", "iobj", "nmod"], ["root", "obj", "punct"]]
    s = attachment_scores(gold_heads, gold_rels, pred_heads, pred_rels)
    # heads right: s1 words 1,2,3 (3/4); s2 words 1,2 (2/3) -> UAS 5/7
    assert s["uas"].value == pytest.approx(100 * 5 / 7)
    # labels right among those: s1 words 1,2 (obj vs iobj wrong); word 4 head wrong;
    # s2 words 1,2 -> LAS 4/7. nmod:poss vs nmod would count (universal part) had the head
    # been right:
    assert s["las"].value == pytest.approx(100 * 4 / 7)
    assert s["las"].n_sentences == 2 and s["las"].n_units == 7
    subtype = attachment_scores([[0, 1]], [["root", "nmod:poss"]], [[0, 1]], [["root", "nmod"]])
    assert subtype["las"].value == 100.0


def test_accuracy_and_length_checks() -> None:
    s = accuracy([["DET", "NOUN"], ["VERB"]], [["DET", "VERB"], ["VERB"]])
    assert s.value == pytest.approx(200 / 3) and s.n_units == 3
    with pytest.raises(ValueError):
        accuracy([["DET"]], [["DET", "NOUN"]])


def test_span_f1_matches_seqeval_and_hand_count() -> None:
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-ORG", "I-ORG"], ["O", "O"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG"], ["O", "B-ORG", "O"], ["B-LOC", "O"]]
    s = span_f1(gold, pred)
    # gold entities 3, predicted 4, exact matches 1 (PER) -> F1 = 2/7
    assert s["span_f1"].value == pytest.approx(100 * 2 / 7)
    assert s["span_f1"].value == pytest.approx(100 * f1_score(gold, pred))
    assert s["span_precision"].value == pytest.approx(25.0)
    assert s["span_recall"].value == pytest.approx(100 / 3)


def test_default_chunking_accepts_i_after_o() -> None:
    """conlleval semantics: I-LOC after O opens an entity (strict IOB2 would drop it)."""
    gold = [["O", "B-LOC", "I-LOC"]]
    pred = [["O", "I-LOC", "I-LOC"]]
    assert span_f1(gold, pred)["span_f1"].value == 100.0


def test_bootstrap_ci_contains_value_is_deterministic_and_narrows() -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    small_num = rng.integers(0, 10, 30).astype(float)
    small_den = np.full(30, 10.0)
    big_num = rng.integers(0, 10, 3000).astype(float)
    big_den = np.full(3000, 10.0)
    v, lo, hi = bootstrap_ratio(small_num, small_den, seed=1)
    assert lo <= v <= hi
    assert (v, lo, hi) == bootstrap_ratio(small_num, small_den, seed=1)
    _, blo, bhi = bootstrap_ratio(big_num, big_den, seed=1)
    assert bhi - blo < (hi - lo) / 3
