"""The paper's similarity analyses as functions returning tidy `SimilarityRow` lists.

`cross_lingual_similarity`: one model, source vs each target on the same parallel
sentences, per layer (the paper's "alignment" curve), optionally with the peak-minus-top layer
difference. `model_similarity`: two models on the same sentences of each language, per
layer. Every value comes with its interval and null (`crossling.similarity.uncertainty`)
and every row with its provenance (model and tokenizer fingerprints, precision, data checksums,
measure and interval definitions, seed, device, versions).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from crossling.core.devices import pick_device
from crossling.core.errors import ConfigError
from crossling.core.provenance import provenance
from crossling.data.parallel import ParallelCorpus
from crossling.models.encoder import Encoder
from crossling.models.languages import language_codes
from crossling.models.naming import model_name
from crossling.results import CrossLingualRow, LayerDifferenceRow, ModelModelRow, SimilarityRow
from crossling.similarity.checks import (
    check_languages,
    check_layers,
    check_layers_of,
    check_max_length,
)
from crossling.similarity.extract import (
    by_layer,
    encoder_fingerprint,
    encoder_tokenizer_fingerprint,
    extract_cached,
    extraction_precision,
    frozen_precision,
    kept_layers,
)
from crossling.similarity.measures import (
    get_measures,
    interval_kind,
    min_sentences,
    neediest,
    resample_counts,
)
from crossling.similarity.memory import estimate_for, report_memory
from crossling.similarity.settings import SimilaritySettings, names
from crossling.similarity.uncertainty import (
    Estimate,
    check_resample_memory,
    estimate,
    estimate_targets,
    layer_difference,
)

LAYER_DIFFERENCE_DEFINITION = (
    "m(l*) - m(L): l* = argmax of the point estimates over the analysed layers (chosen once, "
    "not per resample), L = the last analysed layer; 95% paired bootstrap over sentences (both "
    "layers on the same resamples), percentile interval re-centred on the difference; "
    "p_top_ge_peak = fraction of resamples with m_b(L) >= m_b(l*). l* is selected on the same "
    "data, so the difference is biased upward (the interval does not account for the selection)")

UNCERTAINTY_VARIANTS = {
    "ci": "95% bootstrap over sentences, percentile interval re-centred on the estimate",
    "null": "shuffled pairs (row permutations of the target): mean and 95th percentile",
}
"""Provenance definitions of the interval and the null; each measure's own definition is its
registry record's ``description``."""


def _check_corpus(corpus: ParallelCorpus, languages: Sequence[str],
                  settings: SimilaritySettings) -> None:
    """What the settings cannot know alone: the languages are in ``corpus``, it holds enough
    sentences for every measure (each measure's ``min_n``: fewer give NaN or a trivial 1), and
    its resamples fit in memory (else an out-of-memory crash after the encoding)."""
    check_languages(corpus, languages)
    need = min_sentences(settings.measures)
    if len(corpus) < need:
        worst = neediest(settings.measures).id
        raise ConfigError(f"{len(corpus)} parallel sentences: {worst} needs at least {need}")
    check_resample_memory(len(corpus), settings.n_boot, settings.n_null)


@dataclass(frozen=True)
class _Run:
    """What every row of one call shares."""

    settings: SimilaritySettings
    model: str
    compare_model: str | None
    prov: dict[str, Any]
    device: torch.device


def _layer_rows(run: _Run, pair: tuple[str, str], layer: int,
                est: Mapping[str, Estimate]) -> list[SimilarityRow]:
    """One row per measure of one layer's estimates of the ``(source, target)`` pair."""
    rows: list[SimilarityRow] = []
    for m in run.settings.measures:
        e = est[m]
        values: dict[str, Any] = dict(
            source=pair[0], target=pair[1], layer=layer, metric=m, value=e.value,
            ci_low=e.ci_low, ci_high=e.ci_high, null_mean=e.null_mean, null_high=e.null_high,
            n=e.n, pooling=run.settings.pooling, model=run.model, provenance=run.prov)
        rows.append(CrossLingualRow(**values) if run.compare_model is None else
                    ModelModelRow(**values, compare_model=run.compare_model))
    return rows


def _difference_rows(run: _Run, source: str, target: str,
                     kept: dict[int, dict[str, Estimate]]) -> list[SimilarityRow]:
    """One ``layer-difference`` row per measure from the estimates of every analysed layer."""
    rows: list[SimilarityRow] = []
    for m in run.settings.measures:
        d = layer_difference({layer: est[m] for layer, est in kept.items()}, m,
                             run.settings.n_boot)
        detail = {"definition": LAYER_DIFFERENCE_DEFINITION, "peak_layer": d.peak_layer,
                  "top_layer": d.top_layer, "p_top_ge_peak": d.p_top_ge_peak,
                  "interval": d.interval, "resamples": d.n_boot}
        rows.append(LayerDifferenceRow(source=source, target=target, layer=d.peak_layer,
                                       metric=m, value=d.value, ci_low=d.ci_low,
                                       ci_high=d.ci_high, n=d.n, pooling=run.settings.pooling,
                                       model=run.model,
                                       provenance={**run.prov, "layer_difference": detail},
                                       compare_layer=d.top_layer))
    return rows


