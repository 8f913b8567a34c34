"""Layer-wise probing with zero-shot probe transfer: where does a POS signal live before tuning?

The encoder is frozen. Every word of a sentence is represented, at every layer (0 = embedding
output, ``i`` = output of block ``i``), by the hidden state of its representative sub-word --
the same one fine-tuning labels (:func:`crossling.models.encoder.encode_words`: the first
sub-word, skipping a bare SentencePiece ``▁``), so probing and fine-tuning see words the same
way. A linear softmax probe per layer is trained on English EWT words and evaluated *unchanged*
on the source's PUD test set and on every PUD target: it answers "is there a linearly readable,
language-neutral POS signal at this layer?" without any fine-tuning.

Probe accuracy alone is not the encoder's knowledge (Hewitt & Liang 2019, "Designing and
Interpreting Probes with Control Tasks"): a linear probe over a 384-dimensional vector can
memorise word identity. Each layer therefore also gets

- a **control task** probe: every word *type* gets a random tag drawn, by a seeded hash of the
  word, from the training words' empirical tag distribution (:func:`control_tags`); a probe of
  the same capacity is trained on those tags. Its accuracy is what memorising word types buys;
  ``selectivity = accuracy - control accuracy`` (paired bootstrap over sentences) is what the
  representation adds beyond that. On a target language most word types are unseen in English
  training, so its control accuracy is near chance and selectivity close to accuracy minus chance;
- a **majority baseline** (no layer): EWT train's most frequent tag, evaluated on each set.

Settings that change numbers are fixed and recorded in the provenance: features standardised
with the training words' mean and standard deviation, multinomial logistic regression with L2
penalty ``l2 / 2 * ||W||^2`` on the mean cross-entropy (:data:`DEFAULT_L2`), fitted full-batch
with L-BFGS (strong Wolfe line search) from zeros -- a convex problem with one optimum, so the
result does not depend on a random initialisation; no model selection (the only selection in
this module would have to use EWT dev, and there is none). Scores are UPOS accuracy over
syntactic words in [0, 100] with a 95% percentile bootstrap over sentences
(:func:`crossling.training.metrics.accuracy`). Words without a representative sub-word (cut off
by truncation) count as errors, as in fine-tuning's evaluation; gold tags never seen in
training count as errors too.

Cost: extraction dominates. Word vectors of a sentence set are cached on disk
(``<cache_dir>/words-<key>.safetensors``, float16, one tensor per layer, written atomically
with a checksum that is verified on every read: :mod:`crossling.core.checksums`), keyed by the
weights and tokenizer fingerprints, truncation, precision and every word, like the
sentence-vector cache of :mod:`crossling.similarity.extract`; the probes read one layer at a
time, so memory holds one layer of one set beside the training layer. The training set is
subsampled to :data:`DEFAULT_MAX_TRAIN_SENTENCES` sentences by default (fixed subsample seed,
as fine-tuning's ``max_train_sentences``): all 12,544 EWT sentences (204k words) would take
13 x 204k x 384 x 2 bytes = 2 GB in float16 and three times the extraction time, for a probe of
6.5k parameters that 60k words already determine (bench/RESULTS.md, "Issue 13: probing").
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import tempfile
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from crossling.core.checks import check_seed
from crossling.core.checksums import CacheDamaged, save_tensors, verify_tensors, warn_recompute
from crossling.core.devices import pick_device
from crossling.core.errors import ConfigError, ModelError
from crossling.core.provenance import provenance
from crossling.data.batching import bucket_batches
from crossling.data.example import Example
from crossling.data.leakage import check_overlap, check_training_splits
from crossling.data.resolve import pud_languages
from crossling.data.specs import DataFolders, check_distinct, resolve_spec
from crossling.models.config import num_blocks, read_config
from crossling.models.encoder import Encoder, encode_words, load_encoder
from crossling.models.names import check_model_name
from crossling.results import PROBE_TASK, ProbeRow, ScoreRow
from crossling.similarity.checks import (
    as_names,
    check_max_length,
    check_memory,
    check_vectors,
)
from crossling.similarity.extract import (
    BATCH_TOKENS,
    MAX_BATCH,
    encoder_fingerprint,
    encoder_tokenizer_fingerprint,
    extraction_precision,
    resolve_autocast,
)
from crossling.training.finetune import SUBSAMPLE_SEED, read_examples
from crossling.training.metrics import accuracy, bootstrap_ratio
from crossling.training.probe_fit import (
    DEFAULT_L2,
    DEFAULT_MAX_ITER,
    LinearProbe,
    fit_probe,
    fit_probes,
)

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_L2", "DEFAULT_MAX_ITER", "DEFAULT_MAX_TRAIN_SENTENCES", "PROBE_METRICS",
           "PROBE_TASK", "LinearProbe", "WordVectors", "control_tags", "extract_word_vectors",
           "fit_probe", "fit_probes", "probe", "probe_files", "word_vectors_cached"]

PROBE_METRICS = ("upos_acc", "control_acc", "selectivity", "majority_acc")
"""Metrics of probing rows: the probe's UPOS accuracy, the control-task probe's accuracy on the
control tags, their difference, and the majority baseline (``layer`` None)."""

DEFAULT_MAX_TRAIN_SENTENCES = 4000
"""Training sentences drawn from EWT train by default (about 65k words; the module docstring
says why not all 12.5k)."""

FORMAT = 1
"""Version of the word-vector cache layout (part of every key)."""

NO_PREDICTION = ""
"""The predicted tag of a word without a representative sub-word: never equal to a gold tag."""


# --- word vectors ------------------------------------------------------------------------------


@dataclass(frozen=True)
class WordVectors:
    """Every word's vector at every hidden state of an encoder, for one set of sentences.

    Words are in sentence order, sentences in the order given (``n_words`` per sentence).
    ``valid[i]`` is False for a word that has no representative sub-word (truncated); its
    vectors are zeros. The vectors are held in ``memory`` ([states, words, hidden], float16) or
    in the safetensors file ``path`` (one tensor ``layer_<k>`` per state, read one at a time).
    """

    n_words: tuple[int, ...]
    valid: torch.Tensor
    n_states: int
    path: Path | None = None
    memory: torch.Tensor | None = None

    def layer(self, k: int) -> torch.Tensor:
        """The float32 [words, hidden] vectors of hidden state ``k``."""
        if not 0 <= k < self.n_states:
            raise IndexError(f"layer {k} out of range 0..{self.n_states - 1}")
        if self.memory is not None:
            return self.memory[k].float()
        if self.path is None:
            raise ValueError("word vectors with neither memory nor a file")
        from safetensors import safe_open

        with safe_open(str(self.path), framework="pt") as fh:
            return fh.get_tensor(f"layer_{k}").float()


def _max_length(encoder: Encoder, max_length: int | None) -> int:
    """``max_length`` if given, else the model's position limit, at most 512 sub-words (the
    similarity pipeline's rule, :func:`~crossling.similarity.checks.check_max_length`)."""
    return check_max_length(encoder.model, max_length, encoder.name)


