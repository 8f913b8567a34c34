from __future__ import annotations

from pathlib import Path

import pytest

from crossling.core.errors import DataError
from crossling.data.conllu import read_conllu

GOOD = """# sent_id = s1
# text = Je vais aux États-Unis.
1	Je	je	PRON	_	_	2	nsubj	_	_
2	vais	aller	VERB	_	_	0	root	_	_
3-4	aux	_	_	_	_	_	_	_	_
3	à	à	ADP	_	_	5	case	_	_
4	les	le	DET	_	_	5	det	_	_
5	États-Unis	États-Unis	PROPN	_	_	2	obl	_	SpaceAfter=No
5.1	va	aller	VERB	_	_	_	_	2:conj	_
6	.	.	PUNCT	_	_	2	punct	_	_

"""


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "x.conllu"
    p.write_text(text, encoding="utf-8")
    return p


def test_words_multiword_and_empty_nodes(tmp_path: Path) -> None:
    (s,) = read_conllu(_write(tmp_path, GOOD))
    assert s.words == ("Je", "vais", "à", "les", "États-Unis", ".")
    assert s.heads == (2, 0, 5, 5, 2, 2)
    assert s.upos[4] == "PROPN" and s.deprels[4] == "obl"
    assert s.multiword == ((3, 4, "aux"),)
    assert s.surface_tokens() == ["Je", "vais", "aux", "États-Unis", "."]
    assert s.sent_id == "s1" and s.text == "Je vais aux États-Unis."
    assert s.line == 1


@pytest.mark.parametrize(
    ("bad_line", "replacement", "message"),
    [
        ("2\tvais\taller\tVERB\t_\t_\t0\troot\t_\t_", "2\tvais\taller\tVERB\t_\t0\troot\t_\t_",
         "expected 10 tab-separated columns, found 9"),
        ("2\tvais\taller\tVERB\t_\t_\t0\troot\t_\t_", "2\tvais\taller\tVERB\t_\t_\tX\troot\t_\t_",
         "HEAD 'X' is not an integer"),
        ("2\tvais\taller\tVERB\t_\t_\t0\troot\t_\t_", "2\tvais\taller\tVERB\t_\t_\t9\troot\t_\t_",
         "HEAD 9 points outside the sentence"),
        ("2\tvais\taller\tVERB\t_\t_\t0\troot\t_\t_", "7\tvais\taller\tVERB\t_\t_\t0\troot\t_\t_",
         "word id 7 out of sequence"),
    ],
)
def test_errors_name_file_and_line(tmp_path: Path, bad_line: str, replacement: str,
                                   message: str) -> None:
    text = "# sent_id = s0\n1\tA\ta\tX\t_\t_\t0\troot\t_\t_\n\n" + GOOD.replace(bad_line,
                                                                            replacement)
    path = _write(tmp_path, text)
    with pytest.raises(DataError) as err:
        read_conllu(path)
    # The bad row is line 7 of the file: 3 lines of the first sentence, 2 comments, 1 word.
    assert str(err.value).startswith(f"{path}:7: ")
    assert message in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.slow
def test_all_shared_pud_files_parse(ud_dir: Path) -> None:
    files = sorted(ud_dir.glob("UD_*-PUD/*-ud-test.conllu"))
    assert len(files) == 19
    for f in files:
        sents = read_conllu(f)
        assert len(sents) == 1000
        assert all(len(s.words) == len(s.heads) == len(s.upos) for s in sents)
        assert all(h.count(0) >= 1 for h in (s.heads for s in sents))


def test_latin1_file_is_a_located_error(tmp_path: Path) -> None:
    p = tmp_path / "latin1.conllu"
    p.write_bytes(GOOD.replace("États-Unis", "Été").encode("latin-1"))
    with pytest.raises(DataError, match=rf"^{p}:2: not valid UTF-8 \(byte 0xc9 at column 22\)"):
        read_conllu(p)


def test_byte_order_mark_at_start_is_accepted(tmp_path: Path) -> None:
    p = tmp_path / "bom.conllu"
    p.write_bytes(GOOD.encode("utf-8-sig"))
    (s,) = read_conllu(p)
    assert s.sent_id == "s1" and s.words[0] == "Je"
    p.write_bytes(("\ufeff1\tA\ta\tX\t_\t_\t0\troot\t_\t_\n\n" + GOOD).encode("utf-8"))
    assert read_conllu(p)[0].words == ("A",)  # a BOM glued to the first ID
    # A BOM starting a later line means two files were concatenated: refused, located.
    p.write_bytes(GOOD.encode("utf-8") + GOOD.encode("utf-8-sig"))
    with pytest.raises(DataError, match=rf"^{p}:12: byte-order mark"):
        read_conllu(p)


@pytest.mark.parametrize("text", ["", "\n\n", "   \n"])
def test_empty_file_is_an_error(tmp_path: Path, text: str) -> None:
    p = _write(tmp_path, text)
    with pytest.raises(DataError, match=rf"^{p}: no sentences"):
        read_conllu(p)


def test_word_lines_point_at_rows(tmp_path: Path) -> None:
    (s,) = read_conllu(_write(tmp_path, GOOD))
    assert s.word_lines == (3, 4, 6, 7, 8, 10)  # the 3-4 range and 5.1 rows are no words


@pytest.mark.parametrize(("extra", "key"), [
    ("# text = Je vais aux USA.", "text"),
    ("# sent_id = s2", "sent_id"),
    ("#text=Je vais.", "text"),
])
def test_a_comment_key_twice_in_one_sentence_is_refused(tmp_path: Path, extra: str,
                                                        key: str) -> None:
    """``conllu`` keeps the last value silently (a second ``# text`` was the one encoded)."""
    lines = GOOD.splitlines(keepends=True)
    path = _write(tmp_path, "".join([*lines[:2], extra + "\n", *lines[2:]]))
    with pytest.raises(DataError, match=rf"x\.conllu:3: second '# {key}' comment in one "
                                        r"sentence \(first at line [12]\)"):
        read_conllu(path)


def test_free_comments_may_repeat(tmp_path: Path) -> None:
    lines = GOOD.splitlines(keepends=True)
    path = _write(tmp_path, "".join(["# a note\n", "# a note\n", *lines]))
    assert read_conllu(path)[0].text == "Je vais aux États-Unis."
