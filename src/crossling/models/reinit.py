"""RANDOM-INIT: re-initialise chosen transformer blocks before fine-tuning, and prove it happened.

The paper resets consecutive blocks (1-2, ..., 11-12) and fine-tunes as usual. Selecting modules
by checkpoint key silently re-initialises nothing on some checkpoints, and transformers 5's
``_init_weights`` skips loaded tensors; so blocks are chosen by index, components by module
type, the scheme is explicit and recorded, and afterwards every tensor is compared with a
snapshot: exactly the chosen tensors changed, or a ModelError is raised.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from crossling.core.errors import ConfigError, ModelError
from crossling.core.settings import Settings, distinct, flag, one_of, positive, seed, setting
from crossling.models.families import Family, family_of

COMPONENTS = ("attention", "ffn", "layernorm")
SCHEMES = ("model", "normal", "torch_default")


def _components(name: str, value: Any) -> tuple[str, ...]:
    """``"all"`` or a list of `COMPONENTS`."""
    if value == "all":
        return COMPONENTS
    return distinct(one_of(COMPONENTS), empty=True)(name, value)


@dataclass(frozen=True)
class ReinitSettings(Settings):
    """How to re-initialise: which components of a block, the init ``scheme`` (the model's own
    ``_init_weights``, ``normal`` N(0, ``std``) with zero biases, or torch's defaults), whether
    the embeddings too, and the seed."""

    components: tuple[str, ...] = setting("all", rule=_components)
    scheme: str = setting("model", rule=one_of(SCHEMES))
    std: float = setting(0.02, rule=positive)
    embeddings: bool = setting(False, rule=flag)
    seed: int = setting(0, rule=seed)


@dataclass(frozen=True)
class ReinitReport:
    """What was re-initialised, recorded with every run."""

    scheme: str
    layers: list[int]
    components: list[str]
    embeddings: bool
    seed: int
    changed: list[str] = field(default_factory=list)
    unchanged_by_construction: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


_DASHES = str.maketrans({c: "-" for c in "\u2010\u2011\u2012\u2013\u2014\u2212"})


def _block(text: str, spec: str) -> int:
    text = text.strip()
    if not text.isdecimal():
        raise ConfigError(f"bad re-init group {spec!r}: use REF, 'emb', a block '3' or a "
                          "range '1-2' (1-based blocks)")
    block = int(text)
    if block < 1:
        raise ConfigError(f"bad re-init group {spec!r}: blocks are 1-based (the embeddings "
                          "are 'emb')")
    return block


def parse_group(spec: str) -> tuple[list[int], bool]:
    """``"REF"`` -> ([], False); ``"1-2"`` -> ([1, 2], False); ``"3"``; ``"emb"``; ``"emb,1-2"``.

    Spellings of the same blocks parse the same: surrounding spaces, full-width digits and
    dashes (NFKC), en dashes, lower case, repeated or overlapping parts (``1-2,1-2``).
    """
    text = unicodedata.normalize("NFKC", str(spec)).translate(_DASHES).strip()
    if not text:
        raise ConfigError(f"empty re-init group {spec!r} (REF: the unmodified model)")
    if text.upper() == "REF":
        return [], False
    layers: list[int] = []
    embeddings = False
    for part in text.split(","):
        part = part.strip()
        if part.lower() in ("emb", "embeddings"):
            embeddings = True
            continue
        first, dash, last = part.partition("-")
        lo = _block(first, spec)
        hi = _block(last, spec) if dash else lo
        if hi < lo:
            raise ConfigError(f"bad re-init group {spec!r}: empty range")
        layers.extend(range(lo, hi + 1))
    return sorted(set(layers)), embeddings


def canonical_group(spec: str) -> str:
    """The one label of a re-init group: ``REF``, ``emb``, ``3``, ``1-2``, ``emb,1-2,5``
    (consecutive blocks as ranges). Labels, folders and keys use it, so that ``' 1-2'``,
    ``'1,2'``, ``'1-2,1-2'`` and full-width ``'１-２'`` name one group, not four."""
    layers, embeddings = parse_group(spec)
    parts = ["emb"] if embeddings else []
    i = 0
    while i < len(layers):
        j = i
        while j + 1 < len(layers) and layers[j + 1] == layers[j] + 1:
            j += 1
        parts.append(str(layers[i]) if i == j else f"{layers[i]}-{layers[j]}")
        i = j + 1
    return ",".join(parts) or "REF"


def _is_norm(module: nn.Module) -> bool:
    name = type(module).__name__
    return isinstance(module, nn.LayerNorm) or "LayerNorm" in name or "RMSNorm" in name


def _has_params(module: nn.Module) -> bool:
    return any(True for _ in module.parameters(recurse=False))


def _block_modules(family: Family, block: nn.Module, components: Sequence[str],
                   where: str) -> list[tuple[str, nn.Module]]:
    """The modules of ``block`` with their own tensors in ``components``, by the family's
    record; a module with tensors in no component is a ModelError (the record is incomplete)."""
    chosen = []
    for path, module in block.named_modules():
        if not _has_params(module):
            continue
        comp = family.component(path)
        if comp is None:
            raise ModelError(f"{where}.{path}: a {type(module).__name__} in no component of "
                             f"family {family.name!r} (attention, ffn, norms); fix its record")
        if comp in components:
            chosen.append((path, module))
    return chosen


def _selected_modules(model: nn.Module, layers: Sequence[int], components: Sequence[str],
                      embeddings: bool) -> list[tuple[str, nn.Module]]:
    family = family_of(model)
    blocks = family.block_list(model)
    prefix = {id(m): n for n, m in model.named_modules()}
    chosen: list[tuple[str, nn.Module]] = []
    for layer in layers:
        if not 1 <= layer <= len(blocks):
            raise ConfigError(f"layer {layer} out of range 1..{len(blocks)}")
        block = blocks[layer - 1]
        for _, module in _block_modules(family, block, components, prefix[id(block)]):
            chosen.append((prefix[id(module)], module))
    if embeddings:
        for emb in family.embedding_modules(model):
            for module in emb.modules():
                if isinstance(module, nn.Embedding) or _is_norm(module):
                    chosen.append((prefix[id(module)], module))
    return chosen


def _init_normal(module: nn.Module, std: float) -> None:
    with torch.no_grad():
        if _is_norm(module):
            if getattr(module, "weight", None) is not None:
                nn.init.ones_(module.weight)  # type: ignore[arg-type]
            if getattr(module, "bias", None) is not None:
                nn.init.zeros_(module.bias)  # type: ignore[arg-type]
            return
        nn.init.normal_(module.weight, 0.0, std)  # type: ignore[arg-type]
        if getattr(module, "bias", None) is not None:
            nn.init.zeros_(module.bias)  # type: ignore[arg-type]
        pad = getattr(module, "padding_idx", None)
        if pad is not None:
            module.weight[pad].zero_()  # type: ignore[index]


def _init_model(model: nn.Module) -> Callable[[nn.Module], None]:
    init = getattr(model, "_init_weights", None)
    if init is None:
        raise ConfigError(f"{type(model).__name__} has no _init_weights; use scheme 'normal' or "
                          "'torch_default'")

    def apply(module: nn.Module) -> None:
        for p in module.parameters():
            # transformers 5 skips tensors flagged as already initialised (all loaded weights)
            if hasattr(p, "_is_hf_initialized"):
                p._is_hf_initialized = False
        init(module)

    return apply


def _model_init_order(model: nn.Module, modules: Sequence[tuple[str, nn.Module]],
                      ) -> list[nn.Module]:
    """What the ``model`` scheme calls ``_init_weights`` on: the chosen modules, then every
    container whose tensors are all chosen, children before parents as transformers'
    ``initialize_weights`` does. Many families set their scheme on a container (T5's
    ``T5Attention``, GPT-2's scaled ``c_proj``, ModernBERT's per-role stds), which then
    overrides the generic init of its linears; BERT's containers init nothing."""
    chosen = [m for _, m in modules]
    tensors = {id(p) for m in chosen for p in m.parameters(recurse=False)}
    containers: list[nn.Module] = []

    def visit(module: nn.Module) -> None:
        for child in module.children():
            visit(child)
        params = list(module.parameters())
        if not any(True for _ in module.parameters(recurse=False)) and params and \
                all(id(p) in tensors for p in params):
            containers.append(module)

    visit(model)
    return chosen + containers


def _init_torch_default(module: nn.Module) -> None:
    reset = getattr(module, "reset_parameters", None)
    if reset is None:
        raise ModelError(f"{type(module).__name__} has no reset_parameters()")
    reset()


def _scheme_fn(model: nn.Module, scheme: str, std: float) -> Callable[[nn.Module], None]:
    if scheme == "model":
        return _init_model(model)
    if scheme == "normal":
        return lambda m: _init_normal(m, std)
    if scheme == "torch_default":
        return _init_torch_default
    raise ConfigError(f"unknown init scheme {scheme!r} (available: {', '.join(SCHEMES)})")


def _constant_target(name: str, module: nn.Module, scheme: str) -> float | None:
    """The value a tensor is set to deterministically (LayerNorm 1/0, zero biases), else None."""
    leaf = name.rsplit(".", 1)[-1]
    if _is_norm(module):
        return 1.0 if leaf == "weight" else 0.0
    if leaf == "bias" and scheme in ("model", "normal"):
        return 0.0
    return None


def reinit(model: nn.Module, layers: Sequence[int],
           settings: ReinitSettings | None = None) -> ReinitReport:
    """Re-initialise blocks ``layers`` (1-based) of ``model`` in place and verify the result.

    Raises ConfigError for a layer out of range, and ModelError if the selection matches no
    tensor or the verification fails.
    """
    s = settings or ReinitSettings()
    comps = list(s.components)
    modules = _selected_modules(model, layers, comps, s.embeddings)
    apply = _scheme_fn(model, s.scheme, s.std)
    chosen = _chosen_tensors(model, modules)
    if (layers or s.embeddings) and not chosen:
        raise ModelError(f"re-init selection (layers {list(layers)}, components {comps}) matches "
                         "no tensor")
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    targets = _model_init_order(model, modules) if s.scheme == "model" else \
        [m for _, m in modules]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(s.seed)
        for module in targets:
            apply(module)
    changed, by_construction = _verify(before, model.state_dict(), chosen, s.scheme)
    return ReinitReport(scheme=s.scheme, layers=list(layers), components=comps,
                        embeddings=s.embeddings, seed=s.seed, changed=changed,
                        unchanged_by_construction=by_construction)


def _chosen_tensors(model: nn.Module, modules: Sequence[tuple[str, nn.Module]],
                    ) -> dict[str, tuple[nn.Module, str]]:
    """State-dict name -> (module, tensor name) of the chosen modules' own tensors, under
    every name a tied tensor has (T5's ``shared`` is also ``encoder.embed_tokens``)."""
    owner = {id(p): (m, n) for _, m in modules for n, p in m.named_parameters(recurse=False)}
    return {name: owner[id(p)] for name, p in model.named_parameters(remove_duplicate=False)
            if id(p) in owner}


def _is_constant(tensor: torch.Tensor) -> bool:
    """Every value equal: what the model's own init sets norms and biases to (LayerNorm 1,
    Gemma's RMSNorm 0, biases 0); random inits never are."""
    flat = tensor.reshape(-1)
    return bool((flat == flat[0]).all()) if flat.numel() else True


def _verify(before: dict[str, torch.Tensor], after: dict[str, torch.Tensor],
            chosen: dict[str, tuple[nn.Module, str]], scheme: str,
            ) -> tuple[list[str], list[str]]:
    """The chosen tensors that changed, and those already at their constant target (e.g. a
    LayerNorm weight of ones); a ModelError for any other change or non-change."""
    changed, by_construction = [], []
    for name, old in before.items():
        same = torch.equal(old, after[name])
        if name not in chosen:
            if not same:
                raise ModelError(f"re-init changed {name}, which was not selected")
            continue
        if not same:
            changed.append(name)
            continue
        module, leaf = chosen[name]
        target = _constant_target(leaf, module, scheme)
        preset = target is not None and bool((old == target).all())
        own_constant = scheme == "model" and (_is_norm(module) or leaf == "bias") and \
            _is_constant(old)
        if preset or own_constant:
            by_construction.append(name)
        else:
            raise ModelError(f"re-init left {name} unchanged (scheme {scheme!r})")
    return sorted(changed), sorted(by_construction)
