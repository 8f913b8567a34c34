from __future__ import annotations

from pathlib import Path

import pytest

from crossling.core.errors import ConfigError, DataError
from crossling.data.ner import read_iob2, resolve_ner


def test_wikiann_and_uner_files(data_dir: Path) -> None:
    ner = data_dir / "ner"
    wiki = read_iob2(resolve_ner(ner, "de", "dev"))
    assert len(wiki) == 10000
    assert all(len(e.words) == len(e.labels) for e in wiki)
    assert {t.split("-")[-1] for e in wiki for t in e.labels} <= {"O", "PER", "LOC", "ORG"}
    uner = read_iob2(resolve_ner(ner, "de_pud"))
    assert len(uner) == 1000 and uner[0].sent_id == "n01001-0001"
    assert uner[0].labels[9:11] == ("B-LOC", "I-LOC")
    assert resolve_ner(ner, "en_ewt:dev").name == "en_ewt-ud-dev.iob2"


def test_bad_tag_and_columns_are_located(tmp_path: Path) -> None:
    p = tmp_path / "x.iob2"
    p.write_text("0\tParis\tB-LOC\n1\tis\tO\n\n0\tRome\tB-LOC\n1\tx\tLOC\n", encoding="utf-8")
    with pytest.raises(DataError, match=rf"^{p}:5: tag 'LOC' is not IOB2"):
        read_iob2(p)
    p.write_text("0\tParis\n", encoding="utf-8")
    with pytest.raises(DataError, match=rf"^{p}:1: expected at least 3"):
        read_iob2(p)


def test_resolver_errors(data_dir: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown WikiANN language 'xx' .*available: de, en"):
        resolve_ner(data_dir / "ner", "xx")
    with pytest.raises(ConfigError, match="no Universal NER file for 'fr_pud'"):
        resolve_ner(data_dir / "ner", "fr_pud")


def test_encoding_bom_and_empty_file(tmp_path: Path) -> None:
    p = tmp_path / "x.iob2"
    p.write_bytes("0\tParis\tB-LOC\n1\tEt\tO\n\n0\tÉté\tO\n".encode("latin-1"))
    with pytest.raises(DataError, match=rf"^{p}:4: not valid UTF-8 \(byte 0xc9"):
        read_iob2(p)
    p.write_bytes("# sent_id = a\n0\tParis\tB-LOC\n".encode("utf-8-sig"))
    (ex,) = read_iob2(p)
    assert ex.sent_id == "a" and ex.words == ("Paris",)
    p.write_text("\n\n", encoding="utf-8")
    with pytest.raises(DataError, match=rf"^{p}: no sentences"):
        read_iob2(p)


def test_two_sent_id_comments_in_one_sentence_are_refused(tmp_path: Path) -> None:
    p = tmp_path / "x.iob2"
    p.write_text("# sent_id = a\n# sent_id = b\n0\tParis\tB-LOC\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"x\.iob2:2: second '# sent_id' comment"):
        read_iob2(p)
