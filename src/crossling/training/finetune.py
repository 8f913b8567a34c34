"""One zero-shot transfer run: (re-init) -> fine-tune on the source -> evaluate every language.

This is one cell of the paper's grid: a task, a model, a RANDOM-INIT group (``REF`` = none) and
a seed. The run writes into ``out_dir``:

- ``scores.csv`` / ``scores.json``: one :class:`ScoreRow` per language and metric with its 95%
  bootstrap CI and provenance (model, data checksums, seed, re-init report, train config,
  unknown target labels, versions, git commit, device);
- ``encoder/``: the fine-tuned encoder + tokenizer (``load_encoder(out_dir / "encoder")`` loads
  it, for pretrained-vs-fine-tuned similarity), ``head.pt`` and ``labels.json``;
- ``fit/``: the training loop's checkpoints and history.

``scores.json`` is written last; a finished run is returned from it, not recomputed.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from crossling.atomic import write_json
from crossling.data.example import Example, examples_from_ud
from crossling.data.memo import read_conllu_once
from crossling.data.ner import read_iob2
from crossling.errors import ConfigError
from crossling.models.encoder import load_encoder, model_fingerprint
from crossling.models.reinit import parse_group, reinit
from crossling.models.vocab import merge_vocabulary, trim_vocabulary
from crossling.provenance import provenance
from crossling.results import ScoreRow, write_rows_csv, write_rows_json
from crossling.training.encoded import EncodedTokenizer, default_cache_dir
from crossling.training.loop import TrainConfig, evaluate, fit, seed_everything
from crossling.training.tasks import get_task

log = logging.getLogger(__name__)

SUBSAMPLE_SEED = 0
"""Training subsets are drawn with a fixed seed, so runs that differ only in their training seed
see the same sentences: seed variance is initialisation and order, not data."""


def read_examples(task: str, paths: Sequence[str | Path], limit: int | None = None,
                  ) -> list[Example]:
    """Examples of ``task`` from CoNLL-U (pos, parsing) or IOB2 (ner) files, concatenated.

    With ``limit``, a fixed-seed random subset of that many sentences (in file order).
    """
    out: list[Example] = []
    for p in paths:
        out += read_iob2(p) if task == "ner" else examples_from_ud(read_conllu_once(p), task)
    if limit is not None and limit < len(out):
        keep = np.sort(np.random.default_rng(SUBSAMPLE_SEED).choice(len(out), limit,
                                                                    replace=False))
        out = [out[i] for i in keep]
    return out


def _save_model(model: torch.nn.Module, tokenizer: Any, labels: Sequence[str],
                out_dir: Path) -> None:
    """Fine-tuned encoder folder + head weights + labels, swapped into place atomically."""
    tmp = Path(tempfile.mkdtemp(prefix=".model.", dir=out_dir))
    try:
        encoder: Any = model.encoder  # every task head keeps the HF encoder as .encoder
        encoder.save_pretrained(str(tmp / "encoder"))
        tokenizer.save_pretrained(str(tmp / "encoder"))
        head = {k: v for k, v in model.state_dict().items() if not k.startswith("encoder.")}
        torch.save(head, tmp / "head.pt")
        (tmp / "labels.json").write_text(json.dumps(list(labels)), encoding="utf-8")
        for name in ("encoder", "head.pt", "labels.json"):
            target = out_dir / name
            if target.is_dir():
                shutil.rmtree(target)
            (tmp / name).replace(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def load_rows(path: str | Path) -> list[ScoreRow]:
    """Score rows back from a ``scores.json``."""
    return [ScoreRow(**row) for row in json.loads(Path(path).read_text(encoding="utf-8"))]


def run_finetune(task_name: str, model_name: str, train_files: Sequence[str | Path],
                 dev_files: Sequence[str | Path], eval_sets: Mapping[str, str | Path],
                 out_dir: str | Path, reinit_group: str = "REF", reinit_scheme: str = "model",
                 seed: int = 0, config: TrainConfig | None = None,
                 max_train_sentences: int | None = None, max_eval_sentences: int | None = None,
                 source: str | None = None, save_model: bool = True,
                 progress: bool = True, trim_vocab: bool = True,
                 encoded_cache: str | Path | bool = True) -> list[ScoreRow]:
    """Fine-tune ``model_name`` on ``task_name`` and evaluate it on every language of ``eval_sets``.

    ``eval_sets`` maps a language label (e.g. ``en``, ``fr``, ``fr_gsd``) to a test file; the
    source-language test set is one of them, named by ``source`` (default: the first).
    ``save_model=False`` skips writing the fine-tuned model (grids keep only what later cells
    need: a dequantised e5-small is 470 MB). ``trim_vocab`` trains on the embedding rows of the
    sub-words the run encodes only (exact, :mod:`crossling.models.vocab`); the saved encoder has
    the full vocabulary. Encoded sentence sets are cached in the folder ``encoded_cache``
    (True: ``$CROSSLING_CACHE/encoded``; False: in memory only). Returns (and writes) the rows.
    """
    task = get_task(task_name)
    config = config or TrainConfig()
    out = Path(out_dir)
    done = out / "scores.json"
    if done.is_file():
        return load_rows(done)
    if not eval_sets:
        raise ConfigError("nothing to evaluate: give at least one evaluation set")
    out.mkdir(parents=True, exist_ok=True)
    train = read_examples(task_name, train_files, max_train_sentences)
    dev = read_examples(task_name, dev_files, max_eval_sentences)
    tests = {lang: read_examples(task_name, [path], max_eval_sentences)
             for lang, path in eval_sets.items()}
    if not train or not dev:
        raise ConfigError(f"empty training or dev data for {task_name}")

    seed_everything(seed)
    encoder = load_encoder(model_name, device=config.device)
    # each set tokenised once per study, not per batch, epoch and cell (training/encoded.py)
    cache_dir = default_cache_dir() if encoded_cache is True else encoded_cache or None
    encoder.tokenizer = EncodedTokenizer(encoder.tokenizer, config.max_length, cache_dir)
    for part in (train, dev, *tests.values()):
        encoder.tokenizer.add([ex.words for ex in part])
    layers, embeddings = parse_group(reinit_group)
    report = reinit(encoder.model, layers, scheme=reinit_scheme, embeddings=embeddings,
                    seed=seed) if (layers or embeddings) else None
    labels = task.labels_from(train)
    unknown = {lang: task.check_labels(ex, labels) for lang, ex in [("dev", dev), *tests.items()]}
    for lang, labs in unknown.items():
        if labs:
            log.warning("%s: %d gold label(s) never seen in training, counted as errors: %s",
                        lang, len(labs), ", ".join(labs))
    model = task.build_model(encoder.model, labels)
    pretrained_fp = model_fingerprint(encoder.model)
    if trim_vocab:  # every text this run encodes, so every score equals the untrimmed run's
        trim_vocabulary(encoder.model, encoder.tokenizer, [ex.words for part in (
            train, dev, *tests.values()) for ex in part], config.max_length)
    result = fit(task, model, encoder.tokenizer, labels, train, dev, config, out / "fit",
                 seed=seed, progress=progress)
    merge_vocabulary(encoder.model)  # full-vocabulary encoder again, for saving and reuse
    if save_model:
        _save_model(model, encoder.tokenizer, labels, out)

    files = [*train_files, *dev_files, *eval_sets.values()]
    source = source or next(iter(eval_sets))
    if source not in eval_sets:
        raise ConfigError(f"source {source!r} is not among the evaluation sets")
    prov = provenance(
        data_files=list(files), task=task_name, model=model_name, seed=seed, source=source,
        reinit_group=reinit_group, reinit=report.as_dict() if report else None,
        train_config=asdict(config), max_train_sentences=max_train_sentences,
        n_train=len(train), n_dev=len(dev), subsample_seed=SUBSAMPLE_SEED, labels=labels,
        unknown_labels={k: v for k, v in unknown.items() if v},
        pretrained_fingerprint=pretrained_fp, best_epoch=result.best_epoch,
        best_dev=result.best_dev, train_tokens_per_s=result.tokens_per_second,
        metric_variants={"upos_acc": "token accuracy over syntactic words",
                         "uas": "CoNLL 2018, all words incl. punctuation",
                         "las": "CoNLL 2018, universal relation (subtypes stripped)",
                         "span_f1": "seqeval default (conlleval) chunking, micro F1",
                         "ci": "95% percentile bootstrap over sentences, 1000 resamples"})
    rows: list[ScoreRow] = []
    for lang, examples in tests.items():
        scores = evaluate(task, model, encoder.tokenizer, labels, examples, config, seed=seed,
                          progress=progress, desc=f"evaluate {lang}")
        for metric, s in scores.items():
            rows.append(ScoreRow(task=task_name, language=lang, split=Path(eval_sets[lang]).stem,
                                 metric=metric, value=s.value, ci_low=s.ci_low,
                                 ci_high=s.ci_high, n_sentences=s.n_sentences,
                                 n_units=s.n_units, model=model_name, reinit=reinit_group,
                                 seed=seed, provenance=prov))
    write_rows_csv(out / "scores.csv", rows)
    write_json(out / "provenance.json", prov)
    write_rows_json(done, rows)  # last: marks the run complete
    (out / "fit" / "best.pt").unlink(missing_ok=True)  # the model folder (if any) holds it
    return rows
