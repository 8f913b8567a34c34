"""The paper's similarity analyses as functions returning tidy :class:`SimilarityRow` lists.

- :func:`cross_lingual_similarity`: one model, source language vs each target language, on the
  same parallel sentences, per layer (the "alignment" curve of the paper's Figure 1).
  With ``layer_difference=True`` also, per target and measure, the drop from the peak layer to
  the top layer with a paired bootstrap interval (rows of kind ``"layer-difference"``; the
  paper's "rises, peaks, then falls" as a test,
  :func:`~crossling.similarity.null.layer_difference`).
- :func:`model_similarity`: two models (e.g. pretrained vs fine-tuned) on the same sentences of
  each language, per layer (which layers fine-tuning changes).

Every value comes with a bootstrap interval (a CI for the headline measure, debiased CKA; the
estimator's spread for the biased ones, labelled so) and a shuffled-pairs null
(:mod:`crossling.similarity.null`), and every row with its provenance: model with its weights and
tokenizer fingerprints, extraction precision, data files with checksums, pooling, measure and
interval definitions, seed, versions, the device the measures ran on, and git commit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from crossling.core.checks import check_count
from crossling.core.devices import pick_device
from crossling.core.errors import ConfigError
from crossling.core.provenance import provenance
from crossling.data.parallel import ParallelCorpus
from crossling.models.encoder import Encoder
from crossling.results import CrossLingualRow, LayerDifferenceRow, ModelModelRow, SimilarityRow
from crossling.similarity.checks import (
    as_layers,
    as_names,
    check_layers_of,
    check_max_length,
)
from crossling.similarity.extract import (
    BATCH_TOKENS,
    encoder_fingerprint,
    encoder_tokenizer_fingerprint,
    extract_cached,
    extraction_precision,
)
from crossling.similarity.measures import (
    get_measures,
    interval_kind,
    min_sentences,
    neediest,
    resample_counts,
)
from crossling.similarity.null import (
    Estimate,
    check_resample_memory,
    check_resampling,
    estimate,
    estimate_targets,
    layer_difference,
)

DEFAULT_MEASURES = ("debiased_cka", "linear_cka", "rbf_cka")
"""Headline measure first: debiased CKA is the only measure whose interval is a CI for the
population CKA; biased linear and RBF CKA are kept for comparison with the paper."""

LAYER_DIFFERENCE_KIND = "layer-difference"
"""``SimilarityRow.kind`` of the peak-minus-top rows of ``layer_difference=True``."""

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


def check_languages(corpus: ParallelCorpus, languages: Sequence[str]) -> None:
    """Raise a one-line ConfigError for a language the corpus does not hold."""
    for lang in languages:
        if lang not in corpus.texts:
            raise ConfigError(f"unknown language {lang!r} (available: "
                              f"{', '.join(corpus.languages)})")


def check_layers(layers: Sequence[int] | int | None, num_states: int) -> list[int]:
    """Validated layer indices (0 = embeddings .. num_states - 1); all when None; a bare
    integer is one layer."""
    layers = as_layers(layers)
    if layers is None:
        return list(range(num_states))
    for layer in layers:
        if not 0 <= layer < num_states:
            raise ConfigError(f"layer {layer} out of range 0..{num_states - 1} (0 = embeddings)")
    return sorted(set(layers))


def check_arguments(measures: Any, n_boot: Any, n_null: Any, seed: Any, batch_tokens: Any,
                    ) -> list[str]:
    """The checks that need no data: known measures (a bare string is one measure), resample
    counts and seed (integers, :func:`~crossling.similarity.null.check_resampling`), a token
    budget >= 1; the measure ids."""
    chosen = as_names(measures, "measures") or []
    get_measures(chosen)
    check_resampling(n_boot, n_null, seed)
    check_count("batch_tokens", batch_tokens, 1)
    return chosen


def check_settings(corpus: ParallelCorpus, languages: Sequence[str], measures: Sequence[str],
                   n_boot: int, n_null: int, batch_tokens: int, seed: int = 0) -> list[str]:
    """One-line ConfigErrors for settings that would give garbage instead of an error; the
    measure ids (:func:`check_arguments`).

    Duplicate languages would write every row twice; fewer sentences than a measure needs give
    NaN or a trivial 1 (each measure's ``min_n``); negative or fractional resample counts give
    NaN intervals or a traceback, and ones too large for memory an out-of-memory crash after
    the encoding (:func:`~crossling.similarity.null.check_resample_memory`); a non-positive
    token budget has no meaning.
    """
    measures = check_arguments(measures, n_boot, n_null, seed, batch_tokens)
    for what, values in (("language", list(languages)), ("measure", list(measures))):
        dupes = sorted({v for v in values if values.count(v) > 1})
        if dupes:
            raise ConfigError(f"{what} {dupes[0]!r} given more than once")
    check_languages(corpus, languages)
    need = min_sentences(measures)
    if len(corpus) < need:
        worst = neediest(measures).id
        raise ConfigError(f"{len(corpus)} parallel sentences: {worst} needs at least {need}")
    check_resample_memory(len(corpus), n_boot, n_null)
    return measures


def _rows(kind: str, source: str, target: str, x: torch.Tensor, y: torch.Tensor,
          layers: list[int], measures: Sequence[str], n_boot: int, n_null: int, seed: int,
          pooling: str, model: str, compare_model: str | None, prov: dict[str, Any],
          device: torch.device, bar: Any) -> list[SimilarityRow]:
    """The rows of each layer of one pair of vector sets."""
    rows = []
    for layer in layers:
        est = estimate(x[layer], y[layer], measures, n_boot=n_boot, n_null=n_null, seed=seed,
                       device=device)
        rows += _layer_rows(kind, source, target, layer, est, measures, pooling, model,
                            compare_model, prov)
        bar.update(1)
    return rows


def _layer_rows(kind: str, source: str, target: str, layer: int, est: Mapping[str, Estimate],
                measures: Sequence[str], pooling: str, model: str, compare_model: str | None,
                prov: dict[str, Any]) -> list[SimilarityRow]:
    """One row per measure of one layer's estimates."""
    rows: list[SimilarityRow] = []
    for m in measures:
        e = est[m]
        values: dict[str, Any] = dict(
            source=source, target=target, layer=layer, metric=m, value=e.value, ci_low=e.ci_low,
            ci_high=e.ci_high, null_mean=e.null_mean, null_high=e.null_high, n=e.n,
            pooling=pooling, model=model, provenance=prov)
        rows.append(CrossLingualRow(**values) if compare_model is None else
                    ModelModelRow(**values, compare_model=compare_model))
    return rows


def _difference_rows(source: str, target: str, kept: dict[int, dict[str, Estimate]],
                     measures: Sequence[str], n_boot: int, pooling: str, model: str,
                     prov: dict[str, Any]) -> list[SimilarityRow]:
    """One ``layer-difference`` row per measure from the estimates of every analysed layer."""
    rows: list[SimilarityRow] = []
    for m in measures:
        d = layer_difference({layer: est[m] for layer, est in kept.items()}, m, n_boot)
        detail = {"definition": LAYER_DIFFERENCE_DEFINITION, "peak_layer": d.peak_layer,
                  "top_layer": d.top_layer, "p_top_ge_peak": d.p_top_ge_peak,
                  "interval": d.interval, "resamples": d.n_boot}
        rows.append(LayerDifferenceRow(source=source, target=target, layer=d.peak_layer,
                                       metric=m, value=d.value, ci_low=d.ci_low,
                                       ci_high=d.ci_high, n=d.n, pooling=pooling, model=model,
                                       provenance={**prov, "layer_difference": detail},
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


def _metric_device(encoder: Encoder, device: torch.device | str | None) -> torch.device:
    """Where CKA, bootstrap and null run: ``device`` if given, else where the encoder is (the
    user's ``--device``), never a GPU the user did not choose."""
    return pick_device(str(device)) if device is not None else encoder.device


def _extraction(encoder: Encoder, prefix: str, autocast: bool | None) -> dict[str, str]:
    """Tokenizer fingerprint and forward-pass precision of an encoder, for the provenance."""
    return {f"{prefix}tokenizer_fingerprint": encoder_tokenizer_fingerprint(encoder),
            f"{prefix}extraction_precision": extraction_precision(encoder, autocast)}


def cross_lingual_similarity(encoder: Encoder, corpus: ParallelCorpus, source: str, *,
                             targets: Sequence[str], measures: Sequence[str] = DEFAULT_MEASURES,
                             pooling: str = "mean", n_boot: int = 200, n_null: int = 100,
                             seed: int = 0, cache_dir: str | Path | None = None,
                             layers: Sequence[int] | None = None, max_length: int | None = None,
                             batch_tokens: int = BATCH_TOKENS, progress: bool = True,
                             device: torch.device | str | None = None,
                             autocast: bool | None = None,
                             layer_difference: bool = False) -> list[SimilarityRow]:
    """Per-layer similarity between ``source`` and each target on parallel sentences.

    ``device`` runs the measures (default: the encoder's device); ``autocast`` is passed to
    :func:`~crossling.similarity.extract.extract` (default: bf16 on CUDA). ``max_length``:
    sub-words kept per sentence (default: the model's positions, at most 512; a larger value
    is refused, :func:`~crossling.similarity.checks.check_max_length`).
    ``layer_difference``: also one ``"layer-difference"`` row per target and measure after that
    target's per-layer rows (peak layer minus top layer with a paired bootstrap interval, from
    the same resamples as the per-layer intervals: no extra kernel matrices; needs at least 2
    layers; see :class:`~crossling.results.SimilarityRow`). The per-layer rows are unchanged.

    Checked before any encoding: the settings (:func:`check_settings`; ``targets`` and
    ``measures`` may be a bare string, one name), the layers, ``max_length`` against the
    model's positions; after each language's encoding, before any measure: every analysed
    layer's vectors (non-finite or (near-)constant vectors are refused with one line naming
    the layer and the language, :func:`~crossling.similarity.checks.check_layers_of`).
    """
    targets = as_names(targets, "targets") or []
    if source in targets:
        raise ConfigError(f"source language {source!r} is also a target")
    measures = check_settings(corpus, [source, *targets], measures, n_boot, n_null,
                              batch_tokens, seed)
    chosen = check_layers(layers, encoder.num_layers + 1)
    if layer_difference and len(chosen) < 2:
        raise ConfigError(f"layer difference: needs at least 2 layers, got {chosen}")
    max_length = check_max_length(encoder.model, max_length, encoder.name)
    metric_device = _metric_device(encoder, device)
    texts = {lang: corpus.texts[lang] for lang in [source, *targets]}
    vectors = {}
    for lang, t in texts.items():
        vectors[lang] = extract_cached(encoder, t, pooling, cache_dir, max_length=max_length,
                                       batch_tokens=batch_tokens, progress=progress,
                                       autocast=autocast, desc=f"encode {lang}")
        check_layers_of(vectors[lang], chosen, lang)
    prov = provenance(
        data_files=[corpus.files[lang] for lang in texts], device=metric_device,
        model=encoder.name, model_fingerprint=encoder_fingerprint(encoder),
        **_extraction(encoder, "", autocast), pooling=pooling, seed=seed,
        n_boot=n_boot, n_null=n_null, n_sentences=len(corpus), measures=list(measures),
        metric_variants=_variants(measures, n_boot, n_null), max_length=max_length)
    # Layer by layer, so that the source's kernels and per-side preparations (SVDs, ranks,
    # neighbours, permuted stacks) are built once per layer and shared by every target, the
    # targets side by side (estimate_targets); the rows are returned in the usual order
    # (target, then layer).
    per_target: dict[str, list[SimilarityRow]] = {tgt: [] for tgt in targets}
    kept: dict[str, dict[int, dict[str, Estimate]]] | None = \
        {tgt: {} for tgt in targets} if layer_difference else None
    with tqdm(total=len(targets) * len(chosen), desc="similarity", unit="layer",
              disable=not progress) as bar:
        for layer in chosen:
            ests = estimate_targets(vectors[source][layer], [vectors[t][layer] for t in targets],
                                    measures, n_boot=n_boot, n_null=n_null, seed=seed,
                                    device=metric_device, keep_resamples=kept is not None)
            for tgt, est in zip(targets, ests, strict=True):
                if kept is not None:
                    kept[tgt][layer] = est
                per_target[tgt] += _layer_rows("cross-lingual", source, tgt, layer, est,
                                               measures, pooling, encoder.name, None, prov)
            bar.update(len(targets))
    if kept is not None:
        for tgt in targets:
            per_target[tgt] += _difference_rows(source, tgt, kept[tgt], measures, n_boot,
                                                pooling, encoder.name, prov)
    return [row for tgt in targets for row in per_target[tgt]]


def model_similarity(encoder_a: Encoder, encoder_b: Encoder, corpus: ParallelCorpus, *,
                     languages: Sequence[str], measures: Sequence[str] = DEFAULT_MEASURES,
                     pooling: str = "mean", n_boot: int = 200, n_null: int = 100, seed: int = 0,
                     cache_dir: str | Path | None = None, layers: Sequence[int] | None = None,
                     max_length: int | None = None, batch_tokens: int = BATCH_TOKENS,
                     progress: bool = True,
                     device: torch.device | str | None = None, autocast: bool | None = None,
                     ) -> list[SimilarityRow]:
    """Per-layer similarity of two models on the same sentences of each language.

    ``device`` and ``autocast`` as in :func:`cross_lingual_similarity` (device default: model
    A's device). Checked as in :func:`cross_lingual_similarity`; the vectors of each language
    and model before that language's measures.
    """
    languages = as_names(languages, "languages") or []
    measures = check_settings(corpus, languages, measures, n_boot, n_null, batch_tokens, seed)
    if encoder_a.num_layers != encoder_b.num_layers:
        raise ConfigError(f"{encoder_a.name} has {encoder_a.num_layers} layers but "
                          f"{encoder_b.name} has {encoder_b.num_layers}: layer-wise comparison "
                          "needs the same depth")
    chosen = check_layers(layers, encoder_a.num_layers + 1)
    max_length = min(check_max_length(enc.model, max_length, enc.name)
                     for enc in (encoder_a, encoder_b))
    metric_device = _metric_device(encoder_a, device)
    prov = provenance(
        data_files=[corpus.files[lang] for lang in languages], device=metric_device,
        model=encoder_a.name, model_fingerprint=encoder_fingerprint(encoder_a),
        **_extraction(encoder_a, "", autocast), compare_model=encoder_b.name,
        compare_model_fingerprint=encoder_fingerprint(encoder_b),
        **_extraction(encoder_b, "compare_", autocast), pooling=pooling, seed=seed,
        n_boot=n_boot, n_null=n_null, n_sentences=len(corpus), measures=list(measures),
        metric_variants=_variants(measures, n_boot, n_null), max_length=max_length)
    rows: list[SimilarityRow] = []
    with tqdm(total=len(languages) * len(chosen), desc="model similarity", unit="layer",
              disable=not progress) as bar:
        for lang in languages:
            a = extract_cached(encoder_a, corpus.texts[lang], pooling, cache_dir,
                               max_length=max_length, batch_tokens=batch_tokens,
                               progress=progress, autocast=autocast, desc=f"encode {lang} (A)")
            b = extract_cached(encoder_b, corpus.texts[lang], pooling, cache_dir,
                               max_length=max_length, batch_tokens=batch_tokens,
                               progress=progress, autocast=autocast, desc=f"encode {lang} (B)")
            check_layers_of(a, chosen, f"{lang} ({encoder_a.name})")
            check_layers_of(b, chosen, f"{lang} ({encoder_b.name})")
            rows += _rows("model-model", lang, lang, a, b, chosen, measures, n_boot, n_null,
                          seed, pooling, encoder_a.name, encoder_b.name, prov, metric_device,
                          bar)
    return rows

