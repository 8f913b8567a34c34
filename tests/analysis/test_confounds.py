from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from crossling.analysis.confounds import (
    COVARIATES,
    ConfoundInputs,
    confound_failures,
    confounds,
    covariate_table,
    leave_one_group_out,
    min_detectable_rho,
    survives_confounds,
)
from crossling.analysis.permutation import partial_permutation_spearman, partial_spearman_rho

CODES = ["ar", "cs", "de", "es", "fi", "fr", "hi", "id", "it", "ja", "ko", "pl", "pt", "ru",
         "sv", "th", "tr", "zh"]


def _langs(n: int) -> list[str]:
    return [f"l{i:03d}" for i in range(n)]


def _covariates(langs: list[str], rng: np.random.Generator, **given: np.ndarray
                ) -> pd.DataFrame:
    cols = {c: given.get(c, rng.random(len(langs))) for c in COVARIATES}
    return pd.DataFrame(cols, index=pd.Index(langs, name="language")).assign(
        family=[f"f{i % 4}" for i in range(len(langs))], branch=langs)


def test_a_covariate_that_drives_both_sides_leaves_no_partial() -> None:
    """similarity and score both follow the overlap plus independent noise: raw ρ is high,
    the partial given the overlap ~0 and not significant; given an unrelated covariate, the
    partial stays high."""
    rng = np.random.default_rng(0)
    langs = _langs(200)
    z = rng.random(200)
    sim = pd.DataFrame([z + rng.normal(0, 0.05, 200)], columns=langs)
    score = pd.Series(10 * z + rng.normal(0, 0.5, 200), index=langs)
    out = confounds(sim, score, ConfoundInputs(_covariates(langs, rng, subword_overlap=z),
                                               n_perm=2000)).iloc[0]
    assert out["rho"] > 0.9
    assert abs(out["partial_rho_subword_overlap"]) < 0.15
    assert out["partial_p_subword_overlap"] > 0.01
    assert abs(out["partial_rho_all"]) < 0.15
    assert out["partial_rho_syntax_distance"] > 0.9 and out["partial_p_syntax_distance"] < 0.001
    assert out["r2_similarity"] > 0.9 and out["r2_score"] > 0.9


def test_a_covariate_equal_to_the_score_leaves_nothing_to_correlate() -> None:
    """Undefined (NaN), not a spurious value: and then no verdict can lean on it."""
    rng = np.random.default_rng(1)
    x, y = rng.random(18), rng.random(18)
    assert math.isnan(partial_spearman_rho(x, y, y))
    assert math.isfinite(partial_spearman_rho(x, y, rng.random(18)))
    sim = pd.DataFrame([x], columns=CODES)
    score = pd.Series(y, index=CODES)
    cov = _covariates(CODES, rng, subword_overlap=y)
    out = confounds(sim, score, ConfoundInputs(cov, n_perm=200)).iloc[0]
    assert math.isnan(out["partial_rho_subword_overlap"]) and math.isnan(out["partial_rho_all"])
    assert math.isfinite(out["partial_rho_syntax_distance"])
    assert out["r2_score"] == pytest.approx(1.0)
    assert survives_confounds(out.to_dict()) is None


def test_joint_partial_with_one_covariate_is_the_single_partial() -> None:
    rng = np.random.default_rng(2)
    sim = pd.DataFrame(rng.random((3, 18)), columns=CODES)
    score = pd.Series(rng.random(18), index=CODES)
    z = pd.Series(rng.random(18), index=CODES)
    one = partial_permutation_spearman(sim, score, z, n_perm=500)
    frame = partial_permutation_spearman(sim, score, z.to_frame("z"), n_perm=500)
    pd.testing.assert_frame_equal(one, frame)


def test_joint_partial_matches_regression_residuals_on_ranks() -> None:
    rng = np.random.default_rng(3)
    x, y, z = rng.random(18), rng.random(18), rng.random((18, 3))
    sim = pd.DataFrame([x], columns=CODES)
    got = partial_permutation_spearman(sim, pd.Series(y, index=CODES),
                                       pd.DataFrame(z, index=CODES), n_perm=100)["rho"][0]
    design = np.column_stack([np.ones(18), stats.rankdata(z, axis=0)])

    def resid(v: np.ndarray) -> np.ndarray:
        r = stats.rankdata(v)
        return r - design @ np.linalg.lstsq(design, r, rcond=None)[0]

    assert got == pytest.approx(float(np.corrcoef(resid(x), resid(y))[0, 1]))
    few = partial_permutation_spearman(sim[CODES[:5]], pd.Series(y[:5], index=CODES[:5]),
                                       pd.DataFrame(z[:5], index=CODES[:5]), n_perm=100)
    assert few["rho"].isna().all()  # 5 languages, 3 covariates: nothing to correlate


