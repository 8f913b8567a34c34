"""``crossling retrieval``: per-layer parallel sentence retrieval (P@1), source vs targets."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from crossling.analysis.retrieval import layer_table, retrieval_frame
from crossling.cli.options import add_forward_options
from crossling.core.atomic import check_output_dir
from crossling.core.errors import SettingError
from crossling.core.manifest import check_outputs
from crossling.core.settings import as_flag
from crossling.data.specs import find_ud_folder
from crossling.report.retrieval_plots import RETRIEVAL_OUTPUTS, write_retrieval_outputs
from crossling.retrieval.metrics import VARIANTS
from crossling.retrieval.settings import RetrievalSettings
from crossling.similarity.pooling import POOLINGS
from crossling.workflows.retrieval import run_retrieval


def _settings(args: argparse.Namespace) -> RetrievalSettings:
    return RetrievalSettings(variants=args.variants, pooling=args.pooling, n=args.n,
                             n_boot=args.n_boot, n_null=args.n_null, seed=args.seed,
                             layers=args.layers, batch_tokens=args.batch_tokens,
                             precision=args.precision,
                             device=args.device)


def _retrieval(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except SettingError as exc:  # a setting is named by its flag
        raise as_flag(exc) from None


def _run(args: argparse.Namespace) -> int:
    settings = _settings(args)
    out = check_output_dir(args.out)
    check_outputs(out, RETRIEVAL_OUTPUTS)  # a user's own file there is never replaced
    ud = find_ud_folder(args.data)
    rows = run_retrieval(args.model, ud, args.source, targets=args.targets, settings=settings,
                         cache_dir=Path(args.cache) if args.cache else out / "cache")
    written = write_retrieval_outputs(rows, out)
    frame = retrieval_frame(rows)
    main = args.variants[0]
    print(f"\nP@1 per layer, {main} scoring, mean of the two directions ({args.source}→target "
          f"and target→{args.source}; n = {frame['n'].iloc[0]} candidates, "
          f"pooling = {args.pooling}):")
    print(layer_table(frame, main).to_string(float_format=lambda v: f"{v:.3f}"))
    print("each direction with its 95% bootstrap CI over query sentences and the shuffled-pairs "
          "null: retrieval.csv (metric retrieval_p1[_variant]_s2t / _t2s)")
    print(f"\nwrote {written['csv']} (provenance by run_id in "
          f"{Path(written['csv']).parent / 'provenance.json'}), {written['json']}, "
          f"{written['png']}")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser(
        "retrieval", help="per-layer parallel sentence retrieval (P@1), source vs targets",
        description="Precision@1 of retrieving each PUD sentence's translation among the n "
                    "candidates, per layer, both directions, by cosine, centred cosine "
                    "(Libovický et al. 2020) and ratio margin (Artetxe & Schwenk 2019), with "
                    "95% bootstrap CIs over query sentences and the chance level.")
    p.add_argument("--model", required=True, help="HF Hub name or local model folder")
    p.add_argument("--data", required=True,
                   help="UD folder holding the PUD treebanks (or its parent)")
    p.add_argument("--source", default="en", help="source language (default: en)")
    p.add_argument("--targets", nargs="+", default=None,
                   help="target languages or treebanks (default: every PUD language)")
    p.add_argument("--n", type=int, default=None,
                   help="use the first N aligned sentences (the candidate pool size)")
    p.add_argument("--layers", nargs="+", type=int, default=None,
                   help="hidden states to score, 0 = embeddings (default: all)")
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS,
                   help="scorings (default: all; the first one is printed)")
    p.add_argument("--pooling", default="mean", choices=sorted(POOLINGS),
                   help="sentence pooling (default: mean over word-pieces without specials)")
    p.add_argument("--n-boot", type=int, default=1000,
                   help="bootstrap resamples of the query sentences (0 = no interval)")
    p.add_argument("--n-null", type=int, default=200,
                   help="shuffled pairings for the null's 95th percentile (0 = none)")
    p.add_argument("--seed", type=int, default=0)
    add_forward_options(p)
    p.add_argument("--cache", default=None,
                   help="folder for cached sentence vectors (default: OUT/cache; the same "
                        "folder as `crossling similarity --cache` reuses its vectors)")
    p.add_argument("--out", default="runs/retrieval", help="output folder")
    p.set_defaults(func=_retrieval)
