"""Bidirectional encoders: BERT and its descendants, DistilBERT, ModernBERT."""

from __future__ import annotations

from crossling.models.families.registry import Family, register


def _bert_like(name: str, model_types: tuple[str, ...], example: str,
               embeddings: tuple[str, ...] = ("embeddings",), own_positions: bool = False,
               ) -> Family:
    """BERT's layout: ``encoder.layer[i]`` with ``attention``, ``intermediate``, ``output``."""
    return register(Family(name=name, model_types=model_types, blocks="encoder.layer",
                           embeddings=embeddings, attention=("attention",),
                           ffn=("intermediate", "output"),
                           norms=("attention.output.LayerNorm", "output.LayerNorm"),
                           own_positions=own_positions, example=example))


BERT = _bert_like("bert", ("bert",), "google-bert/bert-base-multilingual-cased")
# RoBERTa numbers positions from padding_idx + 1, skipping padding: right for either side
ROBERTA = _bert_like("roberta", ("roberta", "xlm-roberta", "camembert"),
                     "FacebookAI/xlm-roberta-base", own_positions=True)
# ELECTRA projects its (smaller) embeddings to the hidden size when the two differ
ELECTRA = _bert_like("electra", ("electra",), "google/electra-small-discriminator",
                     ("embeddings", "embeddings_project?"))
# RemBERT's (smaller) input embeddings are projected to the hidden size by the encoder
REMBERT = _bert_like("rembert", ("rembert",), "google/rembert",
                     ("embeddings", "encoder.embedding_hidden_mapping_in"))
DEBERTA_V2 = _bert_like("deberta-v2", ("deberta-v2",), "microsoft/mdeberta-v3-base")
DISTILBERT = register(Family(
    name="distilbert", model_types=("distilbert",), blocks="transformer.layer",
    embeddings=("embeddings",), attention=("attention",), ffn=("ffn",),
    norms=("sa_layer_norm", "output_layer_norm"),
    example="distilbert/distilbert-base-multilingual-cased"))
MODERNBERT = register(Family(
    name="modernbert", model_types=("modernbert",), blocks="layers", embeddings=("embeddings",),
    attention=("attn",), ffn=("mlp",), norms=("attn_norm", "mlp_norm"),
    example="answerdotai/ModernBERT-base"))
