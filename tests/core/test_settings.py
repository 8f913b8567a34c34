"""Settings objects: rules run at construction, and an error names where the value came from."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, dataclass

import pytest

from crossling.core.errors import SettingError
from crossling.core.settings import (
    Settings,
    as_flag,
    count,
    distinct,
    flag,
    number,
    one_of,
    positive,
    seed,
    setting,
)


@dataclass(frozen=True)
class Demo(Settings):
    languages: tuple[str, ...] = setting(rule=distinct())
    n: int | None = setting(1000, rule=count(2, optional=True))
    lr: float = setting(1e-4, rule=positive)
    warmup: float = setting(0.0, rule=number(0.0, 1.0))
    seed: int = setting(0, rule=seed)
    pooling: str = setting("mean", rule=one_of(["mean", "cls"]))
    bf16: bool = setting(False, rule=flag)

    def check(self) -> None:
        if "en" in self.languages and self.pooling == "cls":
            raise SettingError("pooling", "cls pooling is not for en in this demo")


def test_valid_values_are_normalised_and_frozen() -> None:
    s = Demo(languages=["fr", "de"], lr=1, n=None)
    assert s.languages == ("fr", "de") and s.lr == 1.0 and isinstance(s.lr, float)
    with pytest.raises(FrozenInstanceError):
        s.lr = 2.0  # type: ignore[misc]
    assert s.replace(n=5).n == 5
    with pytest.raises(SettingError, match="n = 1: must be >= 2"):
        s.replace(n=1)


@pytest.mark.parametrize(("kwargs", "name", "problem"), [
    ({"languages": []}, "languages", "must not be empty"),
    ({"languages": ["fr", "fr"]}, "languages", "'fr' is given twice"),
    ({"languages": "fr"}, "languages", "must be a list"),
    ({"languages": ["fr"], "n": 2.5}, "n", "must be an integer"),
    ({"languages": ["fr"], "lr": 0}, "lr", "must be > 0"),
    ({"languages": ["fr"], "lr": float("nan")}, "lr", "must be a finite number"),
    ({"languages": ["fr"], "lr": True}, "lr", "must be a finite number"),
    ({"languages": ["fr"], "warmup": 1.5}, "warmup", "must be in [0, 1]"),
    ({"languages": ["fr"], "seed": -1}, "seed", "must be an integer in"),
    ({"languages": ["fr"], "pooling": "max"}, "pooling", "must be one of mean, cls"),
    ({"languages": ["fr"], "bf16": "false"}, "bf16", "must be true or false"),
    ({"languages": ["en"], "pooling": "cls"}, "pooling", "not for en"),
])
def test_each_rule_names_its_field(kwargs: dict, name: str, problem: str) -> None:
    with pytest.raises(SettingError) as err:
        Demo(**kwargs)
    assert err.value.name == name and problem in err.value.problem


def test_a_study_mapping_names_the_field_path() -> None:
    with pytest.raises(SettingError) as err:
        Demo.from_mapping({"languages": ["fr"], "lr": -1}, "tasks.pos.training")
    assert str(err.value).startswith("tasks.pos.training.lr must be > 0")
    with pytest.raises(SettingError, match=r"tasks\.pos\.training\.lrr unknown field \(valid: "):
        Demo.from_mapping({"languages": ["fr"], "lrr": 1}, "tasks.pos.training")
    with pytest.raises(SettingError, match="seed unknown field"):  # fixed by the caller
        Demo.from_mapping({"languages": ["fr"], "seed": 1}, "", seed=0)
    assert Demo.from_mapping({"languages": ["fr"]}, "x", seed=3).seed == 3


def test_the_cli_names_the_flag() -> None:
    with pytest.raises(SettingError) as err:
        Demo(languages=["fr"], warmup=2)
    assert str(as_flag(err.value)).startswith("--warmup must be in [0, 1]")
    assert str(as_flag(err.value, {"warmup": "--warmup-ratio"})).startswith("--warmup-ratio ")
    named = SettingError("--out", "/x: is a file, not a folder")
    assert as_flag(named) is named  # already a flag: not renamed twice


def test_text_takes_a_path_as_its_string_and_refuses_blanks() -> None:
    from pathlib import Path

    from crossling.core.settings import text

    rule = text("a file")
    assert rule("train", Path("a/b.conllu")) == "a/b.conllu" and rule("train", "en") == "en"
    for bad in ("", "  ", 3, None):
        with pytest.raises(SettingError, match=r"^train must be a file, got"):
            rule("train", bad)
