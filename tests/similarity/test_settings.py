from __future__ import annotations

import pytest

from crossling.core.errors import ConfigError, SettingError
from crossling.core.settings import as_flag
from crossling.similarity.settings import SimilaritySettings


def test_defaults_and_normalised_values() -> None:
    s = SimilaritySettings(measures="linear_cka", layers=3)
    assert s.measures == ("linear_cka",) and s.layers == (3,)
    assert SimilaritySettings().measures[0] == "debiased_cka"
    r = s.resampling("cpu", keep_resamples=True)
    assert (r.n_boot, r.n_null, r.seed, r.device, r.keep_resamples) == (200, 100, 0, "cpu", True)


@pytest.mark.parametrize(("changes", "name", "problem"), [
    ({"measures": ["linear_cka", "linear_cka"]}, "measures", "'linear_cka' is given twice"),
    ({"measures": ["bogus"]}, "measures", "unknown similarity measure 'bogus'"),
    ({"measures": []}, "measures", "must not be empty"),
    ({"pooling": "max"}, "pooling", "must be one of"),
    ({"n": 0}, "n", "must be > 0"),
    ({"n": 3}, "n", "3: debiased_cka needs at least 4 parallel sentences"),
    ({"n_boot": -1}, "n_boot", "must be >= 0"),
    ({"n_null": 1.5}, "n_null", "must be an integer"),
    ({"seed": -1}, "seed", "must be an integer in"),
    ({"layers": ["a"]}, "layers", "must be an integer"),
    ({"layers": "a"}, "layers", "expected a list of layer numbers"),
    ({"max_length": 2}, "max_length", "must be >= 3"),
    ({"batch_tokens": 0}, "batch_tokens", "must be > 0"),
    ({"layer_difference": "yes"}, "layer_difference", "must be true or false"),
    ({"precision": "half"}, "precision", "must be one of fp32, bf16, fp16, auto"),
])
def test_each_field_has_its_rule(changes: dict[str, object], name: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem) as info:
        SimilaritySettings(**changes)  # type: ignore[arg-type]
    if isinstance(info.value, SettingError) and name != "layers":
        assert info.value.name == name
        assert str(as_flag(info.value)).startswith("--" + name.replace("_", "-"))


def test_from_mapping_names_the_field_path() -> None:
    with pytest.raises(SettingError, match=r"^similarity\.n_boot must be >= 0"):
        SimilaritySettings.from_mapping({"n_boot": -2}, "similarity")
