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
PRESETS = ("pairs", "thirds", "quarters", "each")
"""Re-init groups that expand against the model's depth (`preset_groups`)."""
_PARTS = {"thirds": 3, "quarters": 4}


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
        raise ConfigError(f"bad re-init group {spec!r}: use REF, 'emb', a block '3', a "
                          f"range '1-2' (1-based blocks) or a preset ({', '.join(PRESETS)})")
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


def split_blocks(blocks: int, parts: int) -> list[tuple[int, int]]:
    """Blocks 1..``blocks`` cut into ``parts`` consecutive (first, last) ranges of as equal
    size as possible; the first ``blocks % parts`` ranges get one block more (26 blocks in
    quarters: 1-7, 8-14, 15-20, 21-26), as ``numpy.array_split`` does."""
    if not 1 <= parts <= blocks:
        raise ConfigError(f"cannot cut {blocks} blocks into {parts} groups")
    size, extra = divmod(blocks, parts)
    out, first = [], 1
    for i in range(parts):
        last = first + size + (1 if i < extra else 0) - 1
        out.append((first, last))
        first = last + 1
    return out


def _preset_parts(name: str) -> tuple[str, int | None] | None:
    """``("thirds", None)`` for ``thirds``, ``("thirds", 2)`` for ``thirds:2``; None when
    ``name`` names no preset."""
    text = unicodedata.normalize("NFKC", str(name)).strip().lower()
    base, colon, index = text.partition(":")
    base = base.strip()
    if base not in PRESETS:
        return None
    if not colon:
        return base, None
    index = index.strip()
    if not index.isdecimal() or int(index) < 1:
        raise ConfigError(f"bad re-init group {name!r}: {base}:<k> takes the k-th group, "
                          "k >= 1")
    return base, int(index)


def is_preset(spec: str) -> bool:
    """Whether ``spec`` is a preset (``pairs``, ``thirds``, ...) or one of its groups
    (``thirds:2``), which need the model's depth to become blocks."""
    return _preset_parts(spec) is not None


def preset_spec(spec: str) -> str:
    """The one spelling of a preset (``Thirds : 2`` -> ``thirds:2``)."""
    parts = _preset_parts(spec)
    if parts is None:
        raise ConfigError(f"{spec!r} is not a re-init preset ({', '.join(PRESETS)})")
    return parts[0] if parts[1] is None else f"{parts[0]}:{parts[1]}"


def preset_groups(name: str, blocks: int) -> list[str]:
    """The canonical groups of preset ``name`` for a model of ``blocks`` blocks: ``pairs``
    1-2, 3-4, ... (odd depth: the top block alone last), ``thirds`` and ``quarters``
    (`split_blocks`), ``each`` 1, 2, ..., L; ``name:k`` the k-th of them only."""
    parts = _preset_parts(name)
    if parts is None:
        raise ConfigError(f"{name!r} is not a re-init preset ({', '.join(PRESETS)})")
    base, index = parts
    if base in _PARTS and blocks < _PARTS[base]:
        raise ConfigError(f"re-init preset {base!r} needs at least {_PARTS[base]} blocks; "
                          f"the model has {blocks}")
    if base == "pairs":
        ranges = [(k, min(k + 1, blocks)) for k in range(1, blocks + 1, 2)]
    elif base == "each":
        ranges = [(k, k) for k in range(1, blocks + 1)]
    else:
        ranges = split_blocks(blocks, _PARTS[base])
    groups = [str(a) if a == b else f"{a}-{b}" for a, b in ranges]
    if index is None:
        return groups
    if index > len(groups):
        raise ConfigError(f"re-init group {name!r}: {base} of {blocks} blocks has "
                          f"{len(groups)} groups ({', '.join(groups)})")
    return [groups[index - 1]]


def expand_groups(specs: Sequence[str], blocks: int | None, model: str = "the model",
                  ) -> list[str]:
    """``specs`` with every preset replaced by its groups for ``blocks`` blocks, each group
    canonical (`canonical_group`), a group listed twice kept once, in order. ``blocks`` None
    (depth unknown) with a preset is a ConfigError naming ``model``."""
    out: list[str] = []
    for spec in specs:
        if is_preset(spec):
            if blocks is None:
                raise ConfigError(f"re-init preset {spec!r} needs the depth of {model}, "
                                  "which its config does not give; list the groups instead")
            groups = preset_groups(spec, blocks)
        else:
            groups = [canonical_group(spec)]
        out.extend(g for g in groups if g not in out)
    return out


def resolve_group(spec: str, blocks: int | None, model: str = "the model") -> str:
    """One group: ``spec`` canonical, or the one group a ``preset:k`` names; a whole preset
    (several groups) is a ConfigError saying how to name one of them."""
    groups = expand_groups([spec], blocks, model)
    if len(groups) != 1:
        base = preset_spec(spec)
        raise ConfigError(f"re-init preset {base!r} is {len(groups)} groups of {model} "
                          f"({', '.join(groups)}); one run re-initialises one group: use "
                          f"{base}:1 .. {base}:{len(groups)} (or a study for all)")
    return groups[0]


def relative_depth(group: str | int, blocks: int) -> float | None:
    """Where a layer or a re-init group sits in a model of ``blocks`` blocks, in [0, 1].

    A layer k (0 = embeddings, the output of block k) at k / L. A group at the midpoint of
    the depth its blocks span, block k spanning ((k - 1) / L, k / L] (the embeddings: 0), so a
    share of the depth sits at the same place whatever L: ``thirds:2`` at 0.5 in 12 and in
    24 blocks, 1-2 of 12 at 1/12, 11-12 at 11/12; REF (no group) None.
    """
    if blocks < 1:
        raise ConfigError(f"a model has at least one block, got {blocks}")
    if isinstance(group, int):
        return group / blocks
    layers, embeddings = parse_group(group)
    members = ([0.0] if embeddings else []) + [k - 0.5 for k in layers]
    if not members:
        return None
    return sum(members) / len(members) / blocks


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
