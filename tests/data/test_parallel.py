from __future__ import annotations

from pathlib import Path

import pytest

from crossling.core.errors import ConfigError, DataError
from crossling.data.parallel import align_by_sent_id, read_line_aligned
from crossling.data.resolve import pud_languages, resolve_ud


def _sent(sid: str, word: str) -> str:
    return f"# sent_id = {sid}\n# text = {word}\n1\t{word}\t_\tX\t_\t_\t0\troot\t_\t_\n\n"


def test_align_by_sent_id_reorders_and_uses_text(tmp_path: Path) -> None:
    a = tmp_path / "a.conllu"
    b = tmp_path / "b.conllu"
    a.write_text(_sent("1", "one") + _sent("2", "two"), encoding="utf-8")
    b.write_text(_sent("2", "deux") + _sent("1", "un"), encoding="utf-8")
    c = align_by_sent_id({"en": a, "fr": b})
    assert c.ids == ("1", "2")
    assert c.texts["fr"] == ("un", "deux")


def test_sent_id_on_one_side_only_is_located(tmp_path: Path) -> None:
    a = tmp_path / "a.conllu"
    b = tmp_path / "b.conllu"
    a.write_text(_sent("1", "one") + _sent("2", "two"), encoding="utf-8")
    b.write_text(_sent("1", "un") + _sent("3", "trois"), encoding="utf-8")
    with pytest.raises(DataError, match=rf"^{b}:5: sent_id '3' has no counterpart in {a}$"):
        align_by_sent_id({"en": a, "fr": b})


def test_line_aligned_length_mismatch(tmp_path: Path) -> None:
    a = tmp_path / "a.txt"
    b = tmp_path / "b.txt"
    a.write_text("one\ntwo\nthree\n", encoding="utf-8")
    b.write_text("un\ndeux\n", encoding="utf-8")
    with pytest.raises(DataError, match=rf"^{b}:3: file ends after 2 lines but {a} has 3$"):
        read_line_aligned({"en": a, "fr": b})
    b.write_text("un\ndeux\ntrois\n", encoding="utf-8")
    assert read_line_aligned({"en": a, "fr": b}).texts["fr"] == ("un", "deux", "trois")


def test_real_pud_alignment(ud_dir: Path) -> None:
    langs = ["en", "fr", "ja", "zh"]
    c = align_by_sent_id({lang: resolve_ud(ud_dir, lang) for lang in langs}, limit=50)
    assert len(c) == 50
    assert c.ids[0] == "n01001011"
    # `# text_en` is not confused with `# text`: the Japanese text is Japanese.
    assert any("\u3040" <= ch <= "\u30ff" for ch in c.texts["ja"][0])


def test_resolver(ud_dir: Path) -> None:
    assert resolve_ud(ud_dir, "en").name == "en_pud-ud-test.conllu"
    assert resolve_ud(ud_dir, "fr_gsd").name == "fr_gsd-ud-test.conllu"
    assert resolve_ud(ud_dir, "en_ewt:train").name == "en_ewt-ud-train.conllu"
    assert resolve_ud(ud_dir, "en_ewt", split="dev").name == "en_ewt-ud-dev.conllu"
    assert len(pud_languages(ud_dir)) == 19
    with pytest.raises(ConfigError, match="unknown language 'xx'"):
        resolve_ud(ud_dir, "xx")
    with pytest.raises(ConfigError, match="no train file for treebank 'fr_gsd'"):
        resolve_ud(ud_dir, "fr_gsd:train")


def test_align_pud_resolves_aligns_and_checks_n(fixture_dir: Path) -> None:
    from crossling.data.parallel import align_pud

    ud = fixture_dir / "ud"
    corpus = align_pud(ud, ["en", "fr", "de"], n=5)
    assert corpus.languages == ["en", "fr", "de"] and len(corpus) == 5
    assert corpus.files["fr"] == str(resolve_ud(ud, "fr"))
    assert corpus.texts == align_by_sent_id({x: resolve_ud(ud, x) for x in ("en", "fr", "de")},
                                            limit=5).texts
    assert len(align_pud(ud, ["en", "de"])) == 8
    with pytest.raises(ConfigError, match="n 9: only 8 parallel sentences"):
        align_pud(ud, ["en", "fr"], n=9)
    with pytest.raises(ConfigError, match="no PUD test files"):
        align_pud(ud)  # the fixture treebanks are not PUD: no default languages


def test_one_file_under_two_languages_is_refused(ud_dir: Path, tmp_path: Path) -> None:
    fr = resolve_ud(ud_dir, "fr")
    with pytest.raises(ConfigError, match=r"languages: 'fr_pud' and 'fr' name the same file"):
        align_by_sent_id({"en": resolve_ud(ud_dir, "en"), "fr": fr,
                          "fr_pud": resolve_ud(ud_dir, "fr_pud")})
    (tmp_path / "link.conllu").symlink_to(fr)
    with pytest.raises(ConfigError, match="'x' and 'fr' name the same file"):
        align_by_sent_id({"fr": fr, "x": tmp_path / "link.conllu"})
    with pytest.raises(ConfigError, match="'x' and 'fr' name the same file"):
        read_line_aligned({"fr": fr, "x": tmp_path / "link.conllu"})
