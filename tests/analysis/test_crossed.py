from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests

from crossling.analysis import crossed
from crossling.analysis.crossed import (
    CROSSED_COLUMNS,
    SENTENCE_INPUT_COLUMNS,
    Design,
    _weights,
    crossed_bootstrap,
    crossed_gaps,
    p2_contrasts,
    per_seed_values,
    shared_replicates,
    variance_components,
)
from crossling.analysis.frames import SCORE_COLUMNS
from crossling.analysis.hierarchical import (
    HIERARCHICAL_COLUMNS,
    OTHER_CONTRASTS,
    OTHER_GAPS,
    PRIMARY_FAMILY,
    hierarchical_gaps,
)

LANGS = ["ar", "de", "fr", "hi", "ja", "zh"]
GROUPS = ["REF", "1-2", "3-4", "11-12"]
N = 30


def make_sentences(seeds: list[int], x: Callable[[str, int, str, int], float],
                   langs: list[str] = LANGS, n: int = N, extra: list[str] | None = None
                   ) -> pd.DataFrame:
    """A sentence frame: sentence i of every set has den = 1 + i % 7 units, num = den * x."""
    records = []
    for seed in seeds:
        for group in GROUPS:
            for lang in ["en", *langs, *(extra or [])]:
                for i in range(n):
                    den = 1 + i % 7
                    records.append({"task": "pos", "metric": "acc", "model": "m",
                                    "reinit": group, "seed": seed, "language": lang,
                                    "source": "en", "is_source": lang == "en",
                                    "sentence": f"s{i}", "num": den * x(group, seed, lang, i),
                                    "den": den, "scale": 100.0})
    return pd.DataFrame.from_records(records, columns=SENTENCE_INPUT_COLUMNS)


def scores_of(sentences: pd.DataFrame) -> pd.DataFrame:
    """The scores frame of the same runs: scale * sum(num) / sum(den) per set."""
    key = ["task", "metric", "model", "reinit", "seed", "language", "source", "is_source"]
    g = sentences.groupby(key, as_index=False).agg(num=("num", "sum"), den=("den", "sum"),
                                                    scale=("scale", "first"))
    g["value"] = g["scale"] * g["num"] / g["den"]
    g = g.assign(ci_low=g["value"], ci_high=g["value"], n_sentences=N, n_units=1)
    return g[SCORE_COLUMNS]


def planted(group: str, seed: int, lang: str, i: int) -> float:
    """Group means, a seed effect on the targets, language and sentence variation."""
    base = {"REF": 0.6, "1-2": 0.45, "3-4": 0.55, "11-12": 0.58}[group]
    if lang == "en":
        return 0.9 - 0.02 * (group == "1-2") + 0.01 * ((i * 7) % 5)
    li = LANGS.index(lang) if lang in LANGS else 0
    return (base + 0.01 * seed * (group != "REF") + 0.02 * (li - 2) * (group == "1-2")
            + 0.05 * np.sin(i + li) + 0.01 * np.cos(i * seed + len(group)))


def by_key(out: pd.DataFrame) -> dict[tuple[str, str], pd.Series]:
    return {(r.kind, r.reinit): r for _, r in out.iterrows()}


def test_point_values_match_v1_on_the_same_scores() -> None:
    """Estimates, per-seed values, t-intervals and t-tests are v1's on the corpus scores."""
    sent = make_sentences([0, 1, 2, 3], planted)
    new = by_key(crossed_gaps(sent, n_boot=200))
    old = by_key(hierarchical_gaps(scores_of(sent), n_boot=0))
    assert set(new) == set(old) and len(new) == 5
    for key, row in new.items():
        assert row["seed_values"] == pytest.approx(old[key]["seed_values"], abs=1e-9)
        for col in ("estimate", "t_low", "t_high", "p_value"):
            assert row[col] == pytest.approx(old[key][col], rel=1e-9), (key, col)
        assert row["interval"] == "crossed" and row["n_targets"] == len(LANGS)