def extract_word_vectors(encoder: Encoder, sentences: Sequence[Sequence[str]], *,
                         max_length: int = 512, batch_tokens: int = BATCH_TOKENS,
                         autocast: bool | None = None, progress: bool = True,
                         desc: str = "words") -> WordVectors:
    """One forward pass per length-bucketed batch under ``torch.inference_mode``; from all
    hidden states, the vector of each word's representative sub-word, kept as float16.

    Sentences are tokenised by :func:`~crossling.models.encoder.encode_words` (fine-tuning's
    word alignment) and batched by :func:`~crossling.data.batching.bucket_batches` (sorted
    by length, at most ``batch_tokens`` padded sub-words per pass). ``autocast`` as in
    :func:`crossling.similarity.extract.extract` (default: bfloat16 on CUDA).
    """
    if batch_tokens <= 0:
        raise ConfigError(f"batch_tokens = {batch_tokens}: the token budget per forward pass "
                          "must be > 0")
    if not sentences:
        raise ValueError("no sentences to encode")
    tok, model, device = encoder.tokenizer, encoder.model, encoder.device
    lists = [list(s) for s in sentences]
    enc = tok(lists, is_split_into_words=True, truncation=True, max_length=max_length)
    lengths = [len(ids) for ids in enc["input_ids"]]
    n_words = [len(s) for s in lists]
    starts = torch.tensor(np.concatenate([[0], np.cumsum(n_words)[:-1]]), dtype=torch.long)
    total = int(sum(n_words))
    states_out: torch.Tensor | None = None
    valid = torch.zeros(total, dtype=torch.bool)
    ctx = (torch.autocast(device.type, dtype=torch.bfloat16)
           if resolve_autocast(encoder, autocast) else nullcontext())
    batches = bucket_batches(lengths, MAX_BATCH, seed=0, shuffle=False, max_tokens=batch_tokens)
    bar = tqdm(total=len(lists), desc=desc, unit="sent", disable=not progress, leave=False)
    with torch.inference_mode(), ctx:
        for idx in batches:
            batch = encode_words(tok, [lists[i] for i in idx], max_length)
            inputs = {k: v.to(device) for k, v in batch.inputs.items()}
            result = model(**inputs, output_hidden_states=True, return_dict=True)
            states = getattr(result, "hidden_states", None)
            if not states:
                raise ModelError(f"{encoder.name}: the model returned no hidden_states; "
                                 "crossling needs an encoder that exposes every layer")
            first = batch.first_subword
            b, w = (first >= 0).nonzero(as_tuple=True)
            rows = starts[torch.tensor(idx, dtype=torch.long)[b]] + w
            pos = first[b, w].to(device)
            b_dev = b.to(device)
            if states_out is None:
                states_out = torch.zeros(len(states), total, states[0].shape[-1],
                                         dtype=torch.float16)
            for k, s in enumerate(states):
                states_out[k, rows] = s[b_dev, pos].to(torch.float16).cpu()
            valid[rows] = True
            bar.update(len(idx))
    bar.close()
    if states_out is None:  # unreachable with sentences; kept for the type checker
        raise ValueError("no sentences to encode")
    lost = total - int(valid.sum())
    if lost:
        log.warning("%d of %d words have no sub-word within %d tokens (counted as errors)",
                    lost, total, max_length)
    return WordVectors(tuple(n_words), valid, states_out.shape[0], memory=states_out)