def test_one_family_carrying_rho_shows_in_the_leave_one_out_range() -> None:
    """Family A alone makes the correlation (its languages are high on both sides); the rest
    is anti-correlated noise: leaving A out flips the sign, any other leave-out does not."""
    langs = _langs(16)
    groups = pd.Series(["A"] * 4 + ["B"] * 4 + ["C"] * 4 + ["D"] * 4, index=langs)
    x = np.r_[[10, 11, 12, 13], np.arange(12)]
    y = np.r_[[10, 11, 12, 13], np.arange(12)[::-1] / 2]
    sim = pd.DataFrame([x], columns=langs)
    score = pd.Series(y, index=langs)
    row = leave_one_group_out(sim, score, groups).iloc[0]
    assert stats.spearmanr(x, y).statistic > 0
    assert row["min"] < 0 and row["min_left_out"] == "A"
    assert row["max"] > 0 and row["max_left_out"] != "A"
    assert row["n_groups"] == 4 and row["n_defined"] == 4
    failed = confound_failures({"rho": 0.5, "partial_rho_all": 0.4, "partial_p_all": 0.01,
                                "lo_family_min": row["min"], "lo_family_max": row["max"]})
    assert failed == ["family"]


def test_survives_needs_the_joint_partial_and_every_family() -> None:
    ok = {"rho": 0.6, "partial_rho_all": 0.5, "partial_p_all": 0.01, "lo_family_min": 0.3,
          "lo_family_max": 0.7}
    assert survives_confounds(ok) is True
    assert confound_failures({**ok, "partial_p_all": 0.2}) == ["all covariates"]
    assert confound_failures({**ok, "partial_rho_all": -0.5}) == ["all covariates"]
    assert survives_confounds({**ok, "lo_family_min": -0.1}) is False
    assert survives_confounds({**ok, "partial_rho_all": math.nan}) is None
    neg = {"rho": -0.6, "partial_rho_all": -0.5, "partial_p_all": 0.01, "lo_family_min": -0.8,
           "lo_family_max": -0.2}
    assert survives_confounds(neg) is True
    assert survives_confounds({**ok, "partial_p_all_max": 0.2}) is True
    assert survives_confounds({**ok, "partial_p_all_max": 0.2}, corrected=True) is False
    assert survives_confounds(ok, corrected=True) is None  # no corrected p: undefined


def test_power_shrinks_with_covariates_and_matches_fisher_z() -> None:
    raw, joint = min_detectable_rho(18), min_detectable_rho(18, 3)
    assert 0.6 < raw < joint < 0.8
    # at that |rho| the Bonett-Wright z statistic reaches z_0.975 + z_0.8
    need = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    assert math.atanh(raw) / math.sqrt((1 + raw ** 2 / 2) / 15) == pytest.approx(need, 1e-6)
    assert min_detectable_rho(200) < 0.25
    assert math.isnan(min_detectable_rho(6, 3))


def test_covariate_table_on_the_pud_targets_and_without_tokenizer() -> None:
    tok = pd.DataFrame({"language": CODES, "subword_overlap": np.linspace(0, 1, 18),
                        "same_script": [c in {"cs", "de", "es", "fi", "fr", "id", "it", "pl",
                                              "pt", "sv", "tr"} for c in CODES]})
    cov, note = covariate_table(CODES, tok)
    assert note == "" and list(cov.index) == CODES
    assert np.isfinite(cov[list(COVARIATES)].to_numpy()).all()
    assert cov["same_script"].sum() == 11
    assert (cov["family"] == "Indo-European").sum() == 10 and cov.loc["ja", "family"] == "Japonic"
    assert cov.loc["fr", "branch"] == cov.loc["es", "branch"] != cov.loc["de", "branch"]
    empty = pd.DataFrame(columns=["language", "subword_overlap", "same_script"])
    empty.attrs["error"] = "m: cannot load tokenizer"
    cov, note = covariate_table(CODES, empty)
    assert cov["subword_overlap"].isna().all() and "cannot load tokenizer" in note
    rng = np.random.default_rng(4)
    sim = pd.DataFrame(rng.random((2, 18)), columns=CODES)
    out = confounds(sim, pd.Series(rng.random(18), index=CODES),
                    ConfoundInputs(cov, note, n_perm=200))
    assert out["rho"].notna().all() and out["partial_rho_all"].isna().all()
    assert out["lo_family_min"].notna().all()  # families need no tokenizer
