"""``crossling finetune``: fine-tune on the source language, evaluate zero-shot on targets."""

from __future__ import annotations

import argparse
from typing import Any

import pandas as pd

from crossling.cli.options import add_precision_option
from crossling.core.errors import SettingError
from crossling.core.settings import as_flag
from crossling.models.reinit import SCHEMES
from crossling.training.finetune import AS_EVAL, SourceLimit
from crossling.training.loop import TrainConfig
from crossling.training.tasks import TASKS
from crossling.workflows.finetune import FinetuneSettings, prepare_finetune

FLAGS = {"evals": "--eval"}
"""Settings whose flag is not ``--name-with-dashes``."""

TRAINING = ("epochs", "batch_size", "lr", "head_lr", "max_length", "device", "precision")
"""TrainConfig fields the command sets (only when given: TrainConfig's defaults are its own)."""


def _settings(args: argparse.Namespace) -> FinetuneSettings:
    given = {k: getattr(args, k) for k in TRAINING if getattr(args, k) is not None}
    return FinetuneSettings(
        task=args.task, model=args.model, train=args.train, dev=args.dev, test=args.test,
        evals=args.eval, allow_test_training=args.allow_test_training, reinit=args.reinit,
        reinit_scheme=args.reinit_scheme, seed=args.seed, training=TrainConfig(**given),
        max_train_sentences=args.max_train_sentences,
        max_eval_sentences=args.max_eval_sentences,
        max_source_sentences=_source_sentences(args.max_source_sentences))


def _source_sentences(value: str | None) -> SourceLimit:
    """``--max-source-sentences``: absent (`AS_EVAL`), ``all`` (None) or a number (checked by
    the settings)."""
    if value is None:
        return AS_EVAL
    if value.strip().lower() == "all":
        return None
    try:
        return int(value)
    except ValueError:
        raise SettingError("max_source_sentences", f"must be a number of sentences or 'all', "
                                                   f"got {value!r}") from None


def _finetune(args: argparse.Namespace) -> int:
    try:
        job = prepare_finetune(_settings(args), data=args.data, out=args.out)
        print(f"output folder: {job.out}", flush=True)
        rows = job.run(overwrite=args.overwrite)
    except SettingError as exc:
        raise as_flag(exc, FLAGS) from None
    out = job.out
    table = pd.DataFrame([{"language": r.language, "metric": r.metric, "score": r.value,
                           "95% CI": f"[{r.ci_low:.1f}, {r.ci_high:.1f}]",
                           "sentences": r.n_sentences} for r in rows])
    print(f"\n{args.task} · {args.model} · reinit {job.settings.reinit} · seed {args.seed}")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    print(f"\nwrote {out / 'scores.csv'} (provenance by run_id in {out / 'provenance.json'}), "
          f"{out / 'scores.json'} and the model in {out}")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("finetune", help="fine-tune on the source, evaluate zero-shot on targets",
                       description="Fine-tune an encoder on a task in the source language "
                                   "(optionally after re-initialising layers) and evaluate it "
                                   "unchanged on target languages.")
    p.add_argument("--task", required=True, choices=sorted(TASKS))
    p.add_argument("--model", required=True, help="HF Hub name or local model folder")
    p.add_argument("--data", default=None,
                   help="data folder (with ud/ and ner/) used to resolve language specs")
    p.add_argument("--train", nargs="+", help="training files or specs (default en_ewt / en)")
    p.add_argument("--dev", nargs="+", help="dev files or specs (default: the train treebank)")
    p.add_argument("--test", default=None, help="source test set (default: en, i.e. en PUD "
                                                "for pos/parsing, WikiANN en for ner)")
    p.add_argument("--eval", nargs="+", help="target test sets: files or specs (fr de ...)")
    p.add_argument("--reinit", default="REF",
                   help="re-initialise blocks before fine-tuning: REF, 1-2, 11-12, emb, or one "
                        "group of a preset for the model's depth: pairs:k, thirds:k, "
                        "quarters:k, each:k")
    p.add_argument("--reinit-scheme", default="model", choices=SCHEMES)
    p.add_argument("--seed", type=int, default=0)
    # defaults: TrainConfig's (one place: the Python API and studies use the same)
    p.add_argument("--epochs", type=int, default=None, help="training epochs (default 3)")
    p.add_argument("--batch-size", type=int, default=None, help="sentences per batch "
                                                                "(default 32)")
    p.add_argument("--lr", type=float, default=None, help="encoder learning rate "
                                                          "(default 5e-5)")
    p.add_argument("--head-lr", type=float, default=None, help="task head learning rate "
                                                               "(default 1e-3)")
    p.add_argument("--max-length", type=int, default=None, help="sub-words per sentence, "
                                                                "at least 3 (default 256)")
    p.add_argument("--max-train-sentences", type=int, default=None)
    p.add_argument("--max-eval-sentences", type=int, default=None,
                   help="sentences of the dev set and of every test set (default: all)")
    p.add_argument("--max-source-sentences", default=None,
                   metavar="N|all", help="sentences of the source test set alone (default: "
                                         "--max-eval-sentences)")
    p.add_argument("--device", default=None, help="torch device (default: cuda if available)")
    add_precision_option(p, default=None)
    p.add_argument("--out", default=None,
                   help="output folder (default: runs/finetune/<task>-<model>-<reinit>-"
                        "seed<seed>-<settings hash>, one per distinct run)")
    p.add_argument("--allow-test-training", action="store_true",
                   help="allow a test split as --train or --dev (refused by default: training "
                        "or model selection on test data)")
    p.add_argument("--overwrite", action="store_true",
                   help="empty an output folder that holds another run's results and start "
                        "afresh (default: refuse; the same run resumes)")
    p.set_defaults(func=_finetune)
