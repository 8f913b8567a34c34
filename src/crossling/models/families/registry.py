"""The model-family record and its registry: where a family keeps what crossling addresses.

crossling reads a model's blocks, embeddings and block components by name. Names differ by
family (``encoder.layer``, ``layers``, ``h``, ``encoder.block``, ...), so each family is one
`Family` record, registered with `register` and found by the config's
``model_type``. Adding a family is one record (in ``encoders.py``, ``seq2seq.py`` or
``decoders.py``) and one tiny random model in ``tests/models/tiny_families.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from torch import nn

from crossling.core.errors import ModelError

WORD_POSITIONS = ("first", "last")


@dataclass(frozen=True)
class Family:
    """Where one family's parts live, and how crossling reads it.

    Paths are module names: ``blocks`` and ``embeddings`` relative to the model's
    ``base_model``, ``attention``/``ffn``/``norms`` relative to one block (a module belongs to
    the first group whose path is a prefix of its name, norms checked first). ``causal``
    models read a word at its last sub-token (its first has not seen the word) and get
    position ids from the attention mask (left padding), as do encoders unless they count
    positions from the padding themselves (``own_positions``: RoBERTa). ``model_class`` is
    the transformers class that loads the encoder stack (``AutoModel`` unless that builds a
    seq2seq pair). ``encoder_of`` names the encoder stack inside the model ``model_class``
    loads, for seq2seq models with no encoder-only class (mBART, M2M100): crossling keeps
    that submodule and drops the decoder; a folder it saves holds the stack alone and loads
    as its class. ``pad_right``: the model numbers positions from the first token, padding
    or not, and takes no position ids (mBART), so batches are padded on the right.
    ``language_code``: for tokenizers that put a language code before each sentence (mBART-50,
    NLLB), the tokenizer's ``src_lang`` for a crossling language, given the tokenizer's special
    tokens (`crossling.models.families.languages`); None: the family has no language codes.
    ``variants``: (name, example) of checkpoints of the first model type that differ only by
    tokenizer (ByT5: T5 on UTF-8 bytes), each a row of the support table and a tiny model
    of the tests.
    """

    name: str
    model_types: tuple[str, ...]
    blocks: str
    embeddings: tuple[str, ...]
    attention: tuple[str, ...]
    ffn: tuple[str, ...]
    norms: tuple[str, ...] = ()
    causal: bool = False
    model_class: str = "AutoModel"
    encoder_of: str = ""
    pad_right: bool = False
    default_pooling: str = "mean"
    own_positions: bool = False
    example: str = ""
    language_code: Callable[[Collection[str], str], str] | None = None
    variants: tuple[tuple[str, str], ...] = ()

    @property
    def word_position(self) -> str:
        """Which sub-token stands for a word in token tasks: ``first`` (encoders), ``last``."""
        return "last" if self.causal else "first"

    def component(self, path: str) -> str | None:
        """``layernorm``, ``attention`` or ``ffn`` for a module path inside a block, else None."""
        for name, prefixes in (("layernorm", self.norms), ("attention", self.attention),
                               ("ffn", self.ffn)):
            if any(path == p or path.startswith(p + ".") for p in prefixes):
                return name
        return None

    def block_list(self, model: nn.Module) -> nn.ModuleList:
        """The model's transformer blocks (``blocks`` under ``base_model``)."""
        blocks = _submodule(model, self.blocks)
        if not isinstance(blocks, nn.ModuleList) or len(blocks) == 0:
            raise ModelError(f"{type(model).__name__}: no list of transformer blocks at "
                             f"{self.blocks!r} (family {self.name}); is the record wrong?")
        return blocks

    def embedding_modules(self, model: nn.Module) -> list[nn.Module]:
        """The embedding modules (block 0 of the weight change, RANDOM-INIT's ``emb``); a path
        ending in ``?`` is optional (e.g. ELECTRA's projection, absent when sizes agree)."""
        base = getattr(model, "base_model", model)
        return [_submodule(model, p.rstrip("?")) for p in self.embeddings
                if not p.endswith("?") or _has(base, p.rstrip("?"))]


def _has(base: nn.Module, path: str) -> bool:
    try:
        base.get_submodule(path)
    except AttributeError:
        return False
    return True


def _submodule(model: nn.Module, path: str) -> Any:
    base = getattr(model, "base_model", model)
    try:
        return base.get_submodule(path)
    except AttributeError:
        raise ModelError(f"{type(model).__name__} has no module {path!r}") from None


FAMILIES: dict[str, Family] = {}
"""Every registered family by name."""

_BY_TYPE: dict[str, Family] = {}


def register(family: Family) -> Family:
    """Add ``family``; a name or ``model_type`` registered twice is a programming error."""
    if family.name in FAMILIES:
        raise ValueError(f"model family {family.name!r} registered twice")
    for model_type in family.model_types:
        if model_type in _BY_TYPE:
            raise ValueError(f"model_type {model_type!r} is in two families")
        _BY_TYPE[model_type] = family
    FAMILIES[family.name] = family
    return family


HOW_TO_ADD = ("add a Family record in src/crossling/models/families/ and a tiny model in "
              "tests/models/tiny_families.py (docs/model-families.md)")


def family_for_type(model_type: str | None, what: str = "model") -> Family:
    """The family of a config's ``model_type``; a one-line ModelError naming the supported."""
    family = _BY_TYPE.get(model_type or "")
    if family is None:
        known = ", ".join(sorted(_BY_TYPE))
        raise ModelError(f"{what}: model type {model_type!r} is not a supported family "
                         f"(supported model types: {known}); to add one, {HOW_TO_ADD}")
    return family


def family_of(model: nn.Module) -> Family:
    """The family of a loaded transformers model (by ``model.config.model_type``)."""
    config = getattr(model, "config", None)
    return family_for_type(getattr(config, "model_type", None), type(model).__name__)
