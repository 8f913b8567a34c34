"""compute_report: the report's numbers without drawing.

The numbers are checked against a computation straight from the rows (plain Python and scipy),
on synthetic rows varied so that Δs differ by seed and language and ρ is neither 1 nor undefined.
"""

from __future__ import annotations

import math
import os
import pickle
import subprocess
import sys
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from statistics import mean

import pytest
from scipy import stats

from crossling.core.errors import ConfigError
from crossling.report.data import ReportData, compute_report
from crossling.report.settings import ReportSettings
from crossling.results import ScoreRow, SimilarityRow
from crossling.similarity.measures import HEADLINE_MEASURE
from tests.analysis.synthetic import SIM_AT_5, TARGETS, score_rows, similarity_rows

ROOT = Path(__file__).resolve().parents[2]

# Runs compute_report in a fresh interpreter: matplotlib must not be imported at all, directly
# or through report.plots / report.figures / report.tables.
_CHILD = """
import pickle, sys
from crossling.report.data import compute_report
from crossling.report.settings import ReportSettings
scores, sims, out = pickle.loads(open(sys.argv[1], "rb").read())
data = compute_report(scores, sims, settings=ReportSettings(n_boot=200))
drawn = sorted(m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib."))
if drawn:
    sys.exit("compute_report imported " + ", ".join(drawn[:5]))
with open(out, "wb") as fh:
    pickle.dump(data, fh)
"""


def varied_scores() -> list[ScoreRow]:
    """Three seeds; each row nudged by a (seed, group, language)-dependent amount, and Arabic
    (the least similar target) raised by 30 points everywhere, so its REF score ranks first."""
    rows = []
    for r in score_rows(seeds=(0, 1, 2)):
        k = (3 * r.seed + 5 * len(r.reinit) + ord(r.language[0])) % 7
        bump = 0.25 * k + (30.0 if r.language == "ar" else 0.0)
        rows.append(replace(r, value=r.value + bump, ci_low=r.ci_low + bump,
                            ci_high=r.ci_high + bump))
    return rows


