"""Tiny random models of every supported model type, built from their transformers configs.

As transformers' own tests do: 2 blocks, hidden size 32, 4 heads, so a model builds and runs in
well under a second. Encoders get the session's WordPiece tokenizer (tests/conftest.py);
decoders a copy of it made causal: ``[CLS]`` becomes a BOS token prepended to every sentence
(as Llama's tokenizer does), no end token, and (GPT-2-like) no padding token, so loading must
pick one. One entry here per model type is what a new family needs besides its record; a
tokenizer variant of a type (ByT5) is one entry in `VARIANTS` and `TOKENIZERS`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

_SEQ = dict(d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4,
            relative_attention_num_buckets=8)
_LM = dict(num_key_value_heads=2, head_dim=8)
_BART = dict(d_model=32, encoder_layers=2, decoder_layers=1, encoder_attention_heads=4,
             decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64)

TINY: dict[str, dict[str, Any]] = {
    "bert": {},
    "roberta": {"max_position_embeddings": 260},
    "xlm-roberta": {"max_position_embeddings": 260},
    "camembert": {"max_position_embeddings": 260},
    "electra": {"embedding_size": 16},
    "deberta-v2": {},
    "distilbert": {"dim": 32, "n_layers": 2, "n_heads": 4, "hidden_dim": 64},
    "modernbert": {"global_attn_every_n_layers": 2, "local_attention": 16},
    "t5": _SEQ,
    "mt5": _SEQ,
    "umt5": _SEQ,
    "mbart": _BART,
    "m2m_100": _BART,
    "llama": _LM,
    "mistral": _LM,
    "qwen2": _LM,
    "qwen2_moe": {**_LM, "num_experts": 4, "num_experts_per_tok": 2, "moe_intermediate_size": 16,
                  "shared_expert_intermediate_size": 16},
    "qwen3": _LM,
    "qwen3_moe": {**_LM, "num_experts": 4, "num_experts_per_tok": 2, "moe_intermediate_size": 16},
    "phi3": _LM,
    "stablelm": _LM,
    "cohere": _LM,
    "olmo": _LM,
    "olmo2": _LM,
    "gemma": _LM,
    "gemma2": _LM,
    "gemma3_text": _LM,
    "phi": {},
    "gpt2": {"n_embd": 32, "n_layer": 2, "n_head": 4},
    "bloom": {"n_layer": 2, "n_head": 4},
    "xglm": {"d_model": 32, "num_layers": 2, "attention_heads": 4, "ffn_dim": 64},
    "gpt_neox": {},
    "mpt": {"d_model": 32, "n_heads": 4, "n_layers": 2, "expansion_ratio": 2},
    "falcon": {"new_decoder_architecture": False, "multi_query": False, "parallel_attn": False},
    "rembert": {"input_embedding_size": 16, "output_embedding_size": 16},
}
"""Config overrides per model type, on top of hidden 32, 2 blocks, 4 heads, FFN 64."""


def causal_tokenizer(wordpiece: Any) -> Any:
    """A decoder-style copy of a WordPiece tokenizer: ``[CLS]`` as BOS, no EOS appended, no
    padding token (the loader supplies one), ``[SEP]`` as EOS."""
    from tokenizers import Tokenizer, processors
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer.from_str(wordpiece.backend_tokenizer.to_str())
    backend.no_padding()
    backend.no_truncation()
    bos = backend.token_to_id("[CLS]")
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A", pair="[CLS] $A $B", special_tokens=[("[CLS]", bos)])
    return PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="[CLS]",
                                   eos_token="[SEP]", unk_token="[UNK]",
                                   model_input_names=["input_ids", "attention_mask"])


def qwen2_tokenizer(wordpiece: Any) -> Any:
    """A byte-level BPE ``Qwen2Tokenizer`` trained on the WordPiece vocabulary's words:
    transformers loads any qwen2 folder's tokenizer as ``Qwen2Tokenizer``, which rebuilds
    Qwen's pipeline from the BPE vocabulary and merges (a WordPiece one would not survive)."""
    import json

    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import Qwen2Tokenizer

    words = [w.removeprefix("##") for w in wordpiece.get_vocab() if not w.startswith("[")]
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=1200, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    bpe.train_from_iterator(sorted(words), trainer)
    model = json.loads(bpe.to_str())["model"]
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in model["merges"]]
    return Qwen2Tokenizer(vocab=model["vocab"], merges=merges)


def _vocab_words(wordpiece: Any) -> list[str]:
    return sorted(w.removeprefix("##") for w in wordpiece.get_vocab() if not w.startswith("["))


def mbart50_tokenizer(wordpiece: Any) -> Any:
    """An ``MBart50Tokenizer`` (its 52 language codes, ``en_XX`` first by default) over a
    Unigram vocabulary trained on the WordPiece vocabulary's words."""
    import json

    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import MBart50Tokenizer

    uni = Tokenizer(models.Unigram())
    uni.pre_tokenizer = pre_tokenizers.Metaspace()
    uni.train_from_iterator(_vocab_words(wordpiece), trainers.UnigramTrainer(
        vocab_size=4000, special_tokens=["<unk>", "<s>", "</s>"], unk_token="<unk>"))
    # SentencePiece order (<unk>, <s>, </s>, pieces): the class reorders it as fairseq's
    vocab = [(str(p), float(v)) for p, v in json.loads(uni.to_str())["model"]["vocab"]]
    return MBart50Tokenizer(vocab=vocab)


