from __future__ import annotations

import math

from crossling.data.scripts import char_script, majority_script


def test_scripts_are_read_from_the_unicode_names() -> None:
    assert char_script("é") == "LATIN" and char_script("Ｅ") == "LATIN"  # fullwidth too
    assert char_script("ж") == "CYRILLIC" and char_script("ب") == "ARABIC"
    assert char_script("中") == "HAN" and char_script("の") == "HIRAGANA"
    assert char_script("한") == "HANGUL" and char_script("ก") == "THAI"
    assert char_script("न") == "DEVANAGARI"
    assert char_script("7") is None and char_script(",") is None and char_script(" ") is None


def test_majority_script_counts_letters_only() -> None:
    got = majority_script(["Москва 2024, OK!", "дом"])
    assert got.name == "CYRILLIC" and got.letters == 11
    assert math.isclose(got.share, 9 / 11)
    none = majority_script(["123 ...", ""])
    assert none.name is None and none.letters == 0 and math.isnan(none.share)


def test_a_tie_is_broken_alphabetically() -> None:
    assert majority_script(["ab", "жд"]).name == "CYRILLIC"
