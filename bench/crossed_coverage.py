"""Coverage of the P2 intervals on simulated crossed studies with a known truth (issue 28).

Run: ``python bench/crossed_coverage.py`` (``--quick`` for a smoke run). For each scenario
(`crossling.analysis.coverage.Scenario`: which variance dominates) and 3 and 5 seeds, simulates
``--studies`` studies of 18 targets x ``--sentences`` sentences, computes the v1 nested
bootstrap, the crossed percentile bootstrap, the crossed variance-components interval and the
t-interval across seeds of C = gap(1-2) - gap(11-12), and prints and writes (``--out``, default
docs/crossed-coverage.csv) the share of intervals holding the true contrast; the Markdown
table it prints last is the one docs/statistics.md quotes. Single-threaded
BLAS: the matrices are small, threads only contend.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
from threadpoolctl import threadpool_limits

from crossling.analysis.coverage import Scenario, coverage, markdown_table

SCENARIOS = [
    Scenario("languages", sd_lang=0.05),
    Scenario("seeds", sd_seed=0.04),
    Scenario("sentences", sd_sentence=0.3),
    Scenario("mixed", sd_seed=0.02, sd_lang=0.03, sd_sentence=0.15),
]
"""Per-sentence sds (0-1 scale) of the component that dominates; the others at defaults."""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--studies", type=int, default=250)
    p.add_argument("--boot", type=int, default=400)
    p.add_argument("--sentences", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("docs/crossed-coverage.csv"))
    p.add_argument("--quick", action="store_true", help="20 studies, 100 resamples")
    args = p.parse_args()
    studies, boot = (20, 100) if args.quick else (args.studies, args.boot)
    frames = []
    with threadpool_limits(1):
        for base in SCENARIOS:
            for seeds in (3, 5):
                sc = replace(base, seeds=seeds, sentences=args.sentences)
                t0 = time.perf_counter()
                df = coverage(sc, studies, boot, seed=args.seed)
                frames.append(df)
                print(df[["scenario", "seeds", "interval", "coverage", "mc_se", "mean_width"]]
                      .to_string(index=False, header=len(frames) == 1, float_format="%.3f"),
                      f"\n  ({time.perf_counter() - t0:.0f} s)", flush=True)
    out = pd.concat(frames, ignore_index=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(args.out, index=False, float_format="%.4f")
    print(markdown_table(pd.read_csv(args.out)))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
