"""What fine-tuning runs share below the workflow: examples, the saved model, weight change.

`crossling.workflows.finetune` runs a fine-tuning cell; this module holds the pieces other
layers reuse: reading a task's examples (with the fixed-seed subsample probing uses too),
saving a fine-tuned model, the relative weight change of every block, and reading a finished
run's rows back.
"""

from __future__ import annotations

import enum
import json
import math
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from crossling.core.atomic import make_temp_dir
from crossling.core.checks import check_count
from crossling.core.errors import ModelError
from crossling.data.example import Example, examples_from_ud
from crossling.data.memo import read_conllu_once
from crossling.data.ner import read_iob2
from crossling.models.families import family_of
from crossling.models.vocab import TrimmedEmbedding
from crossling.results import SENTENCE_FILE, ScoreRow, SimilarityRow, WeightChangeRow

SUBSAMPLE_SEED = 0
"""Training subsets are drawn with a fixed seed, so runs that differ only in their training seed
see the same sentences: seed variance is initialisation and order, not data."""

WEIGHT_CHANGE = "weight-change.json"
"""The run's relative weight change per block (`weight_change_rows`)."""

RUN_OUTPUTS = ("scores.csv", "scores.json", "provenance.json", "encoder", "head.pt",
               "labels.json", "fit", WEIGHT_CHANGE, SENTENCE_FILE)
"""What a run writes beside its manifest (``overwrite`` empties only folders of such files)."""


class _AsEval(enum.Enum):
    AS_EVAL = "as max_eval_sentences"

    def __repr__(self) -> str:
        return "AS_EVAL"


AS_EVAL = _AsEval.AS_EVAL
"""The default of ``max_source_sentences``: the source test set is cut like the targets (so
the runs and cells of studies written before the setting keep their results and keys)."""

SourceLimit = int | None | _AsEval
"""A ``max_source_sentences``: a number of sentences, None (all of them) or `AS_EVAL`."""


def source_size(name: str, value: Any) -> SourceLimit:
    """The rule of ``max_source_sentences``: `AS_EVAL`, None (all) or an integer >= 1."""
    if value is AS_EVAL or value is None:
        return value
    return check_count(name, value, 1)


def source_limit(max_source: SourceLimit, max_eval: int | None) -> int | None:
    """The sentences the source test set is cut to: ``max_source``, or ``max_eval`` for
    `AS_EVAL`."""
    return max_eval if max_source is AS_EVAL else max_source


def read_examples(task: str, paths: Sequence[str | Path], limit: int | None = None,
                  ) -> list[Example]:
    """Examples of ``task`` from CoNLL-U (pos, parsing) or IOB2 (ner) files, concatenated.

    With ``limit``, a fixed-seed random subset of that many sentences (in file order). A file
    without any sentence is a DataError naming it, raised by the readers themselves: an empty
    evaluation file is refused before any training.
    """
    out: list[Example] = []
    for p in paths:
        out += read_iob2(p) if task == "ner" else examples_from_ud(read_conllu_once(p), task)
    if limit is not None and limit < len(out):
        keep = np.sort(np.random.default_rng(SUBSAMPLE_SEED).choice(len(out), limit,
                                                                    replace=False))
        out = [out[i] for i in keep]
    return out


def save_finetuned_model(model: torch.nn.Module, tokenizer: Any, labels: Sequence[str],
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
    """The blocks weight change is measured on: ``[embeddings, layer 1, ..., layer L]``; the
    embeddings are the family record's module(s) (GPT-2's ``wte`` and ``wpe`` together)."""
    family = family_of(model)
    parts = family.embedding_modules(model)
    if not parts:
        raise ModelError(f"{type(model).__name__} has no embeddings module")
    emb = parts[0] if len(parts) == 1 else torch.nn.ModuleDict(
        {p.rstrip("?").replace(".", "_"): m for p, m in zip(family.embeddings, parts,
                                                             strict=False)})
    return [emb, *family.block_list(model)]


def snapshot_blocks(model: torch.nn.Module, blocks: Iterable[int] | None = None) -> Snapshot:
    """float32 CPU copies of the parameters of ``blocks`` (default: every block)."""
    modules = encoder_blocks(model)
    chosen = range(len(modules)) if blocks is None else blocks
    return {i: {name: p.detach().to("cpu", torch.float32, copy=True)
                for name, p in modules[i].named_parameters()} for i in chosen}


def relative_change(model: torch.nn.Module, reference: Snapshot) -> dict[int, float]:
    """Per block: ||W - W_ref||_F / ||W_ref||_F over all the block's parameters together
    (``W`` the model's weights now). A trimmed word embedding (`TrimmedEmbedding`) is
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
    `SimilarityRow` s of kind ``weight-change``: metric ``rel_change_from_start``
    (vs the weights fine-tuning started from: after re-initialisation; for REF the pretrained
    weights) and ``rel_change_from_pretrained`` (vs the published weights), layer = block
    (0 = the embeddings module). ``pretrained`` holds only the blocks that differ from
    ``start`` (the re-initialised ones); the others are read from ``start``. ``fields``: the
    rows' ``source``, ``model``, ``task``, ``seed``, ``reinit``, ``provenance``.

    Called before `merge_vocabulary`: with vocabulary trimming
    the word-embedding matrix counts the rows the run trained (the sub-words of its texts), not
    the whole vocabulary, whose other rows never change and would only dilute block 0's ratio
    by the vocabulary's size.
    """
    from_start = relative_change(encoder, start)
    from_pre = relative_change(encoder, {i: pretrained.get(i, ref) for i, ref in start.items()})
    source = fields.pop("source")
    rows: list[SimilarityRow] = []
    for metric, values in zip(WEIGHT_CHANGE_METRICS, (from_start, from_pre), strict=True):
        for layer, value in sorted(values.items()):
            rows.append(WeightChangeRow(source=source, target=source, layer=layer,
                                        metric=metric, value=value, **fields))
    return rows


def load_weight_change(path: str | Path) -> list[SimilarityRow]:
    """Weight-change rows back from a ``weight-change.json``; [] when the file is missing (a
    run finished by a version before it was written)."""
    p = Path(path)
    if not p.is_file():
        return []
    return [SimilarityRow.from_record(row) for row in json.loads(p.read_text(encoding="utf-8"))]


def load_rows(path: str | Path) -> list[ScoreRow]:
    """Score rows back from a ``scores.json``."""
    return [ScoreRow.from_record(row)
            for row in json.loads(Path(path).read_text(encoding="utf-8"))]
