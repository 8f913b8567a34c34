"""ProbeSettings: one rule per field, normalised values, layers checked against the model."""

from __future__ import annotations

from typing import Any

import pytest

from crossling.core.errors import SettingError
from crossling.probing.settings import ProbeSettings, check_layers


def test_values_are_normalised() -> None:
    s = ProbeSettings(targets="fr", layers=4)
    assert s.targets == ("fr",) and s.layers == (4,)  # a bare target or layer is one
    assert ProbeSettings(layers=[8, 0, 4]).layers == (0, 4, 8)  # probed in order
    assert ProbeSettings(max_train_sentences=None).max_train_sentences is None  # all
    assert check_layers(None, 2) == [0, 1, 2] and check_layers((0, 2), 2) == [0, 2]


@pytest.mark.parametrize(("change", "name"), [
    ({"layers": [-1]}, "layers[0]"), ({"layers": [1, 1]}, "layers"), ({"layers": []}, "layers"),
    ({"targets": []}, "targets"), ({"targets": ["fr", "fr"]}, "targets"),
    ({"n_boot": -1}, "n_boot"), ({"seed": 2**40}, "seed"), ({"l2": -1.0}, "l2"),
    ({"max_iter": 0}, "max_iter"), ({"max_length": 2}, "max_length"),
    ({"batch_tokens": 0}, "batch_tokens"), ({"device": 0}, "device"),
    ({"allow_test_training": "yes"}, "allow_test_training"), ({"source": ""}, "source"),
])
def test_each_rule_names_its_field(change: dict[str, Any], name: str) -> None:
    with pytest.raises(SettingError) as err:
        ProbeSettings(**change)
    assert err.value.name == name


def test_layers_beyond_the_model_name_the_field() -> None:
    with pytest.raises(SettingError, match=r"^layers must be in 0\.\.4 \(0 = embeddings\), "
                                           r"got 5$"):
        check_layers((0, 5), 4)
