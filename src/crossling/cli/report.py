"""``crossling report STUDY``: Markdown + HTML report of a study's results store."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from crossling.cli.run import default_store
from crossling.errors import ConfigError
from crossling.experiments.store import ResultStore
from crossling.experiments.study import expand, load_study
from crossling.report.render import build_report


def _report(args: argparse.Namespace) -> int:
    study = load_study(args.study, data=args.data)
    store_path = default_store(args.study, args.store)
    if not store_path.is_file():
        raise ConfigError(f"{store_path}: no results store; run `crossling run {args.study}` "
                          "first")
    store = ResultStore(store_path)
    keys = {c.key for c in expand(study)}  # cells of the study as it is now
    scores = store.score_rows(study.name, keys)
    sims = store.similarity_rows(study.name, keys)
    if not scores and not sims:
        raise ConfigError(f"{store_path}: no finished cells for study {study.name!r}")
    out = Path(args.out) if args.out else store_path.parent / "report"
    index = build_report(scores, sims, out, title=f"crossling report: {study.name}",
                         measure=args.measure)
    cells = [c for c in store.cells(study.name) if c["key"] in keys]
    done = sum(c["status"] == "done" for c in cells)
    print(f"{done}/{len(cells)} cells done; wrote {out / 'report.md'} and {index}")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("report", help="Markdown + HTML report of a study")
    p.add_argument("study", help="study YAML file")
    p.add_argument("--store", default=None, help="results database (default: as crossling run)")
    p.add_argument("--data", default=None, help="data folder overriding the study's paths")
    p.add_argument("--out", default=None, help="output folder (default: next to the store)")
    p.add_argument("--measure", default="linear_cka", help="similarity measure to report")
    p.set_defaults(func=_report)
