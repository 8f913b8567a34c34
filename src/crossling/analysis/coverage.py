"""Coverage of the P2 intervals on simulated crossed studies whose truth is known (issue 28).

A study: REF, a low group g and the top group h, S seeds, a fixed source set and L target
languages, each set n sentences scored by every run. Per sentence i of set k, run (group,
seed), the score is x = mu[group, k] + b[group, k] + a[group, seed] + u[k] + v[k, i]
+ c[group, k, i] + e[k, i, group, seed]: b the group x language effect of a target (drawn from
the language population, shared by every seed), a the seed's effect on transfer (targets
only: an effect on every set cancels from a gap), u and v language and
sentence effects shared by every run, c a group x sentence effect shared by every seed, e
run-specific noise. A sentence has den ~ 1 + Poisson(15) units (shared by the runs) and
num = den * x, so the population score of a set is E[x].

The truth is the contrast C = gap(g) - gap(h) averaged over the populations of seeds, target
languages and sentences (b, a, c, e at mean 0): scale * ((mu_g - mu_h on targets) - (mu_g -
mu_h on the source)). The source language is fixed, its sentences are a sample.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from crossling.analysis.crossed import (
    Design,
    crossed_bootstrap,
    per_seed_values,
    shared_replicates,
    variance_components,
)
from crossling.analysis.hierarchical import _bootstrap
from crossling.core.stats import percentile_interval

INTERVALS = ("v1 nested", "crossed percentile", "crossed vc", "t across seeds")
"""The intervals `coverage` compares, in the order of its table."""
SCALE = 100.0


@dataclass(frozen=True)
class Scenario:
    """The sizes and standard deviations (per sentence, on the 0-1 scale) of a simulated study."""

    name: str
    seeds: int = 5
    targets: int = 18
    sentences: int = 200
    sd_seed: float = 0.01
    sd_lang: float = 0.01
    sd_sentence: float = 0.05
    sd_noise: float = 0.1
    sd_common: float = 0.1
    mu_target: tuple[float, float, float] = (0.60, 0.45, 0.58)
    """Target means of (REF, g, h)."""
    mu_source: tuple[float, float, float] = (0.90, 0.88, 0.89)

    @property
    def truth(self) -> float:
        """The population contrast gap(g) - gap(h), in points."""
        t, s = self.mu_target, self.mu_source
        return SCALE * ((t[1] - t[2]) - (s[1] - s[2]))


@dataclass(frozen=True)
class Study:
    """One simulated study: the crossed design of the contrast, and v1's per-score inputs
    (value [S, L], sd [S, L], source value [S], source sd [S]) for REF, g and h."""

    design: Design
    v1: tuple[tuple[np.ndarray, ...], ...]


def simulate(sc: Scenario, rng: np.random.Generator) -> Study:
    """Draw one study of scenario ``sc``."""
    n_k, n, n_s = sc.targets + 1, sc.sentences, sc.seeds
    mu = np.array([sc.mu_source, *[sc.mu_target] * sc.targets])  # [K, G]
    b = rng.normal(0, sc.sd_lang, (n_k, 3))
    b[0] = 0.0  # the source is fixed, not drawn from the language population
    a = rng.normal(0, sc.sd_seed, (3, n_s))
    u = rng.normal(0, sc.sd_common, n_k)
    v = rng.normal(0, sc.sd_common, (n_k, n))
    c = rng.normal(0, sc.sd_sentence, (n_k, n, 3))
    e = rng.normal(0, sc.sd_noise, (n_k, n, 3, n_s))
    a = a[None] * (np.arange(n_k) > 0)[:, None, None]  # a seed's effect on transfer: targets
    x = ((mu + b)[:, None, :, None] + a[:, None] + u[:, None, None, None]
         + v[:, :, None, None] + c[..., None] + e)
    den = (1 + rng.poisson(15, (n_k, n)))[:, :, None, None] * np.ones_like(x)
    num = den * x
    design = Design(list(num), list(den), np.full((3, n_s), SCALE), np.array([0.0, 1.0, -1.0]))
    score = SCALE * num.sum(axis=1) / den.sum(axis=1)  # [K, G, S]
    resid = num - (score / SCALE)[:, None] * den
    sd = SCALE * np.sqrt((resid ** 2).sum(axis=1)) / den.sum(axis=1)
    v1 = tuple((score[1:, g].T, sd[1:, g].T, score[0, g], sd[0, g]) for g in range(3))
    return Study(design, v1)


def intervals(study: Study, rng: np.random.Generator, n_boot: int
              ) -> dict[str, tuple[float, float]]:
    """The four 95% intervals of the contrast, by name (`INTERVALS`)."""
    values = per_seed_values(study.design)
    shared = shared_replicates(study.design, rng, n_boot)
    ref, group, other = study.v1
    n_targets = len(study.design.num) - 1
    t = stats.t.interval(0.95, values.size - 1, loc=values.mean(), scale=stats.sem(values))
    return {
        "v1 nested": percentile_interval(_bootstrap(group, ref, other, rng, n_boot)),
        "crossed percentile": percentile_interval(crossed_bootstrap(shared, rng)),
        "crossed vc": variance_components(values, shared, n_targets).interval(values.mean()),
        "t across seeds": (float(t[0]), float(t[1])),
    }


def coverage(sc: Scenario, studies: int, n_boot: int, seed: int = 0) -> pd.DataFrame:
    """Per interval: share of ``studies`` simulated studies whose interval holds the truth,
    its Monte Carlo standard error, and the mean width (points)."""
    rng = np.random.default_rng(seed)
    hits = {name: 0 for name in INTERVALS}
    widths: dict[str, list[float]] = {name: [] for name in INTERVALS}
    for _ in range(studies):
        for name, (lo, hi) in intervals(simulate(sc, rng), rng, n_boot).items():
            hits[name] += int(lo <= sc.truth <= hi)
            widths[name].append(hi - lo)
    rows = []
    for name in INTERVALS:
        cov = hits[name] / studies
        rows.append({"scenario": sc.name, "seeds": sc.seeds, "targets": sc.targets,
                     "sentences": sc.sentences, "interval": name, "coverage": cov,
                     "mc_se": math.sqrt(cov * (1 - cov) / studies),
                     "mean_width": float(np.mean(widths[name])), "studies": studies,
                     "n_boot": n_boot, "truth": sc.truth})
    return pd.DataFrame(rows)


def markdown_table(table: pd.DataFrame) -> str:
    """`coverage` rows as the Markdown table docs/statistics.md quotes: coverage per scenario
    and seeds (rows) and interval (columns), three decimals."""
    cov = table.pivot_table(index=["scenario", "seeds"], columns="interval", values="coverage",
                            sort=False)
    head = ["scenario", "seeds", *INTERVALS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key, row in cov.iterrows():
        scenario, seeds = key if isinstance(key, tuple) else (key, "")
        cells = [str(scenario), str(seeds), *(f"{row[name]:.3f}" for name in INTERVALS)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