def word_cache_key(encoder: Encoder, sentences: Sequence[Sequence[str]], max_length: int,
                   autocast: bool) -> str:
    """Content key: format, weights and tokenizer fingerprints, truncation, precision, words."""
    digest = hashlib.sha256(
        f"words|{FORMAT}|{encoder_fingerprint(encoder)}|{encoder_tokenizer_fingerprint(encoder)}|"
        f"{max_length}|bf16={bool(autocast)}|{len(sentences)}".encode())
    for s in sentences:
        digest.update("\x1f".join(s).encode("utf-8") + b"\x1e")
    return digest.hexdigest()[:24]


def _read_word_cache(path: Path, n_sentences: int) -> WordVectors | None:
    """The file-backed word vectors cached at ``path`` if their checksum and shape hold, else
    None (after a warning: the caller extracts them again)."""
    from safetensors import safe_open

    try:
        names = verify_tensors(path)
        with safe_open(str(path), framework="pt") as fh:
            valid = fh.get_tensor("valid").bool()
            n_words = tuple(int(n) for n in fh.get_tensor("n_words").tolist())
    except CacheDamaged as exc:
        warn_recompute(path, exc)
        return None
    except (KeyError, ValueError, RuntimeError) as exc:  # a checksummed file of another layout
        warn_recompute(path, f"unreadable: {exc}")
        return None
    n_states = sum(1 for k in names if k.startswith("layer_"))
    if len(n_words) != n_sentences or n_states == 0 or len(valid) != sum(n_words):
        warn_recompute(path, "unexpected content")
        return None
    return WordVectors(n_words, valid, n_states, path=path)


