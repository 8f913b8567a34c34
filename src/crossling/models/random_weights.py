"""The random-weights control: a model's architecture and tokenizer with freshly initialised
weights, to measure how much alignment the architecture and the shared sub-words give alone.

The weights come from the family's own initialisation (``from_config`` of the class
`crossling.models.encoder` loads the checkpoint with, under ``torch.manual_seed(seed)``: the
``_init_weights`` scheme RANDOM-INIT's ``model`` scheme also uses); the tokenizer is the
pretrained model's, so sub-words shared between languages still share embedding rows. The
result is checked against the pretrained weights: the same tensors and shapes, and every
tensor changed unless the init sets it to a constant (norms 1, biases 0) it already had.
"""

from __future__ import annotations

from typing import Any

import torch

from crossling.core.checks import check_seed
from crossling.core.devices import pick_device
from crossling.core.errors import ModelError
from crossling.models.config import read_config
from crossling.models.encoder import Encoder, load_encoder, model_family, model_fingerprint
from crossling.models.naming import model_name

CONTROL_KEY = "random_weights"
"""The provenance entry of a control's rows (`control_record`); absent on other rows."""


def random_weights_name(model: str, seed: int) -> str:
    """The control's name in rows and reports: ``<model> (random weights, seed <k>)``."""
    return f"{model_name(model)} (random weights, seed {seed})"


def control_record(encoder: Encoder) -> dict[str, Any] | None:
    """What a random-weights encoder records in its rows' provenance (`CONTROL_KEY`): the
    control, its init seed, the pretrained model and its fingerprint; None for any other."""
    return dict(encoder.control) if encoder.control is not None else None


def _random_stack(family_class: str, encoder_of: str | None, config: Any, seed: int) -> Any:
    """The family's encoder stack built from ``config`` with its own init under ``seed``."""
    import transformers

    auto = getattr(transformers, family_class)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        try:  # no pooler: crossling never uses it and the loaded encoder has none
            model = auto.from_config(config, add_pooling_layer=False)
        except TypeError:
            model = auto.from_config(config)
    return model.get_submodule(encoder_of) if encoder_of else model


def weights(model: Any) -> dict[str, torch.Tensor]:
    """A model's parameters by name (buffers such as position ids are computed, not
    initialised)."""
    return {k: p.detach() for k, p in model.named_parameters()}


def _is_constant(tensor: torch.Tensor) -> bool:
    flat = tensor.reshape(-1)
    return bool((flat == flat[0]).all()) if flat.numel() else True


def check_random(name: str, pretrained: dict[str, torch.Tensor],
                 random: dict[str, torch.Tensor]) -> list[str]:
    """The tensors equal in both by construction (constant, e.g. a norm's ones the pretrained
    model kept); a ModelError when the two state dicts differ in names or shapes, or when a
    non-constant tensor is equal (the init did not happen)."""
    if set(pretrained) != set(random):
        extra = sorted(set(pretrained) ^ set(random))
        raise ModelError(f"{name}: the random-weights model has other tensors than the "
                         f"pretrained one ({', '.join(extra[:3])})")
    same = []
    for key, old in pretrained.items():
        new = random[key]
        if old.shape != new.shape:
            raise ModelError(f"{name}: {key} is {list(new.shape)} with random weights but "
                             f"{list(old.shape)} pretrained")
        if torch.equal(old.to(new.dtype), new):
            if not _is_constant(new):
                raise ModelError(f"{name}: {key} is the same with random weights as "
                                 "pretrained (was the model never trained, or built with "
                                 "this init seed?)")
            same.append(key)
    return sorted(same)


def random_encoder(name_or_path: str, seed: int, device: str | None = None) -> Encoder:
    """The architecture of ``name_or_path`` with random weights (init seed ``seed``) and its
    own tokenizer, named `random_weights_name`, in eval mode on ``device``.

    The pretrained model is loaded first (its checks, its tokenizer as crossling prepares it,
    the weights to compare with); it takes twice the model's memory while both are held.
    """
    seed = check_seed(seed, "random_weights")
    pretrained = load_encoder(name_or_path, device="cpu")
    family = model_family(name_or_path)
    config = read_config(name_or_path)  # a seq2seq family's full config: the stack's is a part
    random = _random_stack(family.model_class, family.encoder_of, config, seed)
    dtype = next(pretrained.model.parameters()).dtype
    random.to(dtype=dtype)
    constant = check_random(name_or_path, weights(pretrained.model), weights(random))
    record = {"seed": seed, "of": model_name(name_or_path),
              "of_fingerprint": model_fingerprint(pretrained.model),
              "init": f"{type(random).__name__} from_config (family {family.name})",
              "equal_by_construction": constant}
    random.to(pick_device(device)).eval()
    return Encoder(model=random, tokenizer=pretrained.tokenizer,
                   name=random_weights_name(name_or_path, seed), control=record)

