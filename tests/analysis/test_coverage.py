from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from crossling.analysis.coverage import INTERVALS, Scenario, coverage, markdown_table, simulate
from crossling.analysis.crossed import per_seed_values

SMALL = {"seeds": 5, "targets": 8, "sentences": 40}


def test_without_noise_every_seed_measures_the_truth() -> None:
    sc = Scenario("exact", sd_seed=0, sd_lang=0, sd_sentence=0, sd_noise=0, **SMALL)
    study = simulate(sc, np.random.default_rng(0))
    assert sc.truth == pytest.approx(100 * ((0.45 - 0.58) - (0.88 - 0.89)))
    assert per_seed_values(study.design) == pytest.approx([sc.truth] * 5)


def test_estimates_are_unbiased_for_the_truth() -> None:
    sc = Scenario("mixed", sd_seed=0.03, sd_lang=0.03, sd_sentence=0.2, **SMALL)
    rng = np.random.default_rng(1)
    est = [per_seed_values(simulate(sc, rng).design).mean() for _ in range(300)]
    assert np.mean(est) == pytest.approx(sc.truth, abs=4 * np.std(est) / np.sqrt(300))


@pytest.mark.parametrize(("scenario", "t_below", "v1_below"), [
    (Scenario("languages", sd_lang=0.05, **SMALL), 0.8, 0.92),
    (Scenario("sentences", sd_sentence=0.3, **SMALL), 0.5, 0.8),
], ids=lambda p: getattr(p, "name", ""))
def test_crossed_intervals_cover_where_v1_and_t_do_not(scenario: Scenario, t_below: float,
                                                       v1_below: float) -> None:
    """200 simulated studies: the crossed intervals hold the truth 90-99% of the time; the
    t-interval (same languages and sentences) and v1 (languages and the source's sentences
    drawn per seed) miss languages and sentences all seeds share."""
    with threadpool_limits(1):
        table = coverage(scenario, studies=200, n_boot=300, seed=1)
    cov = dict(zip(table["interval"], table["coverage"], strict=True))
    assert list(cov) == list(INTERVALS)
    assert 0.90 <= cov["crossed vc"] <= 0.99
    assert 0.90 <= cov["crossed percentile"] <= 0.99
    assert cov["t across seeds"] < t_below
    assert cov["v1 nested"] < v1_below


def test_the_docs_table_is_the_coverage_csv() -> None:
    """docs/statistics.md quotes docs/crossed-coverage.csv as bench/crossed_coverage.py wrote
    it, and that file holds every interval of every scenario."""
    docs = Path(__file__).resolve().parents[2] / "docs"
    table = pd.read_csv(docs / "crossed-coverage.csv")
    assert set(table["interval"]) == set(INTERVALS)
    assert table["coverage"].between(0, 1).all() and (table["studies"] >= 200).all()
    text = (docs / "statistics.md").read_text(encoding="utf-8")
    start, end = "<!-- crossed-coverage.csv -->", "<!-- /crossed-coverage.csv -->"
    quoted = text.split(start)[1].split(end)[0]
    assert quoted.strip() == markdown_table(table)
