"""``crossling run STUDY``: run a study's grid resumably (local or Ray)."""

from __future__ import annotations

import argparse
from typing import Any

from crossling.cli.options import add_precision_option
from crossling.core.errors import SettingError
from crossling.core.settings import as_flag
from crossling.experiments.executors import EXECUTORS, RunSettings
from crossling.experiments.grid import estimate_cost
from crossling.experiments.workflows import CELL_KINDS, plan_study


def _run(args: argparse.Namespace) -> int:
    try:
        settings = RunSettings(executor=args.executor, retry_failed=args.retry_failed,
                               address=args.address)
    except SettingError as exc:
        raise as_flag(exc) from None
    plan = plan_study(args.study, store=args.store, data=args.data, only=args.only,
                      precision=args.precision)
    study, cells, store = plan.study, plan.cells, plan.store
    if args.dry_run:
        print(f"study {study.name}: {len(cells)} cells (store {plan.store_path})")
        for c in cells:
            deps = f"  after {', '.join(c.depends_on)}" if c.depends_on else ""
            print(f"  {c.key}  {store.status(c.key):8s} {c.label}{deps}")
        passes = estimate_cost(cells)
        print("estimated cost (sentence passes): " +
              ", ".join(f"{k} {v:,.0f}" for k, v in passes.items()))
        if args.tokens_per_s:
            secs = estimate_cost(cells, args.tokens_per_s)
            minutes = sum(secs.values()) / 60
            print(f"estimated time at {args.tokens_per_s:.0f} tokens/s: {minutes:.0f} min")
        return 0
    if args.threads:
        import torch  # lazily: --help and --dry-run stay fast

        torch.set_num_threads(args.threads)
    outcome = plan.run(settings)
    counts = outcome.counts
    print(f"study {study.name}: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    for label, error in outcome.failed:
        print(f"  failed: {label}: {error}")
    for label, why in outcome.unfinished:
        print(f"  not finished: {label}: {why}")
    return 0 if counts.get("failed", 0) == 0 and not outcome.unfinished else 1


def register(sub: Any) -> None:
    p = sub.add_parser("run", help="run a study grid resumably (local or Ray)")
    p.add_argument("study", help="study YAML file")
    p.add_argument("--dry-run", action="store_true", help="list cells and estimate cost")
    p.add_argument("--executor", choices=sorted(EXECUTORS), default="local")
    p.add_argument("--address", default=None, help="Ray cluster address (default: local)")
    p.add_argument("--store", default=None,
                   help="results database (default runs/<study>/results.sqlite; an empty file "
                        "is taken as a new store, any other non-SQLite file is refused)")
    p.add_argument("--data", default=None, help="data folder overriding the study's data paths")
    p.add_argument("--only", choices=CELL_KINDS, default=None)
    add_precision_option(p, default=None, default_text="the study's, else fp32")
    p.add_argument("--retry-failed", action="store_true")
    p.add_argument("--tokens-per-s", type=float, default=None,
                   help="measured forward tokens/s, to turn the cost estimate into time")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads of this worker (e.g. 1 each for two workers sharing "
                        "one --store on 2 cores: bench/workers.py)")
    p.set_defaults(func=_run)
