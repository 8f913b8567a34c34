from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from crossling.analysis.permutation import (
    PERMUTATION_COLUMNS,
    partial_permutation_spearman,
    partial_spearman_rho,
    permutation_spearman,
    permutations,
)

CODES = ["ar", "cs", "de", "es", "fi", "fr", "hi", "id", "it", "ja", "ko", "pl", "pt", "ru",
         "sv", "th", "tr", "zh"]


def table(values: np.ndarray, langs: list[str]) -> pd.DataFrame:
    """layers x languages, as cross_similarity returns it."""
    return pd.DataFrame(values, index=pd.Index(range(len(values)), name="layer"),
                        columns=langs)


def brute_force(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact p_raw and p_max by looping over itertools.permutations with scipy's spearmanr."""
    rho = np.array([stats.spearmanr(row, y).statistic for row in x])
    raw = np.zeros(len(x))
    top = np.zeros(len(x))
    count = 0
    for perm in itertools.permutations(range(len(y))):
        star = np.abs([stats.spearmanr(row, y[list(perm)]).statistic for row in x])
        raw += star >= np.abs(rho) - 1e-9
        top += star.max() >= np.abs(rho) - 1e-9
        count += 1
    return raw / count, top / count


def test_exact_p_values_match_a_brute_force_loop_at_n6() -> None:
    rng = np.random.default_rng(0)
    langs = CODES[:6]
    x = rng.normal(size=(4, 6))
    y = x[1] + rng.normal(scale=0.5, size=6)
    x[3, [0, 1]] = x[3, 2]  # ties in one layer
    out = permutation_spearman(table(x, langs), pd.Series(y, index=langs))
    assert list(out.columns) == PERMUTATION_COLUMNS
    assert out["exact"].all() and (out["n_permutations"] == 720).all()
    raw, top = brute_force(x, y)
    assert out["p_raw"].to_numpy() == pytest.approx(raw)
    assert out["p_max"].to_numpy() == pytest.approx(top)
    assert out["rho"].to_numpy() == pytest.approx(
        [stats.spearmanr(row, y).statistic for row in x])


@pytest.mark.parametrize("n,n_perm", [(5, 100_000), (7, 2000), (12, 999)])
def test_p_max_is_never_below_p_raw(n: int, n_perm: int) -> None:
    rng = np.random.default_rng(n)
    langs = CODES[:n]
    for _ in range(5):
        x = rng.normal(size=(13, n))
        y = rng.normal(size=n)
        out = permutation_spearman(table(x, langs), pd.Series(y, index=langs),
                                   n_perm=n_perm, seed=1)
        assert (out["p_max"] >= out["p_raw"]).all()
        assert ((out["p_raw"] > 0) & (out["p_max"] <= 1)).all()


def test_exact_enumeration_is_used_up_to_n_perm() -> None:
    rng = np.random.default_rng(0)
    assert permutations(8, 100_000, rng)[1] and not permutations(9, 100_000, rng)[1]
    perms, exact = permutations(4, 24, rng)
    assert exact and {tuple(p) for p in perms} == set(itertools.permutations(range(4)))
    random_perms, exact = permutations(10, 50, rng)
    assert not exact and random_perms.shape == (50, 10)
    assert (np.sort(random_perms, axis=1) == np.arange(10)).all()


def test_planted_monotone_relation_gets_the_smallest_monte_carlo_p() -> None:
    rng = np.random.default_rng(3)
    langs = CODES[:12]
    x = rng.normal(size=(13, 12))
    y = np.exp(x[5])  # monotone in layer 5 only
    out = permutation_spearman(table(x, langs), pd.Series(y, index=langs), n_perm=999,
                               seed=2).set_index("layer")
    assert not out["exact"].any()
    assert out.loc[5, "rho"] == pytest.approx(1.0)
    assert out.loc[5, "p_raw"] == pytest.approx(1 / 1000)  # (1 + 0) / (1 + n_perm)
    assert out.loc[5, "p_max"] == pytest.approx(1 / 1000)
    assert (out.drop(index=5)["p_max"] > 0.05).mean() > 0.8


def test_null_p_values_are_uniform_ish_and_max_controls_the_family() -> None:
    rng = np.random.default_rng(7)
    langs = CODES[:10]
    raw, top = [], []
    for _ in range(300):
        out = permutation_spearman(table(rng.normal(size=(6, 10)), langs),
                                   pd.Series(rng.normal(size=10), index=langs), n_perm=499,
                                   seed=int(rng.integers(1 << 30)))
        raw.append(out["p_raw"].to_numpy()[0])
        top.append(out["p_max"].min())
    raw_a, top_a = np.array(raw), np.array(top)
    assert 0.02 < (raw_a < 0.05).mean() < 0.09
    assert 0.4 < raw_a.mean() < 0.6
    assert (top_a < 0.05).mean() < 0.09  # family-wise error of "some layer significant"


def test_constant_layer_and_incomplete_language_are_handled() -> None:
    langs = CODES[:7]
    x = np.vstack([np.arange(7.0), np.ones(7), np.arange(7.0)[::-1]])
    sim = table(x, langs)
    sim["extra"] = [0.1, np.nan, 0.3]  # missing at layer 1: dropped everywhere
    out = permutation_spearman(sim, pd.Series(np.arange(7.0), index=langs)).set_index("layer")
    assert (out["n_languages"] == 7).all()
    assert math.isnan(out.loc[1, "rho"]) and math.isnan(out.loc[1, "p_raw"])
    assert out.loc[0, "rho"] == pytest.approx(1.0) and out.loc[2, "rho"] == pytest.approx(-1.0)
    assert out.loc[0, "p_raw"] == pytest.approx(2 / math.factorial(7))
    assert out.loc[0, "p_max"] == pytest.approx(2 / math.factorial(7))


def closed_form(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> float:
    """r_xy.z = (r_xy - r_xz r_yz) / sqrt((1 - r_xz^2)(1 - r_yz^2)) on ranks (pingouin's)."""
    rx, ry, rz = stats.rankdata(x), stats.rankdata(y), stats.rankdata(z)
    r = np.corrcoef([rx, ry, rz])
    return float((r[0, 1] - r[0, 2] * r[1, 2]) / math.sqrt((1 - r[0, 2] ** 2)
                                                           * (1 - r[1, 2] ** 2)))


def test_partial_rho_matches_the_closed_form() -> None:
    rng = np.random.default_rng(11)
    langs = CODES[:9]
    z = rng.normal(size=9)
    x = rng.normal(size=(5, 9)) + z
    y = rng.normal(size=9) - z
    out = partial_permutation_spearman(table(x, langs), pd.Series(y, index=langs),
                                       pd.Series(z, index=langs), n_perm=999)
    assert out["partial"].all()
    expected = [closed_form(row, y, z) for row in x]
    assert out["rho"].to_numpy() == pytest.approx(expected)
    assert partial_spearman_rho(x[0], y, z) == pytest.approx(expected[0])
    assert (out["p_max"] >= out["p_raw"]).all()


def test_partial_correlation_removes_a_confounder_and_keeps_a_real_link() -> None:
    """Layer 0: similarity and score both follow the distance only (confounded). Layer 1:
    similarity drives the score beyond the distance."""
    rng = np.random.default_rng(5)
    langs = CODES[:16]
    z = rng.normal(size=16)
    own = rng.normal(size=16)
    y = -z + own
    x = np.vstack([-z + rng.normal(scale=0.3, size=16), own])
    sim, score, dist = table(x, langs), pd.Series(y, index=langs), pd.Series(z, index=langs)
    plain = permutation_spearman(sim, score, n_perm=1999).set_index("layer")
    part = partial_permutation_spearman(sim, score, dist, n_perm=1999).set_index("layer")
    assert plain.loc[0, "p_raw"] < 0.05 and part.loc[0, "p_raw"] > 0.1
    assert part.loc[1, "p_raw"] < 0.01 and part.loc[1, "rho"] > plain.loc[1, "rho"]


def test_partial_exact_at_small_n_and_too_few_languages() -> None:
    rng = np.random.default_rng(2)
    langs = CODES[:6]
    x, y, z = rng.normal(size=(2, 6)), rng.normal(size=6), rng.normal(size=6)
    out = partial_permutation_spearman(table(x, langs), pd.Series(y, index=langs),
                                       pd.Series(z, index=langs))
    assert out["exact"].all() and (out["n_permutations"] == 720).all()
    few = partial_permutation_spearman(table(x[:, :3], langs[:3]),
                                       pd.Series(y[:3], index=langs[:3]),
                                       pd.Series(z[:3], index=langs[:3]))
    assert few["rho"].isna().all() and (few["n_languages"] == 3).all()
