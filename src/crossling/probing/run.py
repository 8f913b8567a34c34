"""Probe every asked layer of a loaded encoder: the rows of ``crossling probe``.

Per layer a linear UPOS probe and a control-task probe are fitted on the training words (one
layer in memory at a time, read from the word-vector cache) and scored unchanged on every test
set; per set the majority tag is the no-layer baseline. Everything that changes numbers is
recorded in the rows' provenance.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from crossling.core.provenance import provenance
from crossling.models.encoder import Encoder
from crossling.models.languages import language_codes, source_language
from crossling.models.naming import model_name
from crossling.probing.data import EvalSet, ProbeData
from crossling.probing.fit import fit_probes
from crossling.probing.scoring import Score, majority_score, score_layer
from crossling.probing.settings import ProbeSettings, check_layers
from crossling.probing.vectors import Extraction, WordVectors, word_vectors_cached
from crossling.results import PROBE_TASK, ProbeRow, ScoreRow
from crossling.similarity.checks import check_max_length, check_vectors
from crossling.similarity.extract import (
    encoder_fingerprint,
    encoder_tokenizer_fingerprint,
    extraction_precision,
    frozen_precision,
    kept_layers,
)
from crossling.similarity.memory import estimate_for, report_memory
from crossling.training.finetune import SUBSAMPLE_SEED

log = logging.getLogger(__name__)


def _train_language(settings: ProbeSettings) -> str:
    """The language of the training words (``en_ewt``, or a UD file's name ``en_ewt-ud-...``:
    the language code comes first), for tokenizers with language codes."""
    return Path(settings.source_train).name


def _provenance(encoder: Encoder, data: ProbeData, settings: ProbeSettings,
                max_length: int) -> dict[str, Any]:
    s = settings
    codes = language_codes(encoder.tokenizer, [_train_language(s), *(t.label for t in data.sets)])
    return provenance(
        data_files=list(data.files), device=encoder.device, task=PROBE_TASK,
        model=model_name(encoder.name), seed=s.seed, source=s.source,
        source_train=Path(s.source_train).name,
        max_train_sentences=s.max_train_sentences, max_eval_sentences=s.max_eval_sentences,
        subsample_seed=SUBSAMPLE_SEED, n_train_sentences=len(data.train), labels=data.labels,
        majority_tag=data.majority, unknown_labels={k: v for k, v in data.unknown.items() if v},
        probe={"kind": "linear softmax (multinomial logistic regression)",
               "features": "representative sub-word (first, bare '\u2581' skipped), "
                           "standardised with the training words' mean and std",
               "optimizer": "full-batch L-BFGS, strong Wolfe line search, from zeros",
               "l2": s.l2, "l2_form": "mean cross-entropy + l2/2 * ||W||^2 (bias unpenalised)",
               "max_iter": s.max_iter, "model_selection": "none"},
        control={"method": "Hewitt & Liang 2019 control task: one tag per word type, drawn "
                           "from the training tag distribution by a seeded BLAKE2b hash of "
                           "the form", "seed": s.seed},
        weights_fingerprint=encoder_fingerprint(encoder),
        tokenizer_fingerprint=encoder_tokenizer_fingerprint(encoder),
        extraction={"precision": extraction_precision(encoder, s.precision), "storage": "float16",
                    "max_length": max_length},
        ci=f"95% percentile bootstrap over sentences, {s.n_boot} resamples",
        **({"language_codes": codes} if codes else {}))


class _Rows:
    """The rows of one probe run: they share its provenance and model."""

    def __init__(self, encoder: Encoder, settings: ProbeSettings,
                 prov: dict[str, Any]) -> None:
        self.name, self.settings, self.prov = model_name(encoder.name), settings, prov
        self.rows: list[ScoreRow] = []

    def add(self, s: EvalSet, metric: str, value: Score, n_units: int,
            layer: int | None) -> None:
        self.rows.append(ProbeRow(
            task=PROBE_TASK, language=s.label, split=s.path.stem, metric=metric,
            value=value[0], ci_low=value[1], ci_high=value[2], n_sentences=s.n_sentences,
            n_units=n_units, model=self.name, reinit="REF", seed=self.settings.seed,
            provenance=self.prov, source=self.settings.source, layer=layer))


def probe_layers(encoder: Encoder, data: ProbeData, settings: ProbeSettings, *,
                 cache_dir: str | Path | None = None, progress: bool = True) -> list[ScoreRow]:
    """Fit and score the probes of ``settings.layers`` on ``data``: per test set and layer
    ``upos_acc``, ``control_acc`` and ``selectivity``, per test set ``majority_acc`` (layer
    None). ``cache_dir`` keeps the word vectors (default: a temporary folder, so that layers
    are still read one at a time)."""
    s = settings
    layers = check_layers(s.layers, encoder.num_layers)
    kept = kept_layers(layers, encoder.num_layers + 1)  # only these are computed and cached
    length = check_max_length(encoder.model, s.max_length, encoder.name)
    out = _Rows(encoder, s, _provenance(encoder, data, s, length))
    timings = {"train_words_s": 0.0, "test_words_s": 0.0, "fit_s": 0.0, "score_s": 0.0}
    iterations: dict[int, tuple[int, int]] = {}
    for t in data.sets:
        value, n_units = majority_score(t, data.majority, seed=s.seed, n_boot=s.n_boot)
        out.add(t, "majority_acc", value, n_units, None)
    extraction = Extraction(max_length=length, batch_tokens=s.batch_tokens,
                            precision=s.precision,
                            layers=None if kept is None else tuple(kept))
    words = [sum(len(ex.words) for ex in data.train),
             *(sum(len(w) for w in t.words) for t in data.sets)]
    # one set in memory at a time (float16), then streamed from the cache a layer at a time
    report_memory(estimate_for(encoder.model, encoder.num_layers + 1, (1, max(words), "words", 2),
                               kept, s.batch_tokens, frozen_precision(encoder, s.precision)),
                  encoder.device)
    with contextlib.ExitStack() as stack:
        folder = cache_dir if cache_dir is not None else stack.enter_context(
            tempfile.TemporaryDirectory(prefix="crossling-probe-"))  # stream layers from disk
        clock = time.perf_counter()
        with source_language(encoder.tokenizer, _train_language(s)):
            train_vec = word_vectors_cached(encoder, [ex.words for ex in data.train], folder,
                                            extraction, progress=progress,
                                            desc="probe: train words")
        timings["train_words_s"] = time.perf_counter() - clock
        clock = time.perf_counter()
        vectors = {}
        for t in data.sets:
            with source_language(encoder.tokenizer, t.label):
                vectors[t.label] = word_vectors_cached(encoder, t.words, folder, extraction,
                                                       progress=progress,
                                                       desc=f"probe: {t.label} words")
        timings["test_words_s"] = time.perf_counter() - clock
        for k in tqdm(layers, desc="probe: layers", disable=not progress, leave=False):
            iterations[k] = _probe_layer(k, encoder, data, (train_vec, vectors), out, timings)
    # filled in place: every row shares this provenance dict (a cached set reads as ~0 s)
    out.prov["timings_s"] = {k: round(v, 2) for k, v in timings.items()}
    out.prov["n_train_words"] = int(train_vec.valid.sum())
    out.prov["lbfgs_iterations"] = {str(k): v for k, v in iterations.items()}  # (tagger, control)
    log.info("probe: train words %.1f s, test words %.1f s, %d x 2 probes %.1f s, scoring "
             "%.1f s", timings["train_words_s"], timings["test_words_s"], len(layers),
             timings["fit_s"], timings["score_s"])
    return out.rows


def _probe_layer(k: int, encoder: Encoder, data: ProbeData,
                 vectors: tuple[WordVectors, dict[str, WordVectors]], out: _Rows,
                 timings: dict[str, float]) -> tuple[int, int]:
    """Fit both probes of layer ``k`` and add their rows to ``out``; their L-BFGS iterations."""
    s = out.settings
    train_vec, test_vecs = vectors
    clock = time.perf_counter()
    keep = train_vec.valid  # a training word without a sub-word has no vector: left out
    x = train_vec.layer(k)[keep]
    check_vectors(x, f"layer {k} of {s.source_train} (training words)", "word vectors")
    # both probes in lockstep: one pass over the training matrix per evaluation
    tagger, control = fit_probes(x, [data.y_train[keep], data.y_control[keep]],
                                 len(data.labels), l2=s.l2, max_iter=s.max_iter,
                                 device=encoder.device)
    del x
    timings["fit_s"] += time.perf_counter() - clock
    clock = time.perf_counter()
    for t in data.sets:
        scores = score_layer((tagger, control), data.labels, t, test_vecs[t.label], k, s)
        n_units = sum(len(g) for g in t.gold)
        for metric, value in scores.items():
            out.add(t, metric, value, n_units, k)
    timings["score_s"] += time.perf_counter() - clock
    return tagger.iterations, control.iterations
