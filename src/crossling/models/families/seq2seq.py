"""The encoder stacks of encoder-decoder models, loaded without their decoder."""

from __future__ import annotations

from crossling.models.families.registry import Family, register

T5 = register(Family(
    name="t5", model_types=("t5", "mt5", "umt5"), blocks="encoder.block", embeddings=("shared",),
    attention=("layer.0.SelfAttention",), ffn=("layer.1.DenseReluDense",),
    norms=("layer.0.layer_norm", "layer.1.layer_norm"),
    model_class="AutoModelForTextEncoding", example="google/mt5-small"))
