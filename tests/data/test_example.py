from __future__ import annotations

from pathlib import Path

import pytest

from crossling.core.errors import DataError
from crossling.data.conllu import read_conllu, tree_problem
from crossling.data.example import examples_from_ud

HEAD = "# sent_id = ok\n1\tA\ta\tX\t_\t_\t0\troot\t_\t_\n\n# sent_id = bad\n"


def _rows(heads: list[str]) -> str:
    return "".join(f"{i}\tw{i}\tw\tNOUN\t_\t_\t{h}\tdep\t_\t_\n"
                   for i, h in enumerate(heads, start=1)) + "\n"


@pytest.mark.parametrize(
    ("heads", "line", "message"),
    [
        (["0", "3", "2"], 6, "HEAD cycle 2 -> 3 -> 2"),
        (["2", "3", "1"], 5, "no word is attached to the root"),
        (["0", "_", "2"], 6, "word 2 has no HEAD ('_')"),
        (["0", "1", "0"], 7, "2 words attached to the root (words 1, 3); UD allows one"),
    ],
)
def test_parsing_examples_refuse_non_trees(tmp_path: Path, heads: list[str], line: int,
                                           message: str) -> None:
    """Training and evaluation sets alike: a sentence that is no tree is refused, located."""
    p = tmp_path / "x.conllu"
    p.write_text(HEAD + _rows(heads), encoding="utf-8")
    sents = read_conllu(p)  # the reader accepts it: POS does not need heads
    assert [ex.labels for ex in examples_from_ud(sents, "pos")][1] == ("NOUN",) * 3
    with pytest.raises(DataError) as err:
        examples_from_ud(sents, "parsing")
    assert str(err.value).startswith(f"{p}:{line}: ")
    assert message in str(err.value) and "(sentence bad)" in str(err.value)


def test_tree_problem_accepts_trees() -> None:
    assert tree_problem([2, 0, 2, 3]) is None
    assert tree_problem([0]) is None
    assert tree_problem([]) is not None  # no root
