"""Language specs resolve to the right UD files; unknown or ambiguous specs fail in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from crossling.core.errors import ConfigError
from crossling.data.resolve import pud_languages, resolve_ud


def _touch(root: Path, rel: str) -> None:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text("")


@pytest.fixture()
def ud(tmp_path: Path) -> Path:
    for rel in ("UD_English-PUD/en_pud-ud-test.conllu", "UD_English-EWT/en_ewt-ud-train.conllu",
                "UD_English-EWT/en_ewt-ud-test.conllu", "UD_French-GSD/fr_gsd-ud-test.conllu",
                "UD_French-PUD/fr_pud-ud-test.conllu", "UD_Hindi-HDTB/hi_hdtb-ud-test.conllu",
                "UD_Czech-PDT/cs_pdt-ud-test.conllu", "UD_Czech-CAC/cs_cac-ud-test.conllu",
                "notes/README.md"):
        _touch(tmp_path, rel)
    return tmp_path


def test_specs(ud: Path) -> None:
    assert resolve_ud(ud, "en").name == "en_pud-ud-test.conllu"  # PUD first
    assert resolve_ud(ud, "fr_gsd").name == "fr_gsd-ud-test.conllu"
    assert resolve_ud(ud, "en_ewt:train").name == "en_ewt-ud-train.conllu"
    assert resolve_ud(ud, "en_ewt", split="train").name == "en_ewt-ud-train.conllu"
    assert resolve_ud(ud, "hi").name == "hi_hdtb-ud-test.conllu"  # the only treebank
    assert pud_languages(ud) == ["en", "fr"]


@pytest.mark.parametrize(("spec", "message"), [
    ("xx", "unknown language 'xx'.*available: cs, en, fr, hi"),
    ("fr_gsd:train", "no train file for treebank 'fr_gsd'.*fr_gsd:test"),
    ("cs", "'cs' is ambiguous.*cs_cac, cs_pdt"),
])
def test_errors_are_one_line_and_say_what_exists(ud: Path, spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        resolve_ud(ud, spec)
    assert "\n" not in str(info.value)


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        resolve_ud(tmp_path / "nope", "en")


def test_real_data_has_the_19_pud_languages(ud_dir: Path) -> None:
    langs = pud_languages(ud_dir)
    assert len(langs) == 19 and {"en", "fr", "zh", "ar", "hi"} <= set(langs)


def test_folder_symlink_under_data_is_followed(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    _touch(elsewhere, "UD_French-PUD/fr_pud-ud-test.conllu")
    data = tmp_path / "data"
    _touch(data, "UD_English-PUD/en_pud-ud-test.conllu")
    (data / "UD_French-PUD").symlink_to(elsewhere / "UD_French-PUD", target_is_directory=True)
    (data / "loop").symlink_to(data, target_is_directory=True)  # a cycle is visited once
    assert resolve_ud(data, "fr") == data / "UD_French-PUD" / "fr_pud-ud-test.conllu"
    assert pud_languages(data) == ["en", "fr"]


def test_two_copies_of_a_treebank_are_refused_naming_both(tmp_path: Path) -> None:
    _touch(tmp_path, "ud-2.13/UD_French-GSD/fr_gsd-ud-test.conllu")
    _touch(tmp_path, "ud-2.14/UD_French-GSD/fr_gsd-ud-test.conllu")
    _touch(tmp_path, "ud-2.14/UD_French-PUD/fr_pud-ud-test.conllu")
    _touch(tmp_path, "ud-2.14/UD_English-PUD/en_pud-ud-test.conllu")
    for spec in ("fr_gsd", "fr_gsd:test"):
        with pytest.raises(ConfigError, match="fr_gsd:test is found twice") as info:
            resolve_ud(tmp_path, spec)
        assert "ud-2.13" in str(info.value) and "ud-2.14" in str(info.value)
    assert resolve_ud(tmp_path, "en").name == "en_pud-ud-test.conllu"  # unrelated: fine
    _touch(tmp_path, "old/UD_English-PUD/en_pud-ud-test.conllu")
    with pytest.raises(ConfigError, match="en_pud:test is found twice"):
        resolve_ud(tmp_path, "en")  # the PUD route too
    _touch(tmp_path, "a/UD_Hindi-HDTB/hi_hdtb-ud-test.conllu")
    _touch(tmp_path, "b/UD_Hindi-HDTB/hi_hdtb-ud-test.conllu")
    with pytest.raises(ConfigError, match="hi_hdtb:test is found twice"):
        resolve_ud(tmp_path, "hi")  # and the only-treebank route


def test_two_links_to_one_file_are_one_file(tmp_path: Path) -> None:
    _touch(tmp_path, "real/UD_French-PUD/fr_pud-ud-test.conllu")
    (tmp_path / "link").symlink_to(tmp_path / "real", target_is_directory=True)
    (tmp_path / "real" / "fr_pud-ud-test.conllu").symlink_to(
        tmp_path / "real" / "UD_French-PUD" / "fr_pud-ud-test.conllu")
    assert resolve_ud(tmp_path, "fr").resolve() == \
        (tmp_path / "real" / "UD_French-PUD" / "fr_pud-ud-test.conllu").resolve()