def word_vectors_cached(encoder: Encoder, sentences: Sequence[Sequence[str]],
                        cache_dir: str | Path | None, *, max_length: int = 512,
                        batch_tokens: int = BATCH_TOKENS, autocast: bool | None = None,
                        progress: bool = True, desc: str = "words") -> WordVectors:
    """:func:`extract_word_vectors`, read from / written to ``cache_dir`` when one is given.

    With a cache the result is file-backed (a layer is read when asked for), whether the set
    was found there or extracted now and written atomically; without one it is in memory.
    """
    use_autocast = resolve_autocast(encoder, autocast)
    if cache_dir is None:
        return extract_word_vectors(encoder, sentences, max_length=max_length,
                                    batch_tokens=batch_tokens, autocast=use_autocast,
                                    progress=progress, desc=desc)
    key = word_cache_key(encoder, sentences, max_length, use_autocast)
    path = Path(cache_dir) / f"words-{key}.safetensors"
    if path.is_file():
        found = _read_word_cache(path, len(sentences))
        if found is not None:
            return found
    vectors = extract_word_vectors(encoder, sentences, max_length=max_length,
                                   batch_tokens=batch_tokens, autocast=use_autocast,
                                   progress=progress, desc=desc)
    if vectors.memory is None:  # extract_word_vectors always fills it
        raise ValueError("extraction returned no vectors")
    tensors = {f"layer_{k}": vectors.memory[k] for k in range(vectors.n_states)}
    tensors["valid"] = vectors.valid.to(torch.uint8)
    tensors["n_words"] = torch.tensor(vectors.n_words, dtype=torch.long)
    save_tensors(path, tensors, metadata={
        "model": encoder.name, "max_length": str(max_length),
        "precision": "bfloat16 autocast" if use_autocast else "float32", "storage": "float16"})
    # read back a layer at a time: 20 PUD sets held in memory would take 4 GB for e5-small
    return WordVectors(vectors.n_words, vectors.valid, vectors.n_states, path=path)


# --- the probe ---------------------------------------------------------------------------------


def control_tags(words: Sequence[str], distribution: Mapping[str, float], seed: int,
                 ) -> list[str]:
    """Hewitt & Liang's control task: each word *type* gets a tag drawn from ``distribution``.

    The draw is a function of (``seed``, word form) only: a seeded BLAKE2b hash of the form is
    mapped to [0, 1) and through the inverse CDF of the distribution (tags in sorted order),
    so the same type gets the same tag in every sentence, set and process, and a type unseen in
    training still has its tag. Forms are compared exactly (case-sensitive).
    """
    tags = sorted(t for t, p in distribution.items() if p > 0)
    if not tags:
        raise ValueError("empty tag distribution")
    probs = np.array([distribution[t] for t in tags], dtype=np.float64)
    cdf = np.cumsum(probs / probs.sum())
    cdf[-1] = 1.0
    out = []
    for w in words:
        h = hashlib.blake2b(w.encode("utf-8"), digest_size=8,
                            key=str(seed).encode("ascii")[:64]).digest()
        u = int.from_bytes(h, "big") / 2.0**64
        out.append(tags[min(int(np.searchsorted(cdf, u, side="right")), len(tags) - 1)])
    return out


# --- the service -------------------------------------------------------------------------------


def _flat(examples: Sequence[Example]) -> tuple[list[str], list[str]]:
    words = [w for ex in examples for w in ex.words]
    tags = [t for ex in examples for t in ex.labels]
    return words, tags


def _per_sentence(values: Sequence[str], n_words: Sequence[int]) -> list[list[str]]:
    out, start = [], 0
    for n in n_words:
        out.append(list(values[start:start + n]))
        start += n
    return out


