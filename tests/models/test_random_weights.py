from __future__ import annotations

from pathlib import Path

import pytest
import torch

from crossling.core.errors import ModelError, SettingError
from crossling.models.encoder import load_encoder, model_fingerprint, tokenizer_fingerprint
from crossling.models.random_weights import (
    CONTROL_KEY,
    check_random,
    control_record,
    random_encoder,
    weights,
)


def test_random_weights_change_every_tensor_keep_the_tokenizer(trained_fixture_bert: Path) -> None:
    pretrained = load_encoder(str(trained_fixture_bert))
    control = random_encoder(str(trained_fixture_bert), 0)
    old, new = weights(pretrained.model), weights(control.model)
    assert set(old) == set(new) and len(old) > 20
    assert [k for k in old if torch.equal(old[k], new[k])] == []
    assert tokenizer_fingerprint(control.tokenizer) == tokenizer_fingerprint(pretrained.tokenizer)
    assert control.tokenizer("le chat noir")["input_ids"] == \
        pretrained.tokenizer("le chat noir")["input_ids"]
    assert model_fingerprint(control.model) != model_fingerprint(pretrained.model)
    assert not control.model.training
    record = control_record(control)
    assert record is not None and record["seed"] == 0
    assert record["of_fingerprint"] == model_fingerprint(pretrained.model)
    assert control.name == f"{trained_fixture_bert.name} (random weights, seed 0)"
    assert control_record(pretrained) is None and CONTROL_KEY == "random_weights"


def test_the_init_seed_decides_the_weights(trained_fixture_bert: Path) -> None:
    a = weights(random_encoder(str(trained_fixture_bert), 1).model)
    b = weights(random_encoder(str(trained_fixture_bert), 1).model)
    c = weights(random_encoder(str(trained_fixture_bert), 2).model)
    assert all(torch.equal(a[k], b[k]) for k in a)
    random = [k for k in a if not k.endswith("bias") and "LayerNorm" not in k]
    assert random and all(not torch.equal(a[k], c[k]) for k in random)
    # what the family's init sets to constants is the same constant for every seed
    assert all(torch.equal(a[k], c[k]) for k in a if k not in random)


def test_the_family_init_is_the_one_transformers_gives(trained_fixture_bert: Path) -> None:
    """The same weights as ``BertModel(config)`` under ``torch.manual_seed``: the family's
    own init, not one crossling invented."""
    from transformers import BertConfig, BertModel

    torch.manual_seed(3)
    reference = weights(BertModel(BertConfig.from_pretrained(trained_fixture_bert),
                                  add_pooling_layer=False))
    control = weights(random_encoder(str(trained_fixture_bert), 3).model)
    assert all(torch.equal(reference[k], control[k]) for k in control)


def test_an_untrained_model_is_refused_not_controlled(fixture_bert: Path) -> None:
    """The fixture is itself the seed-0 init: the control would be the model, said at once."""
    with pytest.raises(ModelError, match=r"word_embeddings\.weight is the same with random "
                                         r"weights as pretrained"):
        random_encoder(str(fixture_bert), 0)


def test_check_random_names_what_differs() -> None:
    a = {"w": torch.ones(2, 2), "b": torch.zeros(2)}
    assert check_random("m", a, {"w": torch.randn(2, 2), "b": torch.zeros(2)}) == ["b"]
    with pytest.raises(ModelError, match="other tensors than the pretrained one"):
        check_random("m", a, {"w": torch.randn(2, 2)})
    with pytest.raises(ModelError, match=r"w is \[3\] with random weights but \[2, 2\]"):
        check_random("m", a, {"w": torch.randn(3), "b": torch.zeros(2)})


def test_a_bad_seed_is_one_line(trained_fixture_bert: Path) -> None:
    with pytest.raises(SettingError, match="random_weights must be an integer"):
        random_encoder(str(trained_fixture_bert), -1)
