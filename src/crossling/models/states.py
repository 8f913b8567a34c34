"""The hidden states of one forward pass, running no block above the highest one asked for.

A frozen pass that keeps layers up to k needs blocks 1..k only; the rest of a 32-block model
would be computed and thrown away. `hidden_states` drops the blocks above k for the pass (the
family's block list is cut, then restored). What "layer k" means does not change: for k below
the model's depth, layer k is block k's output, whereas transformers returns the *top* hidden
state after the family's final norm (Llama's ``norm``, GPT-2's ``ln_f``, T5's
``final_layer_norm``); so the top state of a cut model is read from its last block's output by a
hook, not from ``hidden_states[-1]``. The full model's top layer is only asked for uncut.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from crossling.core.errors import ModelError
from crossling.models.encoder import forward_inputs
from crossling.models.families import family_of

_PARAMS: dict[type, frozenset[str]] = {}


def _takes(model: nn.Module, name: str) -> bool:
    names = _PARAMS.get(type(model))
    if names is None:
        names = frozenset(inspect.signature(model.forward).parameters)
        _PARAMS[type(model)] = names
    return name in names


@contextmanager
def cut_blocks(model: nn.Module, keep: int) -> Iterator[list[torch.Tensor]]:
    """Run ``model`` with its first ``keep`` blocks only; yields a list that receives the
    last kept block's output (its hidden state, before any final norm) at each forward pass."""
    family = family_of(model)
    blocks = family.block_list(model)
    if not 1 <= keep <= len(blocks):
        raise ValueError(f"keep = {keep}: must be in 1..{len(blocks)}")
    base = getattr(model, "base_model", model)
    parent_path, _, attr = family.blocks.rpartition(".")
    parent = base.get_submodule(parent_path) if parent_path else base
    seen: list[torch.Tensor] = []

    def grab(_module: nn.Module, _args: Any, output: Any) -> None:
        seen.append(output[0] if isinstance(output, tuple) else output)

    handle = blocks[keep - 1].register_forward_hook(grab)
    setattr(parent, attr, nn.ModuleList(list(blocks)[:keep]))
    try:
        yield seen
    finally:
        setattr(parent, attr, blocks)
        handle.remove()


def hidden_states(model: nn.Module, inputs: dict[str, torch.Tensor],
                  layers: Sequence[int] | None = None, name: str = "model",
                  ) -> list[torch.Tensor]:
    """The hidden states ``layers`` (0 = embeddings, i = block i's output; None: all) of one
    forward pass on ``inputs``, in the order asked, each [batch, tokens, hidden].

    Blocks above ``max(layers)`` do not run, and no key/value cache is built; each returned
    state equals the full pass's state of that layer (tests/models/test_states.py)."""
    kwargs: dict[str, Any] = dict(forward_inputs(model, inputs))
    if _takes(model, "use_cache"):
        kwargs["use_cache"] = False  # a decoder's KV cache is never read here
    top = None if not layers else max(layers)
    n_blocks = None if top is None else len(family_of(model).block_list(model))
    if top is None or n_blocks is None or top >= n_blocks:
        states = _run(model, kwargs, name)
        return list(states) if layers is None else [states[k] for k in layers]
    keep = max(top, 1)  # layer 0 alone still runs block 1: its input is the embedding output
    with cut_blocks(model, keep) as seen:
        states = _run(model, kwargs, name)
    out = []
    for k in layers or ():
        out.append(seen[-1] if k == keep == top else states[k])
    return out


def _run(model: nn.Module, kwargs: dict[str, Any], name: str) -> tuple[torch.Tensor, ...]:
    result = model(**kwargs, output_hidden_states=True, return_dict=True)
    states = getattr(result, "hidden_states", None)
    if not states:
        raise ModelError(f"{name}: the model returned no hidden_states; crossling needs an "
                         "encoder that exposes every layer")
    return tuple(states)
