from __future__ import annotations

from pathlib import Path

import pytest
from seqeval.metrics import f1_score

from crossling.data.conllu import read_conllu
from crossling.training.metrics import (
    accuracy,
    attachment_scores,
    bootstrap_ratio,
    span_counts,
    span_f1,
)


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


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_no_predicted_entity_scores_zero_not_nan() -> None:
    """seqeval's convention (zero_division='warn' acts as 0): nothing predicted -> 0, not NaN.

    A NaN precision (or F1 on a set without gold entities) dropped a seed out of a mean.
    """
    from seqeval.metrics import precision_score, recall_score

    gold = [["B-PER", "I-PER", "O"], ["O", "B-LOC"]]
    nothing = [["O", "O", "O"], ["O", "O"]]
    s = span_f1(gold, nothing)
    for name, ref in (("span_f1", f1_score), ("span_precision", precision_score),
                      ("span_recall", recall_score)):
        assert s[name].value == 0.0 == 100 * ref(gold, nothing)
        assert (s[name].ci_low, s[name].ci_high) == (0.0, 0.0)
    empty = span_f1([["O"], ["O", "O"]], [["O"], ["O", "O"]])  # no gold, no predicted entity
    assert all(empty[k].value == 0.0 for k in empty)
    # resamples with a zero denominator count as 0 instead of being dropped
    mixed = span_f1([["B-PER"], ["O"]], [["O"], ["B-LOC"]])
    assert mixed["span_precision"].value == 0.0 and mixed["span_f1"].ci_high == 0.0


def _perturb_conllu(src: Path, dst: Path, seed: int) -> None:
    """A "prediction" for ``src``: ~25% of heads and ~25% of relations changed, fixed seed.

    New heads keep the graph acyclic (udapi refuses cycles when it reads a file); relations are
    drawn from the file's own inventory, subtyped ones included, so subtype stripping matters.
    """
    import random

    import conllu

    rng = random.Random(seed)
    sentences = conllu.parse(src.read_text(encoding="utf-8"))
    inventory = sorted({t["deprel"] for s in sentences for t in s if isinstance(t["id"], int)})
    for sent in sentences:
        words = [t for t in sent if isinstance(t["id"], int)]
        heads = {t["id"]: t["head"] for t in words}
        for tok in words:
            if rng.random() < 0.25:
                cand = rng.randint(0, len(words))
                node, ok = cand, cand != tok["id"]
                while ok and node != 0:  # would tok become its own ancestor?
                    ok = node != tok["id"]
                    node = heads[node]
                if ok:
                    heads[tok["id"]] = tok["head"] = cand
            if rng.random() < 0.25:
                tok["deprel"] = rng.choice(inventory)
    dst.write_text("".join(s.serialize() for s in sentences), encoding="utf-8")


@pytest.mark.parametrize("lang", ["English", "French", "German"])
def test_attachment_scores_equal_udapi(ud_dir: Path, tmp_path: Path, lang: str) -> None:
    """crossling's UAS/LAS counts equal udapi's ``eval.Parsing`` on PUD vs a perturbed copy.

    Like for like: udapi's block counts every node (punctuation included, empty nodes excluded,
    multi-word tokens split into their words), as crossling does; its ``correct_ulas`` compares
    the universal relation (``udeprel``), which is crossling's LAS, while its ``correct_las``
    compares full relations, so that one is checked against crossling with subtypes kept.
    French and German PUD have hundreds of multi-word tokens (``au``, ``zum``).
    """
    from udapi.block.eval.parsing import Parsing
    from udapi.core.document import Document

    gold_path = next((ud_dir / f"UD_{lang}-PUD").glob("*-ud-test.conllu"))
    pred_path = tmp_path / "pred.conllu"
    _perturb_conllu(gold_path, pred_path, seed=7)
    gold, pred = read_conllu(gold_path), read_conllu(pred_path)
    if lang != "English":
        assert sum(len(s.multiword) for s in gold) > 100
    ours = attachment_scores([s.heads for s in gold], [s.deprels for s in gold],
                             [s.heads for s in pred], [s.deprels for s in pred])
    gdoc, pdoc = Document(str(gold_path)), Document(str(pred_path))
    block = Parsing(gold_zone="")
    for gb, pb in zip(gdoc.bundles, pdoc.bundles, strict=True):
        root = pb.get_tree()
        root._zone = "pred"
        gb.add_tree(root)
        for tree in gb.trees:
            block.process_tree(tree)
    n = sum(len(s) for s in gold)
    assert block.total == n == ours["uas"].n_units == ours["las"].n_units
    assert 0 < block.correct_ulas < block.correct_uas < n  # the perturbation bites
    assert round(ours["uas"].value * n / 100) == block.correct_uas
    assert round(ours["las"].value * n / 100) == block.correct_ulas
    assert ours["uas"].value == pytest.approx(100 * block.correct_uas / n, abs=1e-9)
    assert ours["las"].value == pytest.approx(100 * block.correct_ulas / n, abs=1e-9)
    full = sum(gh == ph and gr == pr for g, p in zip(gold, pred, strict=True)
               for gh, gr, ph, pr in zip(g.heads, g.deprels, p.heads, p.deprels, strict=True))
    assert full == block.correct_las < block.correct_ulas  # subtypes do differ here


