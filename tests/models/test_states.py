"""`hidden_states` with a layer subset: blocks above the highest asked layer do not run, and every
kept layer equals the full pass's, on a tiny model of every family."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from crossling.models.encoder import Encoder, load_encoder
from crossling.models.families import family_of
from crossling.models.states import cut_blocks, hidden_states
from tests.models.tiny_families import TINY, build_family_model

TEXTS = ["Le chat dort profondément sur le tapis.", "Hello", "Die Katze schläft."]
BLOCKS = 4


@pytest.fixture(scope="module")
def deep_models(tmp_path_factory: pytest.TempPathFactory, tiny_tokenizers: dict,
                ) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("deep-families")
    return {t: build_family_model(root / t, t, tiny_tokenizers["bert"], layers=BLOCKS)
            for t in TINY}


def _inputs(enc: Encoder, side: str) -> dict[str, torch.Tensor]:
    enc.tokenizer.padding_side = side
    batch = enc.tokenizer(TEXTS, padding=True, return_tensors="pt")
    return {k: v for k, v in batch.items() if k != "special_tokens_mask"}


def _calls(enc: Encoder) -> list[int]:
    """Records the index of every block that runs."""
    ran: list[int] = []
    for i, block in enumerate(family_of(enc.model).block_list(enc.model)):
        block.register_forward_hook(lambda *_, i=i: ran.append(i))  # type: ignore[misc]
    return ran


@pytest.mark.parametrize("model_type", sorted(TINY))
def test_kept_layers_equal_the_full_pass_and_upper_blocks_do_not_run(
        deep_models: dict[str, Path], model_type: str) -> None:
    enc = load_encoder(str(deep_models[model_type]), device="cpu")
    side = "left" if family_of(enc.model).causal else "right"
    inputs = _inputs(enc, side)
    ran = _calls(enc)
    with torch.inference_mode():
        full = hidden_states(enc.model, inputs)
        assert len(full) == BLOCKS + 1 and ran == list(range(BLOCKS))
        for layers in ([0], [1], [2], [3], [0, 2], [1, 3], [3, 1], [2, 4], [4]):
            ran.clear()
            got = hidden_states(enc.model, inputs, layers)
            assert len(got) == len(layers)
            for k, state in zip(layers, got, strict=True):
                torch.testing.assert_close(state, full[k], atol=0, rtol=0,
                                           msg=f"{model_type} layer {k} of {layers}")
            top = max(layers)
            assert ran == list(range(max(top, 1))), (model_type, layers, ran)
    assert len(family_of(enc.model).block_list(enc.model)) == BLOCKS  # restored


@pytest.mark.parametrize("model_type", ["llama", "gpt2", "t5"])
def test_a_cut_models_own_top_state_is_normed_so_it_is_not_used(
        deep_models: dict[str, Path], model_type: str) -> None:
    """transformers puts the final norm on the *last* hidden state only: cut to two blocks, a
    final-norm family's ``hidden_states[-1]`` is norm(block 2), not the full pass's layer 2."""
    enc = load_encoder(str(deep_models[model_type]), device="cpu")
    inputs = _inputs(enc, "right")
    with torch.inference_mode():
        full = hidden_states(enc.model, inputs)
        with cut_blocks(enc.model, 2) as seen:
            naive = enc.model(**inputs, output_hidden_states=True).hidden_states
        assert len(naive) == 3
        assert not torch.allclose(naive[-1], full[2], atol=1e-3)
        torch.testing.assert_close(seen[-1], full[2], atol=0, rtol=0)


def test_blocks_are_restored_when_the_pass_fails(deep_models: dict[str, Path]) -> None:
    enc = load_encoder(str(deep_models["bert"]), device="cpu")
    blocks = family_of(enc.model).block_list(enc.model)
    with pytest.raises(RuntimeError, match="boom"), cut_blocks(enc.model, 1):
        assert len(family_of(enc.model).block_list(enc.model)) == 1
        raise RuntimeError("boom")
    assert family_of(enc.model).block_list(enc.model) is blocks
    hooks = [h for b in blocks for h in b._forward_hooks.values()]
    assert not hooks