def _check_int(name: str, value: Any, low: int, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")


def _num_layers(model: str | Encoder) -> int:
    """Transformer blocks of ``model``, from its config (before any weights are loaded)."""
    if isinstance(model, Encoder):
        return model.num_layers
    check_model_name(model)
    n = num_blocks(read_config(model))
    if n is None:
        raise ModelError(f"{model}: the config has no num_hidden_layers")
    return n


def _check_layers(layers: Sequence[int] | int | None, n_blocks: int, option: str,
                  ) -> list[int]:
    if isinstance(layers, int) and not isinstance(layers, bool):
        layers = [layers]  # a bare integer is one layer
    if layers is None:
        return list(range(n_blocks + 1))
    if isinstance(layers, str | bytes) or not isinstance(layers, Sequence | range):
        raise ConfigError(f"{option}: expected a list of layer numbers, got {layers!r}")
    chosen = list(layers)
    if not chosen:
        raise ConfigError(f"{option}: empty list (omit it for every layer)")
    for k in chosen:
        if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= n_blocks:
            raise ConfigError(f"{option}: layer {k!r} out of range 0..{n_blocks} "
                              "(0 = embeddings)")
    dupes = sorted({k for k in chosen if chosen.count(k) > 1})
    if dupes:
        raise ConfigError(f"{option}: layer {dupes[0]} given more than once")
    return sorted(chosen)


@dataclass(frozen=True)
class _EvalSet:
    """One test set: its label and file, gold UPOS and control tags per sentence."""

    label: str
    path: Path
    gold: list[list[str]]
    control: list[list[str]]

    @property
    def n_sentences(self) -> int:
        return len(self.gold)


def _correct(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> np.ndarray:
    return np.array([sum(a == b for a, b in zip(g, p, strict=True))
                     for g, p in zip(gold, pred, strict=True)], dtype=np.float64)


def _check_words(xs: torch.Tensor, valid: torch.Tensor, k: int, label: str) -> None:
    """:func:`~crossling.similarity.checks.check_vectors` of one test set's word vectors
    ``xs`` at layer ``k`` (the ``valid`` words only; the variance test needs two of them)."""
    words = xs[valid]
    if words.shape[0]:
        check_vectors(words, f"layer {k} of {label}", "word vectors",
                      variance=words.shape[0] > 1)


PROBE_BOOT_BYTES = 16
"""Bytes per test sentence and bootstrap resample of a probe score (the int64 multinomial
counts of :func:`~crossling.training.metrics.bootstrap_ratio` and their products)."""


def _score_layer(tagger: LinearProbe, control: LinearProbe, labels: Sequence[str],
                 s: _EvalSet, vectors: WordVectors, k: int, *, seed: int, n_boot: int,
                 ) -> dict[str, tuple[float, float, float]]:
    """``upos_acc``, ``control_acc`` and ``selectivity`` (value, CI) of one set at layer ``k``.

    Both accuracies and their difference are bootstrapped with the same seed over the same
    sentences, hence the same resamples: the selectivity interval is a paired one.
    """
    xs = vectors.layer(k)
    _check_words(xs, vectors.valid, k, s.label)
    valid = vectors.valid.tolist()
    preds = []
    for p in (tagger, control):
        flat = [labels[i] if ok else NO_PREDICTION
                for i, ok in zip(p.predict(xs).tolist(), valid, strict=True)]
        preds.append(_per_sentence(flat, vectors.n_words))
    acc = accuracy(s.gold, preds[0], seed=seed, n_boot=n_boot)
    ctl = accuracy(s.control, preds[1], seed=seed, n_boot=n_boot)
    words = np.array([len(g) for g in s.gold], dtype=np.float64)
    diff = _correct(s.gold, preds[0]) - _correct(s.control, preds[1])
    sel = bootstrap_ratio(diff, words, n_boot=n_boot, seed=seed)
    return {"upos_acc": (acc.value, acc.ci_low, acc.ci_high),
            "control_acc": (ctl.value, ctl.ci_low, ctl.ci_high), "selectivity": sel}


def _check_options(max_train_sentences: int | None, max_eval_sentences: int | None,
                   n_boot: int, seed: int, l2: float, max_iter: int, batch_tokens: int) -> None:
    _check_int("max_train_sentences", max_train_sentences, 1, allow_none=True)
    _check_int("max_eval_sentences", max_eval_sentences, 1, allow_none=True)
    _check_int("n_boot", n_boot, 0)
    check_seed(seed)
    _check_int("max_iter", max_iter, 1)
    _check_int("batch_tokens", batch_tokens, 1)
    if isinstance(l2, bool) or not isinstance(l2, int | float) or not math.isfinite(l2) \
            or l2 < 0:
        raise ConfigError(f"l2 must be a finite number >= 0, got {l2!r}")


def probe_files(data: str | Path, source_train: str, source: str,
                targets: Sequence[str] | None,
                allow_test_training: bool = False) -> tuple[Path, dict[str, Path]]:
    """The training file and the test files (source first, then each target) of a probe,
    resolved in ``data``; ConfigError for an empty, repeated or source-equal target, and for a
    test split as training file unless ``allow_test_training``."""
    folders = DataFolders.under(data)
    if folders.ud is None or not folders.ud.is_dir():
        raise ConfigError(f"{data}: UD data folder does not exist")
    chosen = as_names(targets, "targets")  # a bare string is one language
    langs = chosen if chosen is not None else \
        [x for x in pud_languages(folders.ud) if x != source]
    if not langs:
        raise ConfigError("targets: empty list (omit it for every PUD language)")
    dupes = sorted({x for x in langs if langs.count(x) > 1})
    if dupes:
        raise ConfigError(f"targets: {dupes[0]} given more than once")
    train_file = resolve_spec("pos", source_train, "train", folders)
    check_training_splits("train", [(source_train, train_file)], allow_test_training)
    tests = [(lang, resolve_spec("pos", lang, "test", folders)) for lang in [source, *langs]]
    check_distinct("targets", tests, source=source)
    return train_file, dict(tests)


def probe(*, model: str | Encoder, data: str | Path, source_train: str = "en_ewt",
          source: str = "en", targets: Sequence[str] | None = None,
          layers: Sequence[int] | None = None,
          max_train_sentences: int | None = DEFAULT_MAX_TRAIN_SENTENCES,
          max_eval_sentences: int | None = None, n_boot: int = 1000, seed: int = 0,
          l2: float = DEFAULT_L2, max_iter: int = DEFAULT_MAX_ITER,
          max_length: int | None = None, batch_tokens: int = BATCH_TOKENS,
          device: str | None = None, cache_dir: str | Path | None = None,
          progress: bool = True, allow_test_training: bool = False) -> list[ScoreRow]:
    """Fit a linear UPOS probe per layer on ``source_train`` and score it on ``source`` and
    every target: the rows of ``crossling probe`` (and of a study's ``probe`` cell).

    ``data``: the UD folder (or its parent holding ``ud/``); specs are language codes resolved
    there (``source_train`` in the train split: ``en_ewt`` -> EWT train; ``source`` and
    ``targets`` in the test split: ``fr`` -> French PUD) or file paths. ``targets`` None: every
    other PUD language. ``layers``: hidden states to probe (default all, 0 = embeddings).
    ``max_train_sentences`` (None: all) subsamples training sentences with the fixed subsample
    seed of fine-tuning; ``max_eval_sentences`` keeps the first N of each test set (PUD files
    are parallel, so the first N are the same sentences in every language). ``seed`` seeds the
    control task and the bootstrap; ``l2`` and ``max_iter`` are the probe's fixed penalty and
    L-BFGS budget. ``cache_dir`` keeps the word vectors (default: a temporary folder, so that
    layers are still read one at a time). ``model`` may be a loaded
    :class:`~crossling.models.encoder.Encoder`. Every option and file is checked before the
    model is loaded: a test split as ``source_train`` is refused unless
    ``allow_test_training``, and a test sentence that is a training sentence always
    (:mod:`crossling.data.leakage`); a bare string ``targets`` is one test set, a bare integer
    ``layers`` one layer; an ``n_boot`` whose resamples cannot fit in memory is refused. Each
    layer's word vectors are checked before its probe is fitted or scored (non-finite or
    (near-)constant: one line naming the layer and the set,
    :func:`~crossling.similarity.checks.check_vectors`).

    Rows (task :data:`PROBE_TASK`, ``source`` = the source test label): per test set and layer
    ``upos_acc``, ``control_acc`` and ``selectivity``; per test set ``majority_acc`` (layer
    None). Values in [0, 100] with 95% bootstrap intervals over sentences (``n_boot`` 0: none).
    """
    _check_options(max_train_sentences, max_eval_sentences, n_boot, seed, l2, max_iter,
                   batch_tokens)
    pick_device(device)  # a bad --device fails before data and model are read
    train_file, files = probe_files(data, source_train, source, targets, allow_test_training)
    chosen = _check_layers(layers, _num_layers(model), "layers")

    train = read_examples("pos", [train_file], max_train_sentences)
    train_words, train_tags = _flat(train)
    labels = sorted(set(train_tags))
    counts = Counter(train_tags)
    distribution = {t: counts[t] / len(train_tags) for t in labels}
    majority = max(labels, key=lambda t: (counts[t], t))
    index = {t: i for i, t in enumerate(labels)}
    y_train = torch.tensor([index[t] for t in train_tags], dtype=torch.long)
    y_control = torch.tensor([index[t] for t in control_tags(train_words, distribution, seed)],
                             dtype=torch.long)
    test_words: dict[str, list[tuple[str, ...]]] = {}
    sets: list[_EvalSet] = []
    evaluated = {lang: read_examples("pos", [path])[:max_eval_sentences]
                 for lang, path in files.items()}
    check_overlap({"train": train}, evaluated)
    for lang, path in files.items():
        examples = evaluated[lang]
        test_words[lang] = [ex.words for ex in examples]
        sets.append(_EvalSet(lang, path, [list(ex.labels) for ex in examples],
                             [control_tags(ex.words, distribution, seed) for ex in examples]))
    largest = max(s.n_sentences for s in sets)
    check_memory(float(largest) * n_boot * PROBE_BOOT_BYTES,
                 f"n_boot = {n_boot}: the bootstrap of {largest} test sentences")
    unknown = {s.label: sorted({t for g in s.gold for t in g} - set(labels)) for s in sets}
    for lang, tags in unknown.items():
        if tags:
            log.warning("%s: gold tag(s) never seen in training, counted as errors: %s", lang,
                        ", ".join(tags))

    encoder = model if isinstance(model, Encoder) else load_encoder(model, device=device)
    length = _max_length(encoder, max_length)
    prov = provenance(
        data_files=[train_file, *files.values()], device=encoder.device, task=PROBE_TASK,
        model=encoder.name, seed=seed, source=source, source_train=source_train,
        max_train_sentences=max_train_sentences, max_eval_sentences=max_eval_sentences,
        subsample_seed=SUBSAMPLE_SEED, n_train_sentences=len(train), labels=labels,
        majority_tag=majority, unknown_labels={k: v for k, v in unknown.items() if v},
        probe={"kind": "linear softmax (multinomial logistic regression)",
               "features": "representative sub-word (first, bare '\u2581' skipped), "
                           "standardised with the training words' mean and std",
               "optimizer": "full-batch L-BFGS, strong Wolfe line search, from zeros",
               "l2": l2, "l2_form": "mean cross-entropy + l2/2 * ||W||^2 (bias unpenalised)",
               "max_iter": max_iter, "model_selection": "none"},
        control={"method": "Hewitt & Liang 2019 control task: one tag per word type, drawn "
                           "from the training tag distribution by a seeded BLAKE2b hash of "
                           "the form", "seed": seed},
        weights_fingerprint=encoder_fingerprint(encoder),
        tokenizer_fingerprint=encoder_tokenizer_fingerprint(encoder),
        extraction={"precision": extraction_precision(encoder), "storage": "float16",
                    "max_length": length},
        ci=f"95% percentile bootstrap over sentences, {n_boot} resamples")

    def row(s: _EvalSet, metric: str, value: tuple[float, float, float], n_units: int,
            layer: int | None) -> ScoreRow:
        return ProbeRow(task=PROBE_TASK, language=s.label, split=s.path.stem, metric=metric,
                        value=value[0], ci_low=value[1], ci_high=value[2],
                        n_sentences=s.n_sentences, n_units=n_units, model=encoder.name,
                        reinit="REF", seed=seed, provenance=prov, source=source, layer=layer)

    rows: list[ScoreRow] = []
    timings = {"train_words_s": 0.0, "test_words_s": 0.0, "fit_s": 0.0, "score_s": 0.0}
    iterations: dict[int, tuple[int, int]] = {}
    for s in sets:
        sc = accuracy(s.gold, [[majority] * len(g) for g in s.gold], seed=seed, n_boot=n_boot)
        rows.append(row(s, "majority_acc", (sc.value, sc.ci_low, sc.ci_high), sc.n_units, None))
    with contextlib.ExitStack() as stack:
        folder = cache_dir if cache_dir is not None else stack.enter_context(
            tempfile.TemporaryDirectory(prefix="crossling-probe-"))  # stream layers from disk
        kw: dict[str, Any] = {"max_length": length, "batch_tokens": batch_tokens,
                              "progress": progress}
        clock = time.perf_counter()
        train_vec = word_vectors_cached(encoder, [ex.words for ex in train], folder,
                                        desc="probe: train words", **kw)
        timings["train_words_s"] = time.perf_counter() - clock
        clock = time.perf_counter()
        vectors = {s.label: word_vectors_cached(encoder, test_words[s.label], folder,
                                                desc=f"probe: {s.label} words", **kw)
                   for s in sets}
        timings["test_words_s"] = time.perf_counter() - clock
        keep = train_vec.valid  # a training word without a sub-word has no vector: left out
        for k in tqdm(chosen, desc="probe: layers", disable=not progress, leave=False):
            clock = time.perf_counter()
            x = train_vec.layer(k)[keep]
            check_vectors(x, f"layer {k} of {source_train} (training words)", "word vectors")
            # both probes in lockstep: one pass over the training matrix per evaluation
            tagger, control = fit_probes(x, [y_train[keep], y_control[keep]], len(labels),
                                         l2=l2, max_iter=max_iter, device=encoder.device)
            del x
            timings["fit_s"] += time.perf_counter() - clock
            iterations[k] = (tagger.iterations, control.iterations)
            clock = time.perf_counter()
            for s in sets:
                scores = _score_layer(tagger, control, labels, s, vectors[s.label], k,
                                      seed=seed, n_boot=n_boot)
                n_units = sum(len(g) for g in s.gold)
                rows += [row(s, m, v, n_units, k) for m, v in scores.items()]
            timings["score_s"] += time.perf_counter() - clock
    # filled in place: every row shares this provenance dict (a cached set reads as ~0 s)
    prov["timings_s"] = {k: round(v, 2) for k, v in timings.items()}
    prov["n_train_words"] = int(keep.sum())
    prov["lbfgs_iterations"] = {str(k): v for k, v in iterations.items()}  # (tagger, control)
    log.info("probe: train words %.1f s, test words %.1f s, %d x 2 probes %.1f s, scoring "
             "%.1f s", timings["train_words_s"], timings["test_words_s"], len(chosen),
             timings["fit_s"], timings["score_s"])
    return rows
