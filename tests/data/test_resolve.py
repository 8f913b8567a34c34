"""Language specs resolve to the right UD files; unknown or ambiguous specs fail in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from crossling.data.resolve import pud_languages, resolve_ud
from crossling.errors import ConfigError


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
