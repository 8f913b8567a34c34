"""``crossling similarity``: per-layer CKA between languages (and between two models)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from crossling.cli.options import add_forward_options
from crossling.core.atomic import check_output_dir
from crossling.core.errors import SettingError
from crossling.core.manifest import check_outputs
from crossling.core.settings import as_flag
from crossling.report.plots import SIMILARITY_OUTPUTS, write_similarity_outputs
from crossling.report.tables import similarity_table
from crossling.results import CrossLingualRow, LayerDifferenceRow, SimilarityRow
from crossling.similarity.measures import HEADLINE_MEASURE, interval_kind, measure_ids
from crossling.similarity.pooling import POOLINGS
from crossling.similarity.settings import SimilaritySettings
from crossling.similarity.uncertainty import DEFAULT_MEASURES
from crossling.workflows.similarity import Models, run_similarity


def add_similarity_options(p: argparse.ArgumentParser) -> None:
    """Options shared by ``similarity`` and ``demo``."""
    p.add_argument("--measures", nargs="+", default=list(DEFAULT_MEASURES),
                   choices=measure_ids(),
                   help="similarity measures (default: all; debiased_cka is the headline)")
    p.add_argument("--pooling", default="mean", choices=sorted(POOLINGS),
                   help="sentence pooling (default: mean over word-pieces without specials)")
    p.add_argument("--n-boot", type=int, default=200,
                   help="bootstrap resamples for the intervals (0 = no interval)")
    p.add_argument("--n-null", type=int, default=100,
                   help="permutations for the null (0 = no null)")
    p.add_argument("--seed", type=int, default=0)
    add_forward_options(p)
    p.add_argument("--cache", default=None,
                   help="folder for cached sentence vectors (default: OUT/cache)")


def similarity_settings(args: argparse.Namespace) -> SimilaritySettings:
    """The settings of ``similarity`` / ``demo`` from their options (a bad value: a
    SettingError naming the setting)."""
    return SimilaritySettings(
        measures=args.measures, pooling=args.pooling, n=args.n, n_boot=args.n_boot,
        n_null=args.n_null, seed=args.seed, layers=getattr(args, "layers", None),
        batch_tokens=args.batch_tokens, device=args.device, precision=args.precision,
        layer_difference=getattr(args, "layer_difference", False))


def similarity_command(args: argparse.Namespace, model: str, data: Path, source: str,
                       out: Path) -> list[SimilarityRow]:
    """Check the options, run the similarity workflow, write the outputs, print the table.

    ``args`` holds the options of `add_similarity_options` and ``targets``, ``n`` (and,
    for ``similarity``, ``compare_model``, ``layers``, ``layer_difference``, ``cache``). A bad
    setting is one line naming its flag."""
    try:
        settings = similarity_settings(args)
        cache = Path(args.cache) if args.cache else out / "cache"
        check_output_dir(out)  # before any sentence is encoded
        check_outputs(out, SIMILARITY_OUTPUTS)  # a user's own file there is never replaced
        check_output_dir(cache, "cache")
        models = Models(model, compare=getattr(args, "compare_model", None))
        rows = run_similarity(models, data, source, targets=args.targets, settings=settings,
                              cache_dir=cache)
    except SettingError as exc:
        raise as_flag(exc) from None
    written = write_similarity_outputs(rows, out)
    _print_summary(rows, args, source)
    print(f"\nwrote {written['csv']} (provenance by run_id in "
          f"{Path(written['csv']).parent / 'provenance.json'}), {written['json']}, "
          f"{written['png']}")
    return rows


def _print_summary(rows: list[SimilarityRow], args: argparse.Namespace, source: str) -> None:
    """The headline measure's table and interval kind, and its layer differences."""
    cross = [r for r in rows if isinstance(r, CrossLingualRow)]
    main = HEADLINE_MEASURE if HEADLINE_MEASURE in args.measures else args.measures[0]
    print(f"\n{main} per layer ({source} vs target; n = {cross[0].n} parallel sentences, "
          f"pooling = {args.pooling}):")
    print(similarity_table(cross, main).to_string(float_format=lambda v: f"{v:.3f}"))
    print(f"interval (ci_low, ci_high in similarity.csv): "
          f"{interval_kind(main, args.n_boot)}")
    falls = [r for r in rows if isinstance(r, LayerDifferenceRow) and r.metric == main]
    if falls:
        print(f"\n{main}, peak layer minus top layer (paired bootstrap 95% interval; "
              "p = share of resamples with top >= peak):")
        for r in falls:
            p = r.provenance["layer_difference"]["p_top_ge_peak"]
            print(f"  {r.target}: layer {r.layer} - layer {r.compare_layer} = {r.value:.3f} "
                  f"[{r.ci_low:.3f}, {r.ci_high:.3f}], p = {p:.3f}")


def _similarity(args: argparse.Namespace) -> int:
    similarity_command(args, args.model, Path(args.data), args.source, Path(args.out))
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("similarity", help="per-layer cross-lingual (and model-model) CKA",
                       description="Per-layer similarity of mean-pooled sentence vectors of "
                                   "parallel sentences, with bootstrap CIs and a null.")
    p.add_argument("--model", required=True, help="HF Hub name or local model folder")
    p.add_argument("--data", required=True, help="UD folder holding the PUD treebanks")
    p.add_argument("--source", default="en", help="source language (default: en)")
    p.add_argument("--targets", nargs="+", default=None,
                   help="target languages or treebanks (default: every PUD language)")
    p.add_argument("--compare-model", default=None,
                   help="second model: also compute model-vs-model similarity per layer")
    p.add_argument("--n", type=int, default=None, help="use the first N aligned sentences")
    p.add_argument("--out", default="runs/similarity", help="output folder")
    p.add_argument("--layers", nargs="+", type=int, default=None,
                   help="hidden states to compare, 0 = embeddings (default: all)")
    p.add_argument("--layer-difference", action="store_true",
                   help="also test the fall at the top: per target and measure, peak layer "
                        "minus last layer with a paired bootstrap interval "
                        "(rows of kind layer-difference)")
    add_similarity_options(p)
    p.set_defaults(func=_similarity)