def nllb_tokenizer(wordpiece: Any) -> Any:
    """An ``NllbTokenizer`` (its 202 codes, ``eng_Latn`` first by default) over a BPE
    vocabulary trained on the WordPiece vocabulary's words."""
    import json

    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import NllbTokenizer

    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.Metaspace()
    bpe.train_from_iterator(_vocab_words(wordpiece), trainers.BpeTrainer(
        vocab_size=4000, special_tokens=["<s>", "<pad>", "</s>", "<unk>"]))
    model = json.loads(bpe.to_str())["model"]
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in model["merges"]]
    return NllbTokenizer(vocab=model["vocab"], merges=merges)


def m2m100_tokenizer(wordpiece: Any) -> Any:
    """An ``M2M100Tokenizer`` (the original M2M100's Python tokenizer, ``__en__`` by default)
    over a 300-piece SentencePiece BPE model trained here on the WordPiece vocabulary's Latin
    words, with a ``vocab.json`` in fairseq's order (``<s> <pad> </s> <unk>``, then the
    pieces). Characters outside those words (Cyrillic, Chinese) are ``<unk>``."""
    import json
    import tempfile

    import sentencepiece as spm
    from transformers import M2M100Tokenizer

    words = [w for w in _vocab_words(wordpiece)
             if w.isalpha() and all(ord(c) < 0x250 for c in w)]
    lines = [" ".join(words[i:i + 10]) for i in range(0, len(words), 10)]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(lines), model_prefix=str(folder / "sp"), vocab_size=300,
            model_type="bpe", character_coverage=1.0, hard_vocab_limit=False, minloglevel=2,
            num_threads=1)
        sp = spm.SentencePieceProcessor(model_file=str(folder / "sp.model"))
        vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
        for piece in (sp.id_to_piece(i) for i in range(sp.get_piece_size())):
            vocab.setdefault(piece, len(vocab))
        (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
        # the model is read into memory; save_pretrained writes it back from there
        return M2M100Tokenizer(vocab_file=str(folder / "vocab.json"),
                               spm_file=str(folder / "sp.model"))


def byt5_tokenizer(wordpiece: Any) -> Any:
    """ByT5's tokenizer: UTF-8 bytes, a Python tokenizer that needs no files."""
    from transformers import ByT5Tokenizer

    return ByT5Tokenizer()


TOKENIZERS = {"qwen2": qwen2_tokenizer, "byt5": byt5_tokenizer, "mbart-50": mbart50_tokenizer,
              "nllb": nllb_tokenizer, "m2m100": m2m100_tokenizer}
"""Model types and variants with a tokenizer of their own class (rebuilt by class, as
transformers does for qwen2, or one that sets language codes or reads bytes)."""

VARIANTS = {"byt5": "t5", "mbart-50": "mbart", "nllb": "m2m_100", "m2m100": "m2m_100"}
"""Tokenizer variants of a model type (a family record's ``variants``): name -> model type."""

MODELS = (*sorted(TINY), *sorted(VARIANTS))
"""Every tiny model the family tests build: each model type, then each variant."""


def model_type_of(name: str) -> str:
    """The model type of a tiny model's name (a variant's base type)."""
    return VARIANTS.get(name, name)


def build_family_model(folder: Path, name: str, wordpiece: Any, layers: int = 2,
                       seed: int = 0, tokenizer: Any = None) -> Path:
    """Save a random tiny model of type ``name`` (or of variant ``name``'s type), loaded by its
    family's class, with a tokenizer (WordPiece, made causal for decoders, the type's own
    class, or ``tokenizer``, built from ``wordpiece`` by a function such as
    `mbart50_tokenizer`) into ``folder``."""
    import transformers
    from transformers import AutoConfig

    from crossling.models.families import family_for_type

    model_type = model_type_of(name)
    family = family_for_type(model_type)
    specials = ("[PAD]", "[CLS]", "[SEP]")
    if tokenizer is not None or name in TOKENIZERS:
        tok = (tokenizer or TOKENIZERS[name])(wordpiece)
        specials = (tok.pad_token, tok.eos_token, tok.eos_token)
    else:
        tok = causal_tokenizer(wordpiece) if family.causal else wordpiece
    ids = {k: tok.convert_tokens_to_ids(t) for k, t in
           zip(("pad_token_id", "bos_token_id", "eos_token_id"), specials, strict=True)}
    # M2M100's language codes are numbered after its vocabulary, outside len(tok)
    codes = getattr(tok, "lang_token_to_id", None) or {}
    vocab_size = max(len(tok), max(codes.values(), default=-1) + 1)
    common = dict(vocab_size=vocab_size, hidden_size=32, num_hidden_layers=layers,
                  num_attention_heads=4, intermediate_size=64, max_position_embeddings=256,
                  **ids)
    if model_type == "modernbert":
        common.update(cls_token_id=ids["bos_token_id"], sep_token_id=ids["eos_token_id"])
    extra = dict(TINY[model_type])
    for key in ("num_layers", "n_layers", "n_layer", "encoder_layers"):
        if key in extra:
            extra[key] = layers
    config = AutoConfig.for_model(model_type, **{**common, **extra})
    torch.manual_seed(seed)
    model = getattr(transformers, family.model_class).from_config(config)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder
