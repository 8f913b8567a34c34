"""The similarity workflow as one service: data folder and languages in, tidy rows out.

``crossling similarity``, ``crossling demo`` and a study's ``similarity`` / ``similarity_ft``
cells all run the same steps — validate the device, resolve the PUD files of the source and the
targets, align them by ``sent_id``, load the encoder(s), compute the cross-lingual curve of one
model and, optionally, the model-vs-model curve of two — so they call :func:`run_similarity`
instead of each wiring :mod:`crossling.similarity.pipeline` by hand (two copies used to differ in
their device, cache and size checks). Writing and printing the results stay with the callers
(:func:`crossling.report.plots.write_similarity_outputs` for the CLI, the study store for
cells).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from crossling.core.checks import check_count
from crossling.core.devices import pick_device
from crossling.core.errors import ConfigError
from crossling.data.parallel import ParallelCorpus, align_by_sent_id
from crossling.data.resolve import pud_languages, resolve_ud
from crossling.models.encoder import Encoder, load_encoder
from crossling.models.names import check_model_name
from crossling.results import SimilarityRow
from crossling.similarity.checks import as_names
from crossling.similarity.extract import BATCH_TOKENS
from crossling.similarity.null import check_resample_memory
from crossling.similarity.pipeline import (
    DEFAULT_MEASURES,
    check_arguments,
    cross_lingual_similarity,
    model_similarity,
)


def parallel_corpus(ud: str | Path, source: str, targets: Sequence[str] | None,
                    n: int | None, n_option: str = "n") -> tuple[ParallelCorpus, list[str]]:
    """The first ``n`` (all when None) sentences of ``source`` and ``targets`` aligned by
    ``sent_id``, and the target list (every other PUD language of ``ud`` when ``targets`` is
    empty or None).

    Fewer aligned sentences than ``n`` is a ConfigError naming ``n_option`` (``--n`` for the CLI,
    ``similarity.n`` for a study): silently analysing fewer sentences would change every
    interval without saying so. A bare string ``targets`` is one language.
    """
    if n is not None:
        n = check_count(n_option, n, 1)
    chosen = as_names(targets, "targets")
    langs = chosen if chosen else [x for x in pud_languages(ud) if x != source]
    corpus = align_by_sent_id({lang: resolve_ud(ud, lang) for lang in [source, *langs]},
                              limit=n)
    if n is not None and len(corpus) < n:
        raise ConfigError(f"{n_option} {n}: only {len(corpus)} parallel sentences are available "
                          f"for {', '.join([source, *langs])}")
    return corpus, langs


def _encoder(model: str | Encoder, device: str | None) -> Encoder:
    return model if isinstance(model, Encoder) else load_encoder(model, device=device)


def run_similarity(*, model: str | Encoder, ud: str | Path, source: str,
                   targets: Sequence[str] | None = None, n: int | None = None,
                   measures: Sequence[str] = DEFAULT_MEASURES, pooling: str = "mean",
                   n_boot: int = 200, n_null: int = 100, seed: int = 0,
                   layers: Sequence[int] | None = None, batch_tokens: int = BATCH_TOKENS,
                   device: str | None = None, cache_dir: str | Path | None = None,
                   compare_model: str | Encoder | None = None,
                   compare_side: Literal["a", "b"] = "b", n_option: str = "n",
                   cross_lingual: bool = True, progress: bool = True,
                   layer_difference: bool = False,
                   ) -> list[SimilarityRow]:
    """Cross-lingual rows of ``model`` (source vs each target), then, with ``compare_model``,
    model-vs-model rows on the sentences of every language.

    ``model`` / ``compare_model``: a model name or folder (loaded on ``device``), or an
    already-loaded :class:`~crossling.models.encoder.Encoder` (e.g. a fine-tuned encoder
    renamed after its fine-tuning). ``compare_side`` says which side of the model-model rows
    the comparison model is: ``"b"`` (default, ``model`` vs ``compare_model``, the CLI's
    ``--compare-model``) or ``"a"`` (``compare_model`` vs ``model``: pretrained vs fine-tuned).
    ``device`` is validated before any data or model is read (default: CUDA if available);
    the measures run where the encoder is. ``targets``/``n``/``n_option`` as in
    :func:`parallel_corpus`; the other settings (``layer_difference``: peak-minus-top rows of
    the cross-lingual curve) as in
    :func:`~crossling.similarity.pipeline.cross_lingual_similarity`. ``cross_lingual=False``
    (with ``compare_model``) skips the cross-lingual rows: model-vs-model rows only.
    """
    if compare_side not in ("a", "b"):
        raise ConfigError(f"compare_side = {compare_side!r}: must be 'a' or 'b'")
    check_arguments(measures, n_boot, n_null, seed, batch_tokens)  # before data and models
    if n is not None:
        check_count(n_option, n, 1)
    as_names(targets, "targets")
    pick_device(device)  # a bad --device fails before data and models are read
    for name in (model, compare_model):
        if isinstance(name, str):
            check_model_name(name, hub=False)  # a missing folder, before the data is read
    corpus, langs = parallel_corpus(ud, source, targets, n, n_option)
    check_resample_memory(len(corpus), n_boot, n_null)  # before a model is loaded
    encoder = _encoder(model, device)
    if not cross_lingual and compare_model is None:
        raise ConfigError("cross_lingual=False needs a compare_model: nothing to compute")
    rows = cross_lingual_similarity(encoder, corpus, source, targets=langs, measures=measures,
                                    pooling=pooling, n_boot=n_boot, n_null=n_null, seed=seed,
                                    cache_dir=cache_dir, layers=layers,
                                    batch_tokens=batch_tokens, progress=progress,
                                    layer_difference=layer_difference) \
        if cross_lingual else []
    if compare_model is not None:
        other = _encoder(compare_model, device)
        a, b = (encoder, other) if compare_side == "b" else (other, encoder)
        rows += model_similarity(a, b, corpus, languages=[source, *langs], measures=measures,
                                 pooling=pooling, n_boot=n_boot, n_null=n_null, seed=seed,
                                 cache_dir=cache_dir, layers=layers, batch_tokens=batch_tokens,
                                 progress=progress)
    return rows
