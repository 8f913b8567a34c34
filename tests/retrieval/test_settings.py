"""Retrieval settings: each bad value is one SettingError naming its field."""

from __future__ import annotations

from typing import Any

import pytest

from crossling.core.errors import SettingError
from crossling.retrieval.metrics import VARIANTS
from crossling.retrieval.settings import RetrievalSettings, ScoringSettings, check_targets


@pytest.mark.parametrize(("kwargs", "name", "problem"), [
    ({"variants": ["cosine", "cosine"]}, "variants", "'cosine' is given twice"),
    ({"variants": ["dot"]}, "variants[0]", "must be one of cosine, centred, margin"),
    ({"variants": []}, "variants", "must not be empty"),
    ({"variants": "cosine"}, "variants", "must be a list"),
    ({"n_boot": -1}, "n_boot", "must be >= 0, got -1"),
    ({"n_null": 2.5}, "n_null", "must be an integer"),
    ({"seed": -1}, "seed", "must be an integer in"),
    ({"k": 0}, "k", "must be > 0"),
    ({"device": 3}, "device", "must be a torch device name"),
    ({"progress": "no"}, "progress", "must be true or false"),
    ({"pooling": "max"}, "pooling", "must be one of mean"),
    ({"n": 1}, "n", "must be >= 2, got 1"),
    ({"n": 3}, "n", "must be >= 4 with the margin (k = 4 neighbours per query), got 3"),
    ({"layers": [1, 1]}, "layers", "1 is given twice"),
    ({"layers": [-1]}, "layers[0]", "must be >= 0"),
    ({"max_length": 2}, "max_length", "must be >= 3"),
    ({"batch_tokens": 0}, "batch_tokens", "must be > 0"),
    ({"precision": 16}, "precision", "must be one of fp32, bf16, fp16, auto"),
])
def test_each_bad_setting_names_its_field(kwargs: dict[str, Any], name: str,
                                          problem: str) -> None:
    with pytest.raises(SettingError) as err:
        RetrievalSettings(**kwargs)
    assert err.value.name == name and problem in err.value.problem
    assert "\n" not in str(err.value)


def test_valid_settings_are_normalised() -> None:
    s = RetrievalSettings(variants=["centred"], n=3, layers=[2, 0], device="cpu",
                          precision="float32")
    assert s.variants == ("centred",) and s.layers == (2, 0) and s.device == "cpu"
    assert s.precision == "fp32"  # the dtype spelling is the same value
    assert RetrievalSettings().variants == VARIANTS and isinstance(s, ScoringSettings)
    assert RetrievalSettings.from_mapping({"n_boot": 5}, "retrieval").n_boot == 5
    with pytest.raises(SettingError, match=r"^retrieval\.n_null must be >= 0"):
        RetrievalSettings.from_mapping({"n_null": -1}, "retrieval")


def test_targets_are_distinct_names_without_the_source() -> None:
    assert check_targets("en", "fr") == ["fr"] and check_targets("en", None) is None
    with pytest.raises(SettingError, match="'fr' is given twice") as err:
        check_targets("en", ["fr", "de", "fr"])
    assert err.value.name == "targets"
    with pytest.raises(SettingError, match="include the source language 'en'"):
        check_targets("en", ["fr", "en"])