def _variants(measures: Sequence[str], n_boot: int, n_null: int = 0) -> dict[str, str]:
    """Definitions of the measures, the interval and the null, what each interval is, and the
    resample and permutation counts of a measure whose policy caps them."""
    out = {m.id: m.description for m in get_measures(measures)}
    out.update(UNCERTAINTY_VARIANTS)
    out.update({f"interval:{m}": interval_kind(m, n_boot) for m in measures})
    for m in get_measures(measures):
        if m.max_boot is not None or m.max_null is not None:
            boot, null = resample_counts(m.id, n_boot, n_null)
            out[f"resamples:{m.id}"] = f"{boot} bootstrap resamples, {null} permutations"
    return out


def _metric_device(encoder: Encoder, device: str | None) -> torch.device:
    """Where the measures, bootstrap and null run: ``device`` if given, else where the encoder
    is, never a GPU the user did not choose."""
    return pick_device(device) if device is not None else encoder.device


def _extraction(encoder: Encoder, prefix: str, precision: str,
                languages: Sequence[str]) -> dict[str, Any]:
    """Tokenizer fingerprint and forward-pass precision of an encoder, for the provenance,
    and the code each language's sentences were encoded with, for tokenizers that have codes
    (`crossling.models.languages`)."""
    out: dict[str, Any] = {
        f"{prefix}tokenizer_fingerprint": encoder_tokenizer_fingerprint(encoder),
        f"{prefix}extraction_precision": extraction_precision(encoder, precision)}
    codes = language_codes(encoder.tokenizer, languages)
    if codes:
        out[f"{prefix}language_codes"] = codes
    return out


def _provenance(settings: SimilaritySettings, corpus: ParallelCorpus, languages: Sequence[str],
                encoders: Sequence[Encoder], device: torch.device,
                max_length: int) -> dict[str, Any]:
    """The provenance of every row of one call (``encoders[1]``: the compared model)."""
    models: dict[str, Any] = {}
    for prefix, enc in zip(("", "compare_"), encoders, strict=False):
        models[f"{prefix}model"] = model_name(enc.name)
        models[f"{prefix}model_fingerprint"] = encoder_fingerprint(enc)
        models.update(_extraction(enc, prefix, settings.precision, languages))
    return provenance(
        data_files=[corpus.files[lang] for lang in languages], device=device, **models,
        pooling=settings.pooling, seed=settings.seed, n_boot=settings.n_boot,
        n_null=settings.n_null, n_sentences=len(corpus), measures=list(settings.measures),
        metric_variants=_variants(settings.measures, settings.n_boot, settings.n_null),
        max_length=max_length)


def _report_memory(encoder: Encoder, settings: SimilaritySettings, chosen: Sequence[int],
                   sets: int, n: int) -> None:
    """Log the memory the extraction will take, and warn when it may not fit."""
    states = encoder.num_layers + 1
    report_memory(estimate_for(encoder.model, states, (sets, n, "sentences", 4),
                               kept_layers(chosen, states), settings.batch_tokens,
                               frozen_precision(encoder, settings.precision)),
                  encoder.device)


def _vectors(encoder: Encoder, texts: Sequence[str], settings: SimilaritySettings,
             cache_dir: str | Path | None, max_length: int, desc: str,
             chosen: Sequence[int], language: str) -> dict[int, torch.Tensor]:
    """Sentence vectors of ``texts`` (in ``language``) at the ``chosen`` layers, by layer
    (from the cache when it holds them; only those layers are computed unless all are)."""
    kept = kept_layers(chosen, encoder.num_layers + 1)
    return by_layer(extract_cached(encoder, texts, settings.pooling, cache_dir, layers=kept,
                                   max_length=max_length, batch_tokens=settings.batch_tokens,
                                   progress=settings.progress, precision=settings.precision,
                                   desc=desc, language=language), kept)