def _direct_deltas(rows: list[ScoreRow]) -> dict[str, dict[int, dict[str, float]]]:
    """group -> seed -> language -> Δ vs the REF row of the same seed and language."""
    ref = {(r.seed, r.language): r.value for r in rows if r.reinit == "REF"}
    out: dict[str, dict[int, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    for r in rows:
        if r.reinit != "REF":
            out[r.reinit][r.seed][r.language] = r.value - ref[(r.seed, r.language)]
    return out


def _compute_without_matplotlib(scores: list[ScoreRow], sims: list[SimilarityRow],
                                tmp_path: Path) -> ReportData:
    rows = tmp_path / "rows.pkl"
    out = tmp_path / "data.pkl"
    rows.write_bytes(pickle.dumps((scores, sims, str(out))))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(rows)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = pickle.loads(out.read_bytes())
    assert isinstance(data, ReportData)
    return data


def test_compute_report_draws_nothing_and_matches_a_direct_computation(tmp_path: Path) -> None:
    scores = varied_scores()
    data = _compute_without_matplotlib(scores, similarity_rows(), tmp_path)
    assert data.measure == data.requested_measure == HEADLINE_MEASURE
    assert data.fallback_note is None

    # Table 2: source Δ, mean target Δ (mean over seeds) and their gap with its t-interval
    # (none when the seeds agree exactly); the P2 contrast gap(1-2) - gap(11-12) per seed
    direct = _direct_deltas(scores)
    summary = data.delta_summary.set_index("reinit")
    assert list(summary.index) == ["1-2", "11-12"]
    assert len(data.deltas) == 2 * 3 * (1 + len(TARGETS))
    all_gaps: dict[str, list[float]] = {}
    for group, by_seed in direct.items():
        src = [by_seed[s]["en"] for s in sorted(by_seed)]
        tgt = [mean(by_seed[s][t] for t in TARGETS) for s in sorted(by_seed)]
        gaps = [t - s for s, t in zip(src, tgt, strict=True)]
        row = summary.loc[group]
        assert row["seeds"] == 3
        assert row["source_delta"] == pytest.approx(mean(src))
        assert row["target_delta"] == pytest.approx(mean(tgt))
        assert row["gap"] == pytest.approx(mean(gaps))
        if max(gaps) - min(gaps) < 1e-9:
            assert math.isnan(row["gap_ci_low"]) and "seeds agree exactly" in row["note"]
        else:
            lo, hi = stats.t.interval(0.95, 2, loc=mean(gaps), scale=stats.sem(gaps))
            assert (row["gap_ci_low"], row["gap_ci_high"]) == pytest.approx((lo, hi))
        all_gaps[group] = gaps
    contrast = data.contrasts[(data.contrasts["kind"] == "contrast")].iloc[0]
    assert (contrast["reinit"], contrast["versus"]) == ("1-2", "11-12")
    per_seed = [a - b for a, b in zip(all_gaps["1-2"], all_gaps["11-12"], strict=True)]
    assert list(contrast["seed_values"]) == pytest.approx(per_seed)
    assert contrast["estimate"] == pytest.approx(mean(per_seed))
    assert summary["gap"].to_numpy(dtype=float)[0] < -7  # "1-2": targets lose more (P2)

    # Table 3: Spearman ρ across targets of pretrained layer-5 similarity vs REF score
    ref_score = {t: mean(r.value for r in scores if r.reinit == "REF" and r.language == t)
                 for t in TARGETS}
    expected = stats.spearmanr([SIM_AT_5[t] for t in TARGETS], [ref_score[t] for t in TARGETS])
    assert 0 < expected.statistic < 1  # the Arabic bump breaks the perfect ranking
    corr = data.correlation
    assert set(corr["measure"]) == {HEADLINE_MEASURE}
    layer5 = corr[(corr["layer"] == 5) & ~corr["finetuned"]].iloc[0]
    assert layer5["rho"] == pytest.approx(expected.statistic)
    assert layer5["p_value"] == pytest.approx(expected.pvalue)
    assert layer5["n_languages"] == len(TARGETS)
    assert layer5["ci_low"] <= layer5["rho"] <= layer5["ci_high"]
    # layer 3: the same similarity for every target -> ρ undefined, not 0
    assert math.isnan(corr[(corr["layer"] == 3) & ~corr["finetuned"]].iloc[0]["rho"])
    assert set(data.correlations["measure"]) == {"linear_cka", "debiased_cka"}
    # the scatter shows the layer with the largest |ρ|: the only one where ρ is defined
    assert [(c.task, c.metric, c.layer) for c in data.scatter] == [("pos", "upos_acc", 5)]

    # P4: similarity(pretrained, fine-tuned) per layer, 1 - 0.05 * (layer - 6) above layer 6
    mm = data.pretrained_vs_finetuned.set_index("layer")
    assert mm.loc[10, "mean"] == pytest.approx(0.8) and mm.loc[2, "mean"] == pytest.approx(1.0)
    assert list(data.pretrained_vs_finetuned_table.columns) == ["layer", "pos (mean)",
                                                                "null (mean)"]
    assert data.alignment_measures == ("debiased_cka", "linear_cka")
    assert len(data.pretrained_rows) == len(TARGETS) * 13 * 2
    assert all(r.model == "m" for r in data.pretrained_rows)


def test_compute_report_parts_fallback_and_refusals() -> None:
    """Similarity rows alone: no score frames; rows without debiased CKA: reported in linear
    CKA with a note; a typo, no rows, or positional options: refused."""
    data = compute_report([], similarity_rows(), settings=ReportSettings(measure="linear_cka"))
    assert data.measure == "linear_cka" and data.fallback_note is None
    assert data.scores.empty and data.ref_table.empty and data.deltas.empty
    assert data.correlations.empty and data.correlation_table.empty and data.scatter == ()
    assert data.alignment_measures == ("linear_cka", "debiased_cka")
    settings = dict(zip(data.settings["setting"], data.settings["value"], strict=True))
    assert settings["reported measure"] == "linear_cka"

    biased = [r for r in similarity_rows() if r.metric == "linear_cka"]
    data = compute_report(score_rows(seeds=(0,)), biased,
                          settings=ReportSettings(n_boot=20))
    assert (data.measure, data.requested_measure) == ("linear_cka", "debiased_cka")
    assert data.fallback_note == "the rows have no debiased_cka"
    assert set(data.correlation["measure"]) == {"linear_cka"}
    assert (data.delta_summary["note"] == "1 seed: no CI").all()

    data = compute_report(score_rows(), [])
    assert data.similarity.empty and data.alignment_measures == ()
    assert data.pretrained_vs_finetuned.empty and data.correlations.empty
    assert not data.delta_table.empty and not data.contrasts.empty and len(data.appendix) == 1

    with pytest.raises(ConfigError, match="measure must be one of debiased_cka, linear_cka, "
                                          r".*, got 'cka'"):
        ReportSettings(measure="cka")
    with pytest.raises(ValueError, match="no result rows"):
        compute_report([], [])
    with pytest.raises(TypeError):
        compute_report([], similarity_rows(), "linear_cka")  # type: ignore[call-arg]


def test_retrieval_rows_get_their_own_frame_not_the_similarity_analyses() -> None:
    """P@1 rows (kind "retrieval") share the similarity row type; treated as a measure they
    would add a panel to the alignment figure and ρ rows to Table 3."""
    from tests.analysis.test_retrieval import rows as retrieval_rows

    ret = [r for r in retrieval_rows() if r.kind == "retrieval"]
    data = compute_report(score_rows(), similarity_rows() + ret,
                          settings=ReportSettings(n_boot=50))
    assert set(data.alignment_measures) == {"debiased_cka", "linear_cka"}
    assert not data.correlations["measure"].str.startswith("retrieval").any()
    assert not data.similarity["metric"].str.startswith("retrieval").any()
    assert len(data.retrieval) == len(ret)
    assert set(data.retrieval_peaks["variant"]) == {"cosine", "margin"}
    alone = compute_report([], ret)  # a study with retrieval only still has a report
    assert alone.similarity.empty and len(alone.retrieval) == len(ret)
    assert compute_report(score_rows(), similarity_rows()).retrieval.empty


def test_probe_rows_get_their_own_frames_and_stay_out_of_the_fine_tuning_ones() -> None:
    """Probing rows share the score table; Table 1, the Δs and the correlations must not see
    them (a probe_pos 'task' with layer-wise rows would be averaged into Table 1)."""
    from tests.analysis.test_probing import probe_rows

    scores, sims = score_rows(seeds=(0,)), similarity_rows()
    plain = compute_report(scores, sims, settings=ReportSettings(n_boot=20))
    mixed = compute_report([*scores, *probe_rows()], sims, settings=ReportSettings(n_boot=20))
    assert mixed.ref_table.equals(plain.ref_table) and mixed.deltas.equals(plain.deltas)
    assert mixed.correlations.equals(plain.correlations)
    assert mixed.settings.equals(plain.settings)
    assert plain.probe.empty and plain.probe_table.empty
    assert set(mixed.probe["metric"]) == {"upos_acc", "control_acc", "selectivity",
                                          "majority_acc"}
    assert mixed.probe_best["best_layer"].tolist() == [8, 6, 9]
    assert mixed.probe_table["accuracy"].tolist()[0] == "90.0 [88.5, 91.5]"
    assert list(mixed.probe_layers["layer"])[-1] == "majority"
    alone = compute_report(probe_rows(), [])  # a probe-only study has a report too
    assert alone.scores.empty and not alone.probe_table.empty


def test_p6_confounds_use_the_handed_covariates_and_need_three_targets() -> None:
    import pandas as pd

    settings = ReportSettings(n_boot=20, n_perm=500)
    cov = pd.DataFrame({"language": TARGETS, "subword_overlap": [0.1, 0.5, 0.6, 0.05, 0.2, 0.0],
                        "same_script": [False, True, True, False, False, False],
                        "tokenizer": "tiny", "tokenizer_fingerprint": "abc"})
    data = compute_report(score_rows(), similarity_rows(), settings=settings, covariates=cov)
    conf, p6 = data.p6_confounds, data.p6
    assert not conf.empty and set(conf["task"]) == set(p6["task"])
    joined = conf.merge(p6, on=["task", "layer"], suffixes=("", "_p6"))
    assert (joined["rho"].fillna(9) == joined["rho_p6"].fillna(9)).all()  # the P6 ρ
    # one covariate alone: the partial of the P6 table (syntax distance)
    assert (joined["partial_rho_syntax_distance"].fillna(9)
            == joined["partial_rho"].fillna(9)).all()
    per_lang = data.p6_covariates.set_index("language")
    assert sorted(per_lang.index) == sorted(TARGETS)
    assert per_lang.loc["de", "same_script"] == 1.0 and per_lang.loc["de", "tokenizer"] == "tiny"
    assert (per_lang["note"] == "").all()
    bare = compute_report(score_rows(), similarity_rows(), settings=settings)
    assert bare.p6_confounds["partial_rho_all"].isna().all()
    assert bare.p6_confounds["note"].str.contains("no tokenizer covariates").all()
    two = [r for r in similarity_rows() if r.target in ("de", "fr")]
    assert compute_report(score_rows(), two, settings=settings).p6_confounds.empty
