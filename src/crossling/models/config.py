"""What a model's config says, read without its weights: transformer blocks and usable token
positions, so that a re-init group beyond the model's depth or a ``max_length`` beyond its
position embeddings is refused before any work (a study's load, a fine-tuning run's start)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crossling.core.errors import ModelError

WEIGHT_FILES = ("*.safetensors", "*.bin", "*.pt", "*.h5", "*.msgpack")
"""Patterns of the weight files ``from_pretrained`` can load from a local folder."""


def read_config(model: str, cached_only: bool = False) -> Any | None:
    """The ``transformers`` config of ``model`` (``AutoConfig``: no weights are read). With
    ``cached_only`` a Hub model is read from the local cache only, and None is returned when it
    is not there; an unreadable config is a one-line `ModelError`."""
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(model, local_files_only=cached_only)
    except (OSError, ValueError) as exc:
        if cached_only and not Path(model).is_dir():
            return None
        raise ModelError(f"{model}: cannot load model config "
                         f"({str(exc).splitlines()[0]})") from None


def num_blocks(config: Any) -> int | None:
    """Transformer blocks (``num_hidden_layers``), None when the config does not say."""
    n = getattr(config, "num_hidden_layers", None)
    return n if isinstance(n, int) and not isinstance(n, bool) else None


def usable_positions(config: Any) -> int | None:
    """Token positions a sequence may use (``max_position_embeddings``, less RoBERTa-style
    models' padding offset: their positions start after the padding index); None if unknown."""
    positions = getattr(config, "max_position_embeddings", None)
    if not isinstance(positions, int) or isinstance(positions, bool):
        return None
    if getattr(config, "model_type", None) in ("roberta", "xlm-roberta", "camembert"):
        positions -= (getattr(config, "pad_token_id", None) or 0) + 1
    return positions


def missing_parts(folder: Path) -> str | None:
    """What a local model folder lacks to load (config, weights, tokenizer files), or None."""
    from crossling.models.encoder import TOKENIZER_FILES

    if not (folder / "config.json").is_file():
        return "no config.json"
    if not any(next(folder.glob(p), None) for p in WEIGHT_FILES):
        return "no weight files (*.safetensors, *.bin)"
    if not any((folder / f).is_file() for f in TOKENIZER_FILES):
        return "no tokenizer files (tokenizer.json, vocab.txt, ...)"
    return None