def cross_lingual_similarity(encoder: Encoder, corpus: ParallelCorpus, source: str, *,
                             targets: Sequence[str], settings: SimilaritySettings | None = None,
                             cache_dir: str | Path | None = None) -> list[SimilarityRow]:
    """Per-layer similarity between ``source`` and each target on parallel sentences.

    ``settings`` (default: ``SimilaritySettings()``; its ``n`` is not read: the corpus is used
    as given). With ``settings.layer_difference`` also one ``"layer-difference"`` row per target
    and measure after that target's per-layer rows, from the same resamples (needs at least 2
    layers). ``cache_dir``: on-disk cache of the sentence vectors. Checked before any encoding:
    the languages, the corpus size, the layers and ``max_length`` against the model; after each
    language's encoding, every analysed layer's vectors (one line naming layer and language).
    """
    settings = SimilaritySettings() if settings is None else settings
    targets = list(names("targets", targets))
    if source in targets:
        raise ConfigError(f"source language {source!r} is also a target")
    _check_corpus(corpus, [source, *targets], settings)
    chosen = check_layers(settings.layers, encoder.num_layers + 1)
    if settings.layer_difference and len(chosen) < 2:
        raise ConfigError(f"layer difference: needs at least 2 layers, got {chosen}")
    max_length = check_max_length(encoder.model, settings.max_length, encoder.name)
    language_codes(encoder.tokenizer, [source, *targets])  # a language without a code: now
    device = _metric_device(encoder, settings.device)
    _report_memory(encoder, settings, chosen, 1 + len(targets), len(corpus))
    vectors = {}
    for lang in [source, *targets]:
        vectors[lang] = _vectors(encoder, corpus.texts[lang], settings, cache_dir, max_length,
                                 f"encode {lang}", chosen, lang)
        check_layers_of(vectors[lang], chosen, lang)
    prov = _provenance(settings, corpus, [source, *targets], [encoder], device, max_length)
    run = _Run(settings, model_name(encoder.name), None, prov, device)
    return _cross_rows(run, vectors, source, targets, chosen)


def _cross_rows(run: _Run, vectors: dict[str, dict[int, torch.Tensor]], source: str,
                targets: list[str], layers: list[int]) -> list[SimilarityRow]:
    """Layer by layer, so that the source's kernels and per-side preparations are built once
    per layer and shared by every target (`estimate_targets`); the rows come in the
    usual order (target, then layer), then each target's layer-difference rows."""
    settings = run.settings
    res = settings.resampling(run.device, keep_resamples=settings.layer_difference)
    per_target: dict[str, list[SimilarityRow]] = {tgt: [] for tgt in targets}
    kept: dict[str, dict[int, dict[str, Estimate]]] = {tgt: {} for tgt in targets}
    with tqdm(total=len(targets) * len(layers), desc="similarity", unit="layer",
              disable=not settings.progress) as bar:
        for layer in layers:
            ests = estimate_targets(vectors[source][layer], [vectors[t][layer] for t in targets],
                                    settings.measures, res)
            for tgt, est in zip(targets, ests, strict=True):
                if settings.layer_difference:
                    kept[tgt][layer] = est
                per_target[tgt] += _layer_rows(run, (source, tgt), layer, est)
            bar.update(len(targets))
    if settings.layer_difference:
        for tgt in targets:
            per_target[tgt] += _difference_rows(run, source, tgt, kept[tgt])
    return [row for tgt in targets for row in per_target[tgt]]


def model_similarity(encoder_a: Encoder, encoder_b: Encoder, corpus: ParallelCorpus, *,
                     languages: Sequence[str], settings: SimilaritySettings | None = None,
                     cache_dir: str | Path | None = None) -> list[SimilarityRow]:
    """Per-layer similarity of two models on the same sentences of each language.

    ``settings`` and ``cache_dir`` as in `cross_lingual_similarity` (the measures run on
    ``settings.device``, default model A's device; ``layer_difference`` is not read). Checked
    likewise; the vectors of each language and model before that language's measures.
    """
    settings = SimilaritySettings() if settings is None else settings
    languages = list(names("languages", languages))
    _check_corpus(corpus, languages, settings)
    if encoder_a.num_layers != encoder_b.num_layers:
        raise ConfigError(f"{encoder_a.name} has {encoder_a.num_layers} layers but "
                          f"{encoder_b.name} has {encoder_b.num_layers}: layer-wise comparison "
                          "needs the same depth")
    chosen = check_layers(settings.layers, encoder_a.num_layers + 1)
    max_length = min(check_max_length(enc.model, settings.max_length, enc.name)
                     for enc in (encoder_a, encoder_b))
    device = _metric_device(encoder_a, settings.device)
    prov = _provenance(settings, corpus, languages, [encoder_a, encoder_b], device, max_length)
    run = _Run(settings, model_name(encoder_a.name), model_name(encoder_b.name), prov,
               device)
    for enc in (encoder_a, encoder_b):  # one language's vectors of each model at a time
        _report_memory(enc, settings, chosen, 1, len(corpus))
    res = settings.resampling(device)
    rows: list[SimilarityRow] = []
    with tqdm(total=len(languages) * len(chosen), desc="model similarity", unit="layer",
              disable=not settings.progress) as bar:
        for lang in languages:
            a, b = (_vectors(enc, corpus.texts[lang], settings, cache_dir, max_length,
                             f"encode {lang} ({side})", chosen, lang)
                    for enc, side in ((encoder_a, "A"), (encoder_b, "B")))
            check_layers_of(a, chosen, f"{lang} ({encoder_a.name})")
            check_layers_of(b, chosen, f"{lang} ({encoder_b.name})")
            for layer in chosen:
                est = estimate(a[layer], b[layer], settings.measures, res)
                rows += _layer_rows(run, (lang, lang), layer, est)
                bar.update(1)
    return rows
