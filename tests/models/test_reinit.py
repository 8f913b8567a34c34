from __future__ import annotations

from pathlib import Path

import pytest
import torch

from crossling.errors import ConfigError, ModelError
from crossling.models.encoder import load_encoder
from crossling.models.reinit import SCHEMES, parse_group, reinit


def _snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("scheme", SCHEMES)
def test_exactly_the_chosen_blocks_change(tiny_model: Path, scheme: str) -> None:
    enc = load_encoder(str(tiny_model), device="cpu")
    before = _snapshot(enc.model)
    report = reinit(enc.model, [2, 3], scheme=scheme, seed=1)
    after = enc.model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    in_blocks = {k for k in before if k.startswith(("encoder.layer.1.", "encoder.layer.2."))}
    assert changed <= in_blocks
    assert set(report.changed) == changed
    assert set(report.changed) | set(report.unchanged_by_construction) == in_blocks
    # every weight matrix of the chosen blocks got new values
    assert all(k in changed for k in in_blocks if k.endswith("dense.weight"))
    if scheme in ("model", "normal"):
        w = after["encoder.layer.1.intermediate.dense.weight"]
        assert abs(float(w.std()) - 0.02) < 0.003  # BERT's N(0, 0.02), not PyTorch's uniform
        assert float(after["encoder.layer.1.intermediate.dense.bias"].abs().max()) == 0.0
    else:
        assert float(after["encoder.layer.1.intermediate.dense.bias"].abs().max()) > 0.0


def test_components_and_embeddings(tiny_bert: Path) -> None:
    enc = load_encoder(str(tiny_bert), device="cpu")
    report = reinit(enc.model, [1], components=["attention"], scheme="normal", seed=3)
    assert report.changed and all(".attention." in k and "LayerNorm" not in k
                                  for k in report.changed)
    report = reinit(enc.model, [], scheme="normal", embeddings=True, seed=4)
    assert "embeddings.word_embeddings.weight" in report.changed
    assert all(k.startswith("embeddings.") for k in report.changed)


def test_the_transformers5_no_op_trap_is_defeated(tiny_bert: Path) -> None:
    """Loaded weights are flagged initialised; plain _init_weights would leave them alone."""
    enc = load_encoder(str(tiny_bert), device="cpu")
    w = enc.model.encoder.layer[0].output.dense.weight
    before = w.clone()
    reinit(enc.model, [1], scheme="model", seed=0)
    assert not torch.equal(before, w)


def test_bad_selections(tiny_bert: Path) -> None:
    enc = load_encoder(str(tiny_bert), device="cpu")
    with pytest.raises(ConfigError, match=r"layer 5 out of range 1\.\.4"):
        reinit(enc.model, [5])
    with pytest.raises(ConfigError, match="unknown component 'mlp'"):
        reinit(enc.model, [1], components=["mlp"])
    with pytest.raises(ConfigError, match="unknown init scheme"):
        reinit(enc.model, [1], scheme="xavier")
    with pytest.raises(ModelError, match="matches no tensor"):
        reinit(enc.model, [1], components=[])
    with pytest.raises(ModelError, match=r"has no encoder\.layer"):
        reinit(torch.nn.Linear(2, 2), [1])


def test_parse_group() -> None:
    assert parse_group("REF") == ([], False)
    assert parse_group("1-2") == ([1, 2], False)
    assert parse_group("11-12") == ([11, 12], False)
    assert parse_group("emb,3") == ([3], True)
    with pytest.raises(ConfigError, match="bad re-init group"):
        parse_group("a-b")
