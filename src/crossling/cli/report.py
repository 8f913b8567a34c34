"""``crossling report STUDY``: Markdown + HTML report of a study's results store."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from crossling.cli.run import check_output_folder, default_store
from crossling.errors import ConfigError
from crossling.experiments.store import ResultStore
from crossling.experiments.study import expand, load_study
from crossling.report.render import HEADLINE_MEASURE, build_report
from crossling.similarity.measures import get_measure, measure_ids


def _progress(statuses: dict[str, str | None]) -> str:
    """``done/total cells done`` over the cells of the study as it is now, and what the rest
    are; a cell the store has never seen (the study grew since the last run) is pending."""
    done = sum(s == "done" for s in statuses.values())
    missing = sum(s is None for s in statuses.values())
    counts: dict[str, int] = {}
    for s in statuses.values():
        if s != "done":
            counts[s or "pending"] = counts.get(s or "pending", 0) + 1
    parts = [f"{n} {s}" for s, n in sorted(counts.items())]
    if missing:
        parts.append(f"{missing} not in the store yet (`crossling run` adds and runs them)")
    return f"{done}/{len(statuses)} cells done" + (f" ({', '.join(parts)})" if parts else "")


def _report(args: argparse.Namespace) -> int:
    # Everything that can be checked without work is checked first.
    if args.measure is not None:
        try:
            get_measure(args.measure)
        except ConfigError as exc:
            raise ConfigError(f"--measure {args.measure}: {exc}") from None
    store_path = default_store(args.study, args.store)
    if not store_path.exists():
        raise ConfigError(f"{store_path}: no results store; run `crossling run {args.study}` "
                          "first")
    store = ResultStore(store_path, readonly=True)  # a report never creates or changes a store
    out = Path(args.out) if args.out else store_path.parent / "report"
    check_output_folder(out, "--out")
    study = load_study(args.study, data=args.data)
    # The cells of the study as it is now, looked up by key (the key, not the study's name,
    # identifies a result: `crossling run` reuses a finished cell whatever study added it).
    keys = [c.key for c in expand(study)]
    known = {c["key"]: c["status"] for c in store.cells()}
    progress = _progress({k: known.get(k) for k in keys})
    scores = store.score_rows(None, set(keys))
    sims = store.similarity_rows(None, set(keys))
    if not scores and not sims:
        raise ConfigError(f"{store_path}: no finished cells for study {study.name!r} "
                          f"({progress})")
    present = {r.metric for r in sims}
    if args.measure is not None and sims and args.measure not in present:
        raise ConfigError(f"--measure {args.measure}: not among the store's similarity rows "
                          f"for this study (present: {', '.join(sorted(present))})")
    index = build_report(scores, sims, out, title=f"crossling report: {study.name}",
                         measure=args.measure or HEADLINE_MEASURE)
    print(f"{progress}; wrote {out / 'report.md'} and {index}")
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