def _perturb_tags(gold: list[tuple[str, ...]], seed: int) -> list[list[str]]:
    """Predictions: ~15% of tags replaced by a random tag of the gold inventory (incl. I-X
    after O, which seqeval's default chunking opens as an entity), fixed seed."""
    import random

    rng = random.Random(seed)
    inventory = sorted({t for g in gold for t in g})
    return [[rng.choice(inventory) if rng.random() < 0.15 else t for t in g] for g in gold]


@pytest.mark.filterwarnings("ignore::UserWarning")  # seqeval: a sentence without entities
@pytest.mark.parametrize("spec", ["en", "de:dev", "de_pud", "en_ewt:dev"])
def test_span_f1_and_counts_equal_seqeval(data_dir: Path, spec: str) -> None:
    """Span P/R/F1 equal ``seqeval.metrics`` (default mode) on WikiANN and Universal NER, and the
    per-sentence counts behind the bootstrap sum to seqeval's own counts."""
    from seqeval.metrics import precision_score, recall_score
    from seqeval.metrics.sequence_labeling import precision_recall_fscore_support

    from crossling.data.ner import read_iob2, resolve_ner

    name, _, split = spec.partition(":")
    gold = [ex.labels for ex in read_iob2(resolve_ner(data_dir / "ner", name, split or "test"))]
    gold = gold[:3000]
    pred = _perturb_tags(gold, seed=3)
    ours = span_f1(gold, pred)
    g, p = [list(x) for x in gold], pred
    assert ours["span_f1"].value == pytest.approx(100 * f1_score(g, p), abs=1e-9)
    assert ours["span_precision"].value == pytest.approx(100 * precision_score(g, p), abs=1e-9)
    assert ours["span_recall"].value == pytest.approx(100 * recall_score(g, p), abs=1e-9)
    # The per-sentence counts the bootstrap resamples: each sentence's (tp, predicted, gold)
    # equals seqeval's counts for that sentence alone (support = gold, tp = recall * support,
    # predicted = tp / precision), and they sum to seqeval's corpus counts.
    tp, n_pred, n_gold = span_counts(gold, pred)
    for i in range(0, len(gold), 37):
        prec, rec, _, support = precision_recall_fscore_support([g[i]], [p[i]], average="micro")
        assert n_gold[i] == support and tp[i] == round(rec * support)
        if prec > 0:
            assert n_pred[i] == round(tp[i] / prec)
        else:
            assert tp[i] == 0
    prec, rec, _, support = precision_recall_fscore_support(g, p, average="micro")
    assert n_gold.sum() == support == ours["span_recall"].n_units
    assert tp.sum() == round(rec * support) and n_pred.sum() == round(tp.sum() / prec)


def test_every_score_keeps_the_per_sentence_counts_it_is_the_ratio_of() -> None:
    """The counts re-aggregate to the value exactly: what a shared-draw interval resamples."""
    gold = [["DET", "NOUN"], ["VERB"], ["X", "X", "X"]]
    pred = [["DET", "VERB"], ["VERB"], ["X", "Y", "X"]]
    acc = accuracy(gold, pred)
    assert acc.sentences is not None
    assert acc.sentences.num == (1.0, 1.0, 2.0) and acc.sentences.den == (2.0, 1.0, 3.0)
    assert acc.sentences.scale == 100.0 and acc.sentences.value() == acc.value
    parse = attachment_scores([[0, 1], [0]], [["root", "obj"], ["root"]],
                              [[0, 0], [0]], [["root", "obj"], ["nsubj"]])
    assert parse["uas"].sentences is not None and parse["las"].sentences is not None
    assert parse["uas"].sentences.num == (1.0, 1.0) and parse["las"].sentences.num == (1.0, 0.0)
    for score in parse.values():
        assert score.sentences is not None and score.sentences.value() == score.value
    spans = span_f1([["B-PER", "I-PER", "O", "B-LOC"], ["O"], ["B-ORG"]],
                    [["B-PER", "I-PER", "O", "O"], ["B-LOC"], ["B-ORG"]])
    f1 = spans["span_f1"].sentences
    assert f1 is not None and f1.scale == 200.0
    assert f1.num == (1.0, 0.0, 1.0) and f1.den == (3.0, 1.0, 2.0)  # tp; predicted + gold
    prec, rec = spans["span_precision"].sentences, spans["span_recall"].sentences
    assert prec is not None and prec.den == (1.0, 1.0, 1.0) and prec.scale == 100.0
    assert rec is not None and rec.den == (2.0, 0.0, 1.0)
    for score in spans.values():
        assert score.sentences is not None and score.sentences.value(0.0) == score.value
