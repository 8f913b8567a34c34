"""The encoder stacks of encoder-decoder models, loaded without their decoder.

T5 has an encoder-only class (``AutoModelForTextEncoding``); mBART and M2M100 (NLLB) do not,
so their full model loads and crossling keeps its ``encoder`` (``encoder_of``). Their last
hidden state, as transformers returns it, is after the encoder's final ``layer_norm`` (as T5's
is after ``final_layer_norm``); layer 0 is the embeddings' output. Their tokenizers put a source
language code before each sentence: ``language_code`` finds it (`.languages`). ByT5 is a T5
whose tokenizer reads UTF-8 bytes (a Python tokenizer; words align by prefixes,
`crossling.models.words`); the original M2M100 checkpoints (not NLLB) have a Python
SentencePiece tokenizer, aligned the same way.
"""

from __future__ import annotations

from crossling.models.families.languages import m2m100_code, mbart_code
from crossling.models.families.registry import Family, register

T5 = register(Family(
    name="t5", model_types=("t5", "mt5", "umt5"), blocks="encoder.block", embeddings=("shared",),
    attention=("layer.0.SelfAttention",), ffn=("layer.1.DenseReluDense",),
    norms=("layer.0.layer_norm", "layer.1.layer_norm"),
    model_class="AutoModelForTextEncoding", example="google/mt5-small",
    variants=(("byt5", "google/byt5-small"),)))
_BART_BLOCK = dict(blocks="layers", attention=("self_attn",), ffn=("fc1", "fc2"),
                   norms=("self_attn_layer_norm", "final_layer_norm"), encoder_of="encoder")
# mBART's learned positions count from the first token, padding or not: pad on the right
MBART = register(Family(
    name="mbart", model_types=("mbart",),
    embeddings=("embed_tokens", "embed_positions", "layernorm_embedding"), pad_right=True,
    language_code=mbart_code, example="facebook/mbart-large-cc25",
    variants=(("mbart-50", "facebook/mbart-large-50"),), **_BART_BLOCK))  # type: ignore[arg-type]
# M2M100's (and NLLB's) sinusoidal positions are counted from padding_idx + 1, as RoBERTa's
M2M100 = register(Family(
    name="m2m100", model_types=("m2m_100",), embeddings=("embed_tokens", "embed_positions"),
    own_positions=True, language_code=m2m100_code, example="facebook/nllb-200-distilled-600M",
    variants=(("nllb", "facebook/nllb-200-1.3B"), ("m2m100", "facebook/m2m100_418M")),
    **_BART_BLOCK))  # type: ignore[arg-type]