def test_columns_and_plan_family_holm() -> None:
    out = crossed_gaps(make_sentences([0, 1, 2], planted), n_boot=300)
    assert list(out.columns) == CROSSED_COLUMNS
    assert CROSSED_COLUMNS[:len(HIERARCHICAL_COLUMNS)] == HIERARCHICAL_COLUMNS
    fam = out[(out["kind"] == "contrast")]
    assert sorted(fam["reinit"]) == ["1-2", "3-4"]
    assert fam["p_holm"].to_numpy() == pytest.approx(
        multipletests(fam["p_value"].to_numpy(), method="holm")[1])
    assert fam["p_crossed_holm"].to_numpy() == pytest.approx(
        multipletests(fam["p_crossed"].to_numpy(), method="holm")[1])
    assert set(fam["holm_family"]) == {PRIMARY_FAMILY}
    gaps = out[out["kind"] == "gap"]  # descriptive: a family of their own, as in v1
    assert set(gaps["holm_family"]) == {OTHER_GAPS}
    assert gaps["p_holm"].to_numpy() == pytest.approx(
        multipletests(gaps["p_value"].to_numpy(), method="holm")[1])
    one = crossed_gaps(make_sentences([0, 1, 2], planted), n_boot=300,
                       family=[("1-2", "11-12")])
    c1 = one[(one["kind"] == "contrast") & (one["reinit"] == "1-2")].iloc[0]
    assert c1["p_holm"] == pytest.approx(c1["p_value"])  # a family of one: no correction
    c2 = one[(one["kind"] == "contrast") & (one["reinit"] == "3-4")].iloc[0]
    assert c2["holm_family"] == OTHER_CONTRASTS and c2["p_holm"] == pytest.approx(c2["p_value"])


def test_p2_contrasts_are_crossed_only_when_every_score_has_its_sentences() -> None:
    """Every run counted: the crossed interval; one run without counts: v1's hierarchical
    one for all (a crossed interval would silently drop that run)."""
    sent = make_sentences([0, 1, 2], planted)
    scores = scores_of(sent)
    both = p2_contrasts(scores, sent, n_boot=200)
    assert set(both["interval"]) == {"crossed"} and list(both.columns) == CROSSED_COLUMNS
    missing = sent[~((sent["reinit"] == "3-4") & (sent["seed"] == 2) & (sent["language"] == "fr"))]
    old = p2_contrasts(scores, missing, n_boot=200)
    assert list(old.columns) == HIERARCHICAL_COLUMNS
    assert by_key(old)[("contrast", "3-4")]["n_seeds"] == 3
    assert list(p2_contrasts(scores, sent.iloc[:0], n_boot=0).columns) == HIERARCHICAL_COLUMNS


def test_one_sentence_draw_is_shared_by_every_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """g and h differ by a constant on every sentence of a set (sentences vary a lot): under
    shared weights every replicate of the contrast is exact; per-run draws would scatter."""
    monkeypatch.setattr(crossed, "CHUNK_CELLS", 7 * N)  # several chunks of replicates
    rng = np.random.default_rng(3)
    sets = 5
    x = rng.uniform(0, 1, size=(sets, N, 1, 1)) + np.zeros((sets, N, 2, 3))
    shift = np.array([0.1, -0.2, -0.2, -0.2, -0.2])  # g - h per set (0 the source)
    x[:, :, 0, :] += shift[:, None, None]
    x[:, :, :, 1] += rng.normal(0, 0.5, size=(sets, N, 1))  # seed 1 scores differently
    den = rng.integers(1, 9, size=(sets, N, 1, 1)) * np.ones_like(x)
    design = Design(list(den * x), list(den), np.full((2, 3), 100.0), np.array([1.0, -1.0]))
    reps = shared_replicates(design, rng, 50)
    assert reps.shape == (50, 3)
    assert per_seed_values(design) == pytest.approx([100 * (-0.2 - 0.1)] * 3)
    assert reps == pytest.approx(np.full((50, 3), 100 * (-0.2 - 0.1)), abs=1e-9)


def test_one_language_draw_is_shared_by_every_seed() -> None:
    """Per-seed values that differ by seed-only constants keep those differences in every
    replicate: one language draw serves all seeds."""
    rng = np.random.default_rng(4)
    sets, seeds = 7, 4
    lang = rng.normal(0, 1, size=(sets, 1, 1, 1))
    seed = np.array([0.0, 0.3, -0.2, 0.5])
    x = rng.normal(0, 0.01, size=(sets, N, 1, 1)) + np.zeros((sets, N, 2, seeds))
    x[1:, :, 0, :] += seed + lang[1:, :, 0]  # group g, targets only
    den = np.ones_like(x)
    design = Design(list(den * x), list(den), np.ones((2, seeds)), np.array([1.0, -1.0]))
    reps = shared_replicates(design, rng, 200)
    assert reps - reps.mean(axis=1, keepdims=True) == pytest.approx(
        np.broadcast_to(seed - seed.mean(), reps.shape), abs=1e-9)
    assert reps.mean(axis=1).std() > 0.1  # the language draw moves them together


def test_weights_are_multinomial_resamples() -> None:
    w = _weights(np.random.default_rng(0), 4000, 5)
    assert (w.sum(axis=1) == 5).all() and (w >= 0).all()
    assert w.mean(axis=0) == pytest.approx([1.0] * 5, abs=0.05)
    assert w.var(axis=0) == pytest.approx([0.8] * 5, abs=0.08)  # n p (1 - p) = 5 * .2 * .8


