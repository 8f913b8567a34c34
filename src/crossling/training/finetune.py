"""One zero-shot transfer run: (re-init) -> fine-tune on the source -> evaluate every language.

This is one cell of the paper's grid: a task, a model, a RANDOM-INIT group (``REF`` = none) and
a seed. The run writes into ``out_dir``:

- ``scores.csv`` / ``scores.json``: one :class:`ScoreRow` per language and metric with its 95%
  bootstrap CI and provenance (model, data checksums, seed, re-init report, train config,
  unknown target labels, versions, git commit, device);
- ``encoder/``: the fine-tuned encoder + tokenizer (``load_encoder(out_dir / "encoder")`` loads
  it, for pretrained-vs-fine-tuned similarity), ``head.pt`` and ``labels.json``;
- ``fit/``: the training loop's checkpoints and history;
- ``weight-change.json``: the relative weight change of every block during fine-tuning
  (:func:`weight_change_rows`, kind ``weight-change`` similarity rows), written before
  ``scores.json``;
- ``manifest.json`` (written first): the settings that determine the result and their hash
  (:func:`finetune_settings`, :mod:`crossling.core.manifest`).

``scores.json`` is written last; a finished run is returned from it, not recomputed, and an
interrupted one resumes from its last epoch, but only when the folder's manifest matches the
run asked for: a folder holding another task, model, data, re-init group, seed or recipe is a
one-line ConfigError (``overwrite=True`` empties it instead). Every input is read and checked
before the model is loaded, and the folder is created only then, so a bad option or file costs
seconds and leaves nothing behind.
"""

from __future__ import annotations

import json
import logging
import math
import re
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from crossling.core.atomic import (
    check_output_dir,
    disk_full_as_oserror,
    make_temp_dir,
    remove_stale_temps,
)
from crossling.core.checks import check_seed
from crossling.core.devices import pick_device
from crossling.core.errors import ConfigError, DataError, ModelError
from crossling.core.manifest import check_folder, claim_folder, make_manifest
from crossling.core.provenance import model_identity, provenance, sha256_file
from crossling.core.version import __version__
from crossling.data.example import Example, examples_from_ud
from crossling.data.memo import read_conllu_once
from crossling.data.ner import read_iob2
from crossling.models.config import num_blocks, read_config
from crossling.models.encoder import load_encoder, model_fingerprint, transformer_layers
from crossling.models.names import check_model_name
from crossling.models.reinit import SCHEMES, ReinitSettings, canonical_group, parse_group, reinit
from crossling.models.vocab import TrimmedEmbedding, merge_vocabulary, trim_vocabulary
from crossling.results import ScoreRow, SimilarityRow, write_rows_csv, write_rows_json
from crossling.training.encoded import EncodedTokenizer, default_cache_dir
from crossling.training.loop import (
    FitOptions,
    TaskModel,
    TrainConfig,
    check_max_length,
    evaluate,
    fit,
    seed_everything,
)
from crossling.training.tasks import get_task

log = logging.getLogger(__name__)

SUBSAMPLE_SEED = 0
"""Training subsets are drawn with a fixed seed, so runs that differ only in their training seed
see the same sentences: seed variance is initialisation and order, not data."""

WEIGHT_CHANGE = "weight-change.json"
"""The run's relative weight change per block (:func:`weight_change_rows`)."""

RUN_OUTPUTS = ("scores.csv", "scores.json", "provenance.json", "encoder", "head.pt",
               "labels.json", "fit", WEIGHT_CHANGE)
"""What a run writes beside its manifest (``overwrite`` empties only folders of such files)."""

DEFAULT_ROOT = Path("runs") / "finetune"


