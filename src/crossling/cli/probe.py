"""``crossling probe``: a linear UPOS probe per layer, trained on English, applied to targets."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from crossling.analysis.probing import best_layers, layer_table, probe_frame
from crossling.cli.options import add_forward_options
from crossling.core.atomic import check_output_dir
from crossling.core.errors import SettingError
from crossling.core.manifest import check_outputs
from crossling.core.settings import as_flag
from crossling.probing.fit import DEFAULT_L2, DEFAULT_MAX_ITER
from crossling.probing.settings import DEFAULT_MAX_TRAIN_SENTENCES, ProbeSettings
from crossling.report.probing import PROBE_OUTPUTS, write_probe_outputs
from crossling.report.tables import probe_table
from crossling.workflows.probe import probe

FLAGS = {"source_train": "--train"}
"""Settings whose flag is not ``--name-with-dashes``."""


def _limit(text: str) -> int | None:
    """``--max-train-sentences``: a positive integer, or ``all``."""
    if text.lower() == "all":
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: a positive integer or 'all'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value}: must be >= 1 (or 'all')")
    return value


def _probe(args: argparse.Namespace) -> int:
    try:
        settings = ProbeSettings(
            source_train=args.train, source=args.source, targets=args.targets,
            layers=args.layers, max_train_sentences=args.max_train_sentences,
            max_eval_sentences=args.max_eval_sentences, n_boot=args.n_boot, seed=args.seed,
            l2=args.l2, max_iter=args.max_iter, batch_tokens=args.batch_tokens,
            precision=args.precision,
            device=args.device, allow_test_training=args.allow_test_training)
        out = check_output_dir(args.out)  # before minutes of extraction
        check_outputs(out, PROBE_OUTPUTS)  # a user's own file there is never replaced
        rows = probe(args.model, args.data, settings,
                     cache_dir=Path(args.cache) if args.cache else out / "cache")
    except SettingError as exc:
        raise as_flag(exc, FLAGS) from None
    frame = probe_frame(rows)
    accuracy = layer_table(frame, "upos_acc")
    selectivity = layer_table(frame, "selectivity").drop(index="majority", errors="ignore")
    summary = probe_table(best_layers(frame))
    written = write_probe_outputs(rows, out, {"accuracy-by-layer": accuracy,
                                              "selectivity-by-layer": selectivity})
    prov = rows[0].provenance
    print(f"\nUPOS accuracy of a linear probe per layer (trained on {args.train}: "
          f"{prov['n_train_sentences']} sentences; last row: majority tag "
          f"{prov['majority_tag']}):")
    print(accuracy.to_string(float_format=lambda v: f"{v:.1f}"))
    print("\nselectivity (accuracy - control-task accuracy, Hewitt & Liang 2019):")
    print(selectivity.to_string(float_format=lambda v: f"{v:.1f}"))
    print("\nbest layer per language [95% bootstrap CI over sentences]:")
    print(summary.to_string(index=False))
    print(f"\nwrote {written['csv']} (provenance by run_id in {out / 'provenance.json'}), "
          f"{written['json']}, {written['png']}, {written['accuracy-by-layer']}, "
          f"{written['selectivity-by-layer']}")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("probe", help="layer-wise linear UPOS probe with zero-shot transfer",
                       description="Freeze the encoder, fit a linear UPOS probe per layer on "
                                   "English EWT word vectors and evaluate it unchanged on the "
                                   "source's and every target's PUD test set, with bootstrap "
                                   "CIs, the majority baseline and a control task "
                                   "(selectivity).")
    p.add_argument("--model", required=True, help="HF Hub name or local model folder")
    p.add_argument("--data", required=True, help="UD folder (or its parent holding ud/)")
    p.add_argument("--train", default="en_ewt",
                   help="training treebank spec or file (default: en_ewt, its train split)")
    p.add_argument("--source", default="en",
                   help="source-language test set (default: en, English PUD)")
    p.add_argument("--targets", nargs="+", default=None,
                   help="target test sets (default: every other PUD language)")
    p.add_argument("--layers", nargs="+", type=int, default=None,
                   help="hidden states to probe, 0 = embeddings (default: all)")
    p.add_argument("--allow-test-training", action="store_true",
                   help="allow a test split as --train (refused by default)")
    p.add_argument("--max-train-sentences", type=_limit, default=DEFAULT_MAX_TRAIN_SENTENCES,
                   help=f"training sentences, a fixed-seed subsample (default "
                        f"{DEFAULT_MAX_TRAIN_SENTENCES}; 'all' for the whole treebank)")
    p.add_argument("--max-eval-sentences", type=_limit, default=None,
                   help="first N sentences of each test set (default: all)")
    p.add_argument("--n-boot", type=int, default=1000,
                   help="bootstrap resamples for the intervals (0 = no interval)")
    p.add_argument("--seed", type=int, default=0, help="control-task and bootstrap seed")
    p.add_argument("--l2", type=float, default=DEFAULT_L2,
                   help=f"the probe's fixed L2 penalty (default {DEFAULT_L2:g})")
    p.add_argument("--max-iter", type=int, default=DEFAULT_MAX_ITER,
                   help=f"L-BFGS iterations per probe (default {DEFAULT_MAX_ITER})")
    add_forward_options(p)
    p.add_argument("--cache", default=None,
                   help="folder for cached word vectors (default: OUT/cache)")
    p.add_argument("--out", default="runs/probe", help="output folder")
    p.set_defaults(func=_probe)