def test_crossed_bootstrap_draws_seeds_with_replacement() -> None:
    shared = np.tile([1.0, 2.0, 3.0, 10.0], (5000, 1))
    boots = crossed_bootstrap(shared, np.random.default_rng(0))
    assert boots.mean() == pytest.approx(4.0, abs=0.05)
    assert boots.var() == pytest.approx(np.var([1.0, 2.0, 3.0, 10.0]) / 4, rel=0.05)


def test_variance_components_count_seed_noise_once() -> None:
    """shared = z + e_s (z common, e per seed, sd 1 and 2): the shared part is Var(z) = 1, not
    1 + 4 / S; the seed part is the spread of the values / S."""
    rng = np.random.default_rng(5)
    seeds, b = 4, 40000
    shared = rng.normal(0, 1, size=(b, 1)) + rng.normal(0, 2, size=(b, seeds))
    values = np.array([1.0, 2.0, 4.0, 5.0])
    vc = variance_components(values, shared, 18)
    assert vc.shared == pytest.approx(1.0, rel=0.05)
    assert vc.seed == pytest.approx(np.var(values, ddof=1) / seeds)
    assert seeds - 1 <= vc.df <= seeds - 1 + 17
    lo, hi = vc.interval(3.0)
    assert hi - 3.0 == pytest.approx(3.0 - lo) and hi - lo > 2 * 1.96 * vc.se


def test_planted_contrast_is_recovered() -> None:
    out = by_key(crossed_gaps(make_sentences([0, 1, 2, 3, 4], planted), n_boot=2000))
    c1 = out[("contrast", "1-2")]
    assert c1["estimate"] == pytest.approx(out[("gap", "1-2")]["estimate"]
                                           - out[("gap", "11-12")]["estimate"])
    for lo, hi in (("boot_low", "boot_high"), ("vc_low", "vc_high"), ("t_low", "t_high")):
        assert c1[lo] < c1["estimate"] < c1[hi] < 0, lo
    assert c1["vc_high"] - c1["vc_low"] > c1["t_high"] - c1["t_low"]  # + languages, sentences


def test_other_source_sets_are_left_out() -> None:
    with_pud = crossed_gaps(make_sentences([0, 1], planted, extra=["en_pud"]), n_boot=100)
    plain = crossed_gaps(make_sentences([0, 1], planted), n_boot=100)
    assert (with_pud["n_targets"] == len(LANGS)).all()
    assert with_pud["estimate"].to_numpy() == pytest.approx(plain["estimate"].to_numpy())


def test_few_seeds_and_agreeing_seeds_are_said() -> None:
    out = by_key(crossed_gaps(make_sentences([0, 1, 2], planted), n_boot=200))
    assert "read the vc interval" in out[("contrast", "1-2")]["note"]
    same = by_key(crossed_gaps(make_sentences([0, 1], lambda g, s, lang, i: planted(g, 0, lang,
                                                                                   i)),
                               n_boot=200))
    row = same[("contrast", "1-2")]
    assert "seeds agree exactly" in row["note"]
    assert np.isnan([row["vc_low"], row["t_low"], row["boot_low"]]).all()


def test_bad_input_is_one_line_before_any_work() -> None:
    sent = make_sentences([0, 1], planted)
    with pytest.raises(ValueError, match=r"lacks column.*scale") as e:
        crossed_gaps(sent.drop(columns="scale"))
    assert "\n" not in str(e.value)
    with pytest.raises(ValueError, match="different sentences"):
        crossed_gaps(sent.drop(index=sent.index[(sent["reinit"] == "3-4")
                                                & (sent["sentence"] == "s3")]))
    with pytest.raises(ValueError, match="appears twice"):
        crossed_gaps(pd.concat([sent, sent.iloc[:1]]))


def test_a_group_missing_a_seed_uses_the_seeds_it_has() -> None:
    """Plans over all runs share one draw; a plan whose runs miss a seed draws its own."""
    sent = make_sentences([0, 1, 2], planted)
    sent = sent[~((sent["reinit"] == "3-4") & (sent["seed"] == 2))]
    out = by_key(crossed_gaps(sent, n_boot=300))
    assert out[("gap", "3-4")]["seeds"] == (0, 1) and out[("contrast", "3-4")]["n_seeds"] == 2
    assert out[("gap", "1-2")]["seeds"] == (0, 1, 2)
    full = by_key(crossed_gaps(make_sentences([0, 1, 2], planted), n_boot=0))
    assert out[("gap", "3-4")]["seed_values"] == pytest.approx(
        full[("gap", "3-4")]["seed_values"][:2])
    for row in out.values():
        assert row["boot_low"] < row["estimate"] < row["boot_high"]