def read_examples(task: str, paths: Sequence[str | Path], limit: int | None = None,
                  ) -> list[Example]:
    """Examples of ``task`` from CoNLL-U (pos, parsing) or IOB2 (ner) files, concatenated.

    With ``limit``, a fixed-seed random subset of that many sentences (in file order). A file
    without any sentence is a DataError naming it, raised by the readers themselves: an empty
    evaluation file used to train the whole model and then fail.
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
    tmp = make_temp_dir(out_dir, "model")
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


Snapshot = dict[int, dict[str, torch.Tensor]]
"""Per block (0 = embeddings, ``i`` = ``encoder.layer[i - 1]``), its parameters by name."""

WEIGHT_CHANGE_METRICS = ("rel_change_from_start", "rel_change_from_pretrained")


def encoder_blocks(model: torch.nn.Module) -> list[torch.nn.Module]:
    """The blocks weight change is measured on: ``[embeddings, layer 1, ..., layer L]``."""
    base = getattr(model, "base_model", model)
    emb = getattr(base, "embeddings", None)
    if not isinstance(emb, torch.nn.Module):
        raise ModelError(f"{type(model).__name__} has no embeddings module")
    return [emb, *transformer_layers(model)]


def snapshot_blocks(model: torch.nn.Module, blocks: Iterable[int] | None = None) -> Snapshot:
    """float32 CPU copies of the parameters of ``blocks`` (default: every block)."""
    modules = encoder_blocks(model)
    chosen = range(len(modules)) if blocks is None else blocks
    return {i: {name: p.detach().to("cpu", torch.float32, copy=True)
                for name, p in modules[i].named_parameters()} for i in chosen}


def relative_change(model: torch.nn.Module, reference: Snapshot) -> dict[int, float]:
    """Per block: ||W - W_ref||_F / ||W_ref||_F over all the block's parameters together
    (``W`` the model's weights now). A trimmed word embedding (:class:`TrimmedEmbedding`) is
    compared on its kept rows: a reference with the full vocabulary is indexed by them."""
    modules = encoder_blocks(model)
    trimmed = getattr(model, "get_input_embeddings", lambda: None)()
    out: dict[int, float] = {}
    for i, ref in reference.items():
        params = dict(modules[i].named_parameters())
        num = den = 0.0
        for name, w0 in ref.items():
            w = params[name].detach().to("cpu", torch.float32)
            if w.shape != w0.shape and isinstance(trimmed, TrimmedEmbedding) and \
                    params[name] is trimmed.weight:
                w0 = w0[trimmed.kept.cpu()]
            num += float(torch.sum((w - w0) ** 2))
            den += float(torch.sum(w0 ** 2))
        out[i] = math.sqrt(num) / math.sqrt(den) if den > 0 else math.nan
    return out


def weight_change_rows(encoder: torch.nn.Module, start: Snapshot, pretrained: Snapshot,
                       **fields: Any) -> list[SimilarityRow]:
    """The relative weight change of each block of ``encoder`` (fine-tuned) as
    :class:`SimilarityRow` s of kind ``weight-change``: metric ``rel_change_from_start``
    (vs the weights fine-tuning started from: after re-initialisation; for REF the pretrained
    weights) and ``rel_change_from_pretrained`` (vs the published weights), layer = block
    (0 = the embeddings module). ``pretrained`` holds only the blocks that differ from
    ``start`` (the re-initialised ones); the others are read from ``start``. ``fields``: the
    rows' ``source``, ``model``, ``task``, ``seed``, ``reinit``, ``provenance``.

    Called before :func:`~crossling.models.vocab.merge_vocabulary`: with vocabulary trimming
    the word-embedding matrix counts the rows the run trained (the sub-words of its texts), not
    the whole vocabulary, whose other rows never change and would only dilute block 0's ratio
    by the vocabulary's size.
    """
    from_start = relative_change(encoder, start)
    from_pre = relative_change(encoder, {i: pretrained.get(i, ref) for i, ref in start.items()})
    source = fields.pop("source")
    rows = []
    for metric, values in zip(WEIGHT_CHANGE_METRICS, (from_start, from_pre), strict=True):
        for layer, value in sorted(values.items()):
            rows.append(SimilarityRow(
                kind="weight-change", source=source, target=source, layer=layer,
                metric=metric, value=value, ci_low=math.nan, ci_high=math.nan,
                null_mean=math.nan, null_high=math.nan, n=0, pooling="-", **fields))
    return rows


def load_weight_change(path: str | Path) -> list[SimilarityRow]:
    """Weight-change rows back from a ``weight-change.json``; [] when the file is missing (a
    run finished by a version before it was written)."""
    p = Path(path)
    if not p.is_file():
        return []
    return [SimilarityRow(**row) for row in json.loads(p.read_text(encoding="utf-8"))]


def load_rows(path: str | Path) -> list[ScoreRow]:
    """Score rows back from a ``scores.json``."""
    return [ScoreRow(**row) for row in json.loads(Path(path).read_text(encoding="utf-8"))]


def _file_identity(path: str | Path) -> dict[str, str]:
    p = Path(path)
    if not p.is_file():
        raise DataError(p, None, "no such file")
    return {"file": p.name, "sha256": sha256_file(p)}


def finetune_settings(task_name: str, model_name: str, train_files: Sequence[str | Path],
                      dev_files: Sequence[str | Path], eval_sets: Mapping[str, str | Path],
                      reinit_group: str = "REF", reinit_scheme: str = "model", seed: int = 0,
                      config: TrainConfig | None = None,
                      max_train_sentences: int | None = None,
                      max_eval_sentences: int | None = None,
                      source: str | None = None, trim_vocab: bool = True) -> dict[str, Any]:
    """Everything that determines a run's result, checked: its manifest settings.

    Validates the options (task, evaluation sets and source, sentence limits, re-init group and
    scheme, device) and that every data file exists, then records the data by name and SHA-256,
    a local model folder by its files' SHA-256 (:func:`model_identity`), the training recipe
    and the crossling version. Reads no sentence and loads no model.
    """
    get_task(task_name)
    seed = check_seed(seed)  # a numpy integer too, recorded as a Python int
    config = config or TrainConfig()
    if not isinstance(config, TrainConfig):
        raise ConfigError(f"config: a TrainConfig, got {type(config).__name__}")
    if not eval_sets:
        raise ConfigError("nothing to evaluate: give at least one evaluation set")
    source = source or next(iter(eval_sets))
    if source not in eval_sets:
        raise ConfigError(f"source {source!r} is not among the evaluation sets "
                          f"({', '.join(eval_sets)})")
    for name, limit in (("max_train_sentences", max_train_sentences),
                        ("max_eval_sentences", max_eval_sentences)):
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)
                                  or limit < 1):
            raise ConfigError(f"{name} (--{name.replace('_', '-')}) must be a positive "
                              f"integer, got {limit!r}")
    if not train_files:
        raise ConfigError("no training file given")
    if not dev_files:
        raise ConfigError("no dev file given")
    reinit_group = canonical_group(reinit_group)  # one label, folder and key per group
    if reinit_scheme not in SCHEMES:
        raise ConfigError(f"unknown init scheme {reinit_scheme!r} (available: "
                          f"{', '.join(SCHEMES)})")
    pick_device(config.device)
    return {
        "task": task_name, "model": model_name, "model_files": model_identity(model_name),
        "data": {"train": [_file_identity(f) for f in train_files],
                 "dev": [_file_identity(f) for f in dev_files],
                 "eval": {lang: _file_identity(f) for lang, f in eval_sets.items()}},
        "reinit_group": reinit_group, "reinit_scheme": reinit_scheme, "seed": seed,
        "train_config": asdict(config), "max_train_sentences": max_train_sentences,
        "max_eval_sentences": max_eval_sentences, "source": source,
        "subsample_seed": SUBSAMPLE_SEED, "crossling_version": __version__,
        # scores equal the untrimmed run's, the saved encoder's untouched rows do not (no decay)
        "trim_vocab": trim_vocab,
    }


def default_out_dir(settings: Mapping[str, Any], root: str | Path = DEFAULT_ROOT) -> Path:
    """``root/<task>-<model>-<re-init>-seed<seed>-<hash>``: one folder per distinct run.

    The hash is the start of the settings key, so two runs differing in anything (data, recipe,
    limits) never share a folder, and the same command finds its own folder again.
    """
    key = make_manifest("finetune", settings)["key"]
    model = Path(str(settings["model"]).rstrip("/\\")).name or "model"
    name = f"{settings['task']}-{model}-{settings['reinit_group']}-seed{settings['seed']}"
    return Path(root) / f"{re.sub(r'[^A-Za-z0-9._-]+', '_', name)}-{key[:8]}"


def _check_model_config(model_name: str, config: TrainConfig, reinit_group: str) -> None:
    """Max length and re-init layers against the model's config, before its weights load."""
    check_model_name(model_name)
    cfg = read_config(model_name)
    check_max_length(config, cfg, model_name)
    n_layers = num_blocks(cfg)
    layers, _ = parse_group(reinit_group)
    if n_layers is not None:
        for layer in layers:
            if not 1 <= layer <= n_layers:
                raise ConfigError(f"layer {layer} out of range 1..{n_layers}")


def run_finetune(task_name: str, model_name: str, train_files: Sequence[str | Path],
                 dev_files: Sequence[str | Path], eval_sets: Mapping[str, str | Path],
                 out_dir: str | Path, reinit_group: str = "REF", reinit_scheme: str = "model",
                 seed: int = 0, config: TrainConfig | None = None,
                 max_train_sentences: int | None = None, max_eval_sentences: int | None = None,
                 source: str | None = None, save_model: bool = True,
                 progress: bool = True, overwrite: bool = False, trim_vocab: bool = True,
                 encoded_cache: str | Path | bool = True) -> list[ScoreRow]:
    """:func:`run_finetune_rows` without the weight-change rows (its docstring says it all):
    the score rows of every language."""
    return run_finetune_rows(
        task_name, model_name, train_files, dev_files, eval_sets, out_dir,
        reinit_group=reinit_group, reinit_scheme=reinit_scheme, seed=seed, config=config,
        max_train_sentences=max_train_sentences, max_eval_sentences=max_eval_sentences,
        source=source, save_model=save_model, progress=progress, overwrite=overwrite,
        trim_vocab=trim_vocab, encoded_cache=encoded_cache)[0]


def run_finetune_rows(task_name: str, model_name: str, train_files: Sequence[str | Path],
                      dev_files: Sequence[str | Path], eval_sets: Mapping[str, str | Path],
                      out_dir: str | Path, reinit_group: str = "REF",
                      reinit_scheme: str = "model", seed: int = 0,
                      config: TrainConfig | None = None,
                      max_train_sentences: int | None = None,
                      max_eval_sentences: int | None = None, source: str | None = None,
                      save_model: bool = True, progress: bool = True, overwrite: bool = False,
                      trim_vocab: bool = True, encoded_cache: str | Path | bool = True,
                      ) -> tuple[list[ScoreRow], list[SimilarityRow]]:
    """Fine-tune ``model_name`` on ``task_name`` and evaluate it on every language of ``eval_sets``.

    ``eval_sets`` maps a language label (e.g. ``en``, ``fr``, ``fr_gsd``) to a test file; the
    source-language test set is one of them, named by ``source`` (default: the first).
    ``save_model=False`` skips writing the fine-tuned model (grids keep only what later cells
    need: a dequantised e5-small is 470 MB). ``out_dir`` must be empty, new, or hold this very
    run (its ``manifest.json`` matches): then a finished run is returned and an interrupted
    one resumed. ``overwrite=True`` empties a folder holding another run. ``trim_vocab`` trains
    on the embedding rows of the sub-words the run encodes only (exact,
    :mod:`crossling.models.vocab`); the saved encoder has the full vocabulary. Encoded sentence
    sets are cached in the folder ``encoded_cache`` (True: ``$CROSSLING_CACHE/encoded``; False:
    in memory only). Returns (and writes) the score rows, and the relative weight change of
    every block (:func:`weight_change_rows`, written to ``weight-change.json``); a finished run
    returns both from its folder.
    """
    task = get_task(task_name)
    config = config or TrainConfig()
    settings = finetune_settings(task_name, model_name, train_files, dev_files, eval_sets,
                                 reinit_group, reinit_scheme, seed, config, max_train_sentences,
                                 max_eval_sentences, source, trim_vocab)
    source, reinit_group, seed = settings["source"], settings["reinit_group"], settings["seed"]
    out = check_output_dir(out_dir)
    manifest = make_manifest("finetune", settings)
    done = out / "scores.json"
    if check_folder(out, manifest, overwrite) and done.is_file():
        for folder in (out, out / "fit"):  # temporaries of a writer killed after it finished
            remove_stale_temps(folder)
        return load_rows(done), load_weight_change(out / WEIGHT_CHANGE)
    train = read_examples(task_name, train_files, max_train_sentences)
    dev = read_examples(task_name, dev_files, max_eval_sentences)
    tests = {lang: read_examples(task_name, [path], max_eval_sentences)
             for lang, path in eval_sets.items()}
    _check_model_config(model_name, config, reinit_group)

    seed_everything(seed)
    encoder = load_encoder(model_name, device=config.device)
    pretrained_fp = model_fingerprint(encoder.model)  # before re-init: the weights as published
    # each set tokenised once per study, not per batch, epoch and cell (training/encoded.py)
    cache_dir = default_cache_dir() if encoded_cache is True else encoded_cache or None
    encoder.tokenizer = EncodedTokenizer(encoder.tokenizer, config.max_length, cache_dir)
    for part in (train, dev, *tests.values()):
        encoder.tokenizer.add([ex.words for ex in part])
    layers, embeddings = parse_group(reinit_group)
    # the published weights of the blocks re-initialisation replaces (the others: see start)
    pretrained_blocks = snapshot_blocks(encoder.model, [*([0] if embeddings else []), *layers])
    report = reinit(encoder.model, layers, ReinitSettings(
        scheme=reinit_scheme, embeddings=embeddings, seed=seed)) if (layers or embeddings) else None
    after_reinit_fp = model_fingerprint(encoder.model) if report else pretrained_fp
    labels = task.labels_from(train)
    unknown = {lang: task.check_labels(ex, labels) for lang, ex in [("dev", dev), *tests.items()]}
    for lang, labs in unknown.items():
        if labs:
            log.warning("%s: %d gold label(s) never seen in training, counted as errors: %s",
                        lang, len(labs), ", ".join(labs))
    model = task.build_model(encoder.model, labels)
    kept_rows = None  # provenance: how many embedding rows were trained (None = all)
    if trim_vocab:  # every text this run encodes, so every score equals the untrimmed run's
        kept_rows = len(trim_vocabulary(encoder.model, encoder.tokenizer, [ex.words for part in (
            train, dev, *tests.values()) for ex in part], config.max_length).kept)
    start_blocks = snapshot_blocks(encoder.model)  # after re-init and trimming: what fit starts
    # "model": ".model.*" folders are _save_model's temporaries from before pid-named ones
    claim_folder(out, manifest, overwrite=overwrite, known=(*RUN_OUTPUTS, "model"))
    tm = TaskModel(task, model, encoder.tokenizer, labels)
    result = fit(tm, train, dev, config, out / "fit",
                 FitOptions(seed=seed, progress=progress, run_key=manifest["key"]))
    changes = weight_change_rows(encoder.model, start_blocks, pretrained_blocks,
                                 source=source, model=model_name, task=task_name, seed=seed,
                                 reinit=reinit_group)
    del start_blocks, pretrained_blocks
    merge_vocabulary(encoder.model)  # full-vocabulary encoder again, for saving and reuse
    if save_model:
        with disk_full_as_oserror(out):  # a full disk: one line, not a writer's traceback
            _save_model(model, encoder.tokenizer, labels, out)

    files = [*train_files, *dev_files, *eval_sets.values()]
    prov = provenance(
        data_files=list(files), task=task_name, model=model_name, seed=seed, source=source,
        reinit_group=reinit_group, reinit=report.as_dict() if report else None,
        train_config=asdict(config), max_train_sentences=max_train_sentences,
        n_train=len(train), n_dev=len(dev), subsample_seed=SUBSAMPLE_SEED, labels=labels,
        unknown_labels={k: v for k, v in unknown.items() if v},
        pretrained_fingerprint=pretrained_fp, after_reinit_fingerprint=after_reinit_fp,
        manifest_key=manifest["key"], trained_embedding_rows=kept_rows,
        best_epoch=result.best_epoch,
        best_dev=result.best_dev, train_tokens_per_s=result.tokens_per_second,
        metric_variants={"upos_acc": "token accuracy over syntactic words",
                         "uas": "CoNLL 2018, all words incl. punctuation",
                         "las": "CoNLL 2018, universal relation (subtypes stripped)",
                         "span_f1": "seqeval default (conlleval) chunking, micro F1",
                         "ci": "95% percentile bootstrap over sentences, 1000 resamples"})
    rows: list[ScoreRow] = []
    for lang, examples in tests.items():
        scores = evaluate(tm, examples, config, seed=seed, progress=progress,
                          desc=f"evaluate {lang}")
        for metric, s in scores.items():
            rows.append(ScoreRow(task=task_name, language=lang, split=Path(eval_sets[lang]).stem,
                                 metric=metric, value=s.value, ci_low=s.ci_low,
                                 ci_high=s.ci_high, n_sentences=s.n_sentences,
                                 n_units=s.n_units, model=model_name, reinit=reinit_group,
                                 seed=seed, provenance=prov, source=source))
    changes = [replace(r, provenance=prov) for r in changes]
    write_rows_csv(out / "scores.csv", rows)  # and provenance.json, {run_id: prov}
    write_rows_json(out / WEIGHT_CHANGE, changes)
    write_rows_json(done, rows)  # last: marks the run complete
    (out / "fit" / "best.pt").unlink(missing_ok=True)  # the model folder (if any) holds it
    return rows, changes
