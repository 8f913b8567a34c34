"""``crossling run STUDY``: run a study's grid resumably (local or Ray)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from crossling.errors import ConfigError
from crossling.experiments.executors import EXECUTORS
from crossling.experiments.store import ResultStore, check_store_file
from crossling.experiments.study import estimate_cost, expand, load_study


def default_store(study_path: str | Path, store: str | None) -> Path:
    """``runs/<study name>/results.sqlite`` unless ``--store`` says otherwise."""
    return Path(store) if store else Path("runs") / Path(study_path).stem / "results.sqlite"


def check_output_folder(folder: Path, what: str) -> None:
    """Fail now, with one line, if ``folder`` cannot be created or written: a file in the way
    or a read-only folder would otherwise surface only after the work it was meant to keep
    (hashing the model and data, training, building a report)."""
    existing = folder
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        where = "" if existing == folder else f" ({existing} is in the way)"
        raise ConfigError(f"{what} {folder}: a file, not a folder{where}")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"{what} {folder}: {existing} is not writable")


def check_run_outputs(store_path: Path) -> None:
    """Everything ``crossling run`` writes: the store (an existing file must be a writable
    results store; a 0-byte file is taken as a new one, as SQLite does) and the cells' working
    folders beside it."""
    check_output_folder(store_path.parent, "--store folder")
    check_store_file(store_path)
    if store_path.exists() and not os.access(store_path, os.W_OK):
        raise ConfigError(f"{store_path}: results store is read-only")
    check_output_folder(store_path.parent / "cells", "cells folder")


def _run(args: argparse.Namespace) -> int:
    store_path = default_store(args.study, args.store)
    check_run_outputs(store_path)  # before hashing the model and the data
    study = load_study(args.study, data=args.data)
    cells = expand(study)
    if args.only:
        cells = [c for c in cells if c.kind == args.only]
    store = ResultStore(store_path)
    store.add_cells(study.name, cells)
    if args.dry_run:
        print(f"study {study.name}: {len(cells)} cells (store {store_path})")
        for c in cells:
            deps = f"  after {', '.join(c.depends_on)}" if c.depends_on else ""
            print(f"  {c.key}  {store.status(c.key):8s} {c.label}{deps}")
        passes = estimate_cost(study, cells)
        print("estimated cost (sentence passes): " +
              ", ".join(f"{k} {v:,.0f}" for k, v in passes.items()))
        if args.tokens_per_s:
            secs = estimate_cost(study, cells, args.tokens_per_s)
            minutes = sum(secs.values()) / 60
            print(f"estimated time at {args.tokens_per_s:.0f} tokens/s: {minutes:.0f} min")
        return 0
    workdir = store_path.parent / "cells"
    kwargs: dict[str, Any] = {"retry_failed": args.retry_failed}
    if args.executor == "ray":
        kwargs["address"] = args.address
    counts = EXECUTORS[args.executor](cells, store, workdir, **kwargs)
    print(f"study {study.name}: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    for info in store.cells(study.name):
        if info["status"] == "failed":
            print(f"  failed: {info['label']}: {info['error']}")
    return 0 if counts.get("failed", 0) == 0 else 1


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
    p.add_argument("--only", choices=["similarity", "finetune", "similarity_ft"], default=None)
    p.add_argument("--retry-failed", action="store_true")
    p.add_argument("--tokens-per-s", type=float, default=None,
                   help="measured forward tokens/s, to turn the cost estimate into time")
    p.set_defaults(func=_run)
