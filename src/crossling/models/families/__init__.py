"""Model families: one record per family (where blocks, embeddings and components live), in one
registry keyed by the config's ``model_type`` (`.registry`)."""

from crossling.models.families import decoders, encoders, seq2seq
from crossling.models.families.registry import (
    FAMILIES,
    HOW_TO_ADD,
    WORD_POSITIONS,
    Family,
    family_for_type,
    family_of,
    register,
)

__all__ = ["FAMILIES", "HOW_TO_ADD", "WORD_POSITIONS", "Family", "decoders", "encoders",
           "family_for_type", "family_of", "register", "seq2seq"]
