"""Decoder-only (causal) language models, read through their base model (no LM head).

A causal model's token has seen only the tokens before it: a word is read at its last
sub-token, and sentence pooling excludes the BOS token by default (``mean``), since the BOS /
attention-sink state dominates a mean in many LLMs (docs/model-families.md).
"""

from __future__ import annotations

from crossling.models.families.registry import Family, register

_NORMS = ("input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm",
          "post_feedforward_layernorm", "self_attn.q_norm", "self_attn.k_norm",
          "self_attn.q_layernorm", "self_attn.k_layernorm")

# Llama's layout; in the MoE types (qwen2_moe, qwen3_moe) the router and experts are the ``mlp``

LLAMA = register(Family(
    name="llama", model_types=("llama", "mistral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe",
                               "phi3", "stablelm", "cohere", "olmo", "olmo2"),
    blocks="layers", embeddings=("embed_tokens",), attention=("self_attn",), ffn=("mlp",),
    norms=_NORMS, causal=True, example="meta-llama/Llama-3.2-1B"))
GEMMA = register(Family(
    name="gemma", model_types=("gemma", "gemma2", "gemma3_text"), blocks="layers",
    embeddings=("embed_tokens",), attention=("self_attn",), ffn=("mlp",), norms=_NORMS,
    causal=True, example="google/gemma-2-2b"))
PHI = register(Family(
    name="phi", model_types=("phi",), blocks="layers", embeddings=("embed_tokens",),
    attention=("self_attn",), ffn=("mlp",), norms=("input_layernorm",), causal=True,
    example="microsoft/phi-2"))
GPT2 = register(Family(
    name="gpt2", model_types=("gpt2",), blocks="h", embeddings=("wte", "wpe"),
    attention=("attn",), ffn=("mlp",), norms=("ln_1", "ln_2"), causal=True,
    example="openai-community/gpt2"))
BLOOM = register(Family(
    name="bloom", model_types=("bloom",), blocks="h",
    embeddings=("word_embeddings", "word_embeddings_layernorm"), attention=("self_attention",),
    ffn=("mlp",), norms=("input_layernorm", "post_attention_layernorm"), causal=True,
    example="bigscience/bloom-560m"))
XGLM = register(Family(
    name="xglm", model_types=("xglm",), blocks="layers", embeddings=("embed_tokens",),
    attention=("self_attn",), ffn=("fc1", "fc2"),
    norms=("self_attn_layer_norm", "final_layer_norm"), causal=True,
    example="facebook/xglm-564M"))
GPT_NEOX = register(Family(
    name="gpt-neox", model_types=("gpt_neox",), blocks="layers", embeddings=("embed_in",),
    attention=("attention",), ffn=("mlp",), norms=("input_layernorm", "post_attention_layernorm"),
    causal=True, example="EleutherAI/pythia-160m"))
# MPT's ALiBi bias grows with the key's position: a shift by left padding is the same for
# every key of a row, which softmax ignores
MPT = register(Family(
    name="mpt", model_types=("mpt",), blocks="blocks", embeddings=("wte",), attention=("attn",),
    ffn=("ffn",), norms=("norm_1", "norm_2"), causal=True, example="mosaicml/mpt-7b"))
FALCON = register(Family(
    name="falcon", model_types=("falcon",), blocks="h", embeddings=("word_embeddings",),
    attention=("self_attention",), ffn=("mlp",),
    norms=("input_layernorm", "post_attention_layernorm", "ln_attn", "ln_mlp"), causal=True,
    example="tiiuae/falcon-7b"))
