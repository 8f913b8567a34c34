"""``crossling report STUDY``: Markdown + HTML report of a study's results store."""

from __future__ import annotations

import argparse
from typing import Any

from crossling.experiments.workflows import study_report
from crossling.similarity.measures import HEADLINE_MEASURE, measure_ids


def _report(args: argparse.Namespace) -> int:
    report = study_report(args.study, store=args.store, data=args.data, out=args.out,
                          measure=args.measure)
    print(f"{report.progress}; wrote {report.out / 'report.md'} and {report.index}")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("report", help="Markdown + HTML report of a study")
    p.add_argument("study", help="study YAML file")
    p.add_argument("--store", default=None, help="results database (default: as crossling run)")
    p.add_argument("--data", default=None, help="data folder overriding the study's paths")
    p.add_argument("--out", default=None, help="output folder (default: next to the store)")
    p.add_argument("--measure", default=None, metavar="NAME",
                   help=f"similarity measure of the tables ({', '.join(measure_ids())}; default "
                        f"{HEADLINE_MEASURE}, or linear_cka when the store lacks it)")
    p.set_defaults(func=_report)
