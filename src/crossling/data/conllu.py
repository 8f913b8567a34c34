"""Universal Dependencies CoNLL-U files as typed sentences.

Parsing is the ``conllu`` library's; this module adds the line of every problem (``file:line:
problem``) and UD's split of surface tokens from syntactic words: models read syntactic words (a
multi-word token ``15-16`` covers words 15 and 16; empty nodes ``8.1`` are skipped) while the
surface text stays on `Sentence`. HEAD ``_`` is read as -1 (POS needs no heads); whether heads
form a tree is checked where a tree is needed (`crossling.data.example.examples_from_ud`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import conllu as conllu_lib

from crossling.core.errors import DataError
from crossling.data.text import iter_lines

_WORD_ID = re.compile(r"^[1-9][0-9]*$")
_RANGE_ID = re.compile(r"^([1-9][0-9]*)-([1-9][0-9]*)$")
_EMPTY_ID = re.compile(r"^[0-9]+\.[1-9][0-9]*$")
_N_COLUMNS = 10
_META = re.compile(r"^#\s*([^=]*?)\s*=")


@dataclass(frozen=True)
class Sentence:
    """One UD sentence: syntactic words with UPOS, basic heads (1-based, 0 = root) and relations."""

    words: tuple[str, ...]
    upos: tuple[str, ...]
    heads: tuple[int, ...]
    deprels: tuple[str, ...]
    sent_id: str | None = None
    text: str | None = None
    multiword: tuple[tuple[int, int, str], ...] = ()
    """Multi-word tokens as (first word, last word, surface form), word indices 1-based."""
    path: str = ""
    line: int = 0
    """1-based line of the sentence's first line in `path` (for error messages)."""
    word_lines: tuple[int, ...] = field(default=(), compare=False)
    """1-based line of each word's row in `path` (for error messages about one word)."""
    metadata: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    def __len__(self) -> int:
        return len(self.words)

    def surface_tokens(self) -> list[str]:
        """The orthographic tokens: each multi-word token replaces the words it covers."""
        out: list[str] = []
        ranges = {start: (end, form) for start, end, form in self.multiword}
        i = 1
        while i <= len(self.words):
            if i in ranges:
                end, form = ranges[i]
                out.append(form)
                i = end + 1
            else:
                out.append(self.words[i - 1])
                i += 1
        return out


def _blocks(path: Path) -> Iterator[tuple[int, list[str]]]:
    """Split a CoNLL-U file into sentence blocks, yielding (first line number, lines)."""
    block: list[str] = []
    start = 1
    for number, line in iter_lines(path):
        if line.strip():
            if not block:
                start = number
            block.append(line)
        elif block:
            yield start, block
            block = []
    if block:
        yield start, block


def _check_rows(path: Path, start: int, lines: list[str]) -> None:
    """Validate the shape of every token row before handing the block to ``conllu``; a
    ``# key = value`` comment given twice in one sentence (two ``# text``) is an error, since
    ``conllu`` would keep the last one silently."""
    expected = 1
    keys: dict[str, int] = {}
    for offset, line in enumerate(lines):
        lineno = start + offset
        if line.startswith("#"):
            if (meta := _META.match(line)) is not None and meta.group(1):
                key = meta.group(1)
                if key in keys:
                    raise DataError(path, lineno, f"second '# {key}' comment in one sentence "
                                                  f"(first at line {keys[key]})")
                keys[key] = lineno
            continue
        cols = line.split("\t")
        if len(cols) != _N_COLUMNS:
            raise DataError(path, lineno, f"expected {_N_COLUMNS} tab-separated columns, "
                                          f"found {len(cols)}")
        tid = cols[0]
        if _WORD_ID.match(tid):
            if int(tid) != expected:
                raise DataError(path, lineno, f"word id {tid} out of sequence (expected "
                                              f"{expected})")
            expected += 1
            head = cols[6]
            if head != "_" and not head.isdigit():
                raise DataError(path, lineno, f"HEAD {head!r} is not an integer")
        elif (m := _RANGE_ID.match(tid)) is not None:
            first, last = int(m.group(1)), int(m.group(2))
            if first != expected or last < first:
                raise DataError(path, lineno, f"multi-word token range {tid} does not start at "
                                              f"the next word ({expected})")
        elif not _EMPTY_ID.match(tid):
            raise DataError(path, lineno, f"malformed ID {tid!r}")


def _sentence(path: Path, start: int, lines: list[str]) -> Sentence:
    _check_rows(path, start, lines)
    try:
        token_list = conllu_lib.parse("\n".join(lines) + "\n\n")[0]
    except conllu_lib.exceptions.ParseException as exc:
        raise DataError(path, start, f"conllu could not parse sentence: {exc}") from None
    words: list[str] = []
    upos: list[str] = []
    heads: list[int] = []
    deprels: list[str] = []
    multiword: list[tuple[int, int, str]] = []
    # Line of each word, to point errors at the offending row.
    word_lines = [start + i for i, ln in enumerate(lines)
                  if not ln.startswith("#") and _WORD_ID.match(ln.split("\t", 1)[0])]
    for token in token_list:
        tid = token["id"]
        if isinstance(tid, int):
            words.append(token["form"])
            upos.append(token["upos"] or "_")
            head = token["head"]
            heads.append(-1 if head is None else int(head))
            deprels.append(token["deprel"] or "_")
        elif isinstance(tid, tuple) and len(tid) == 3 and tid[1] == "-":
            multiword.append((int(tid[0]), int(tid[2]), token["form"]))
        # Empty nodes (tid[1] == ".") belong to the enhanced graph only: skipped by design.
    n = len(words)
    if n == 0:
        raise DataError(path, start, "sentence has no words")
    for i, head in enumerate(heads):
        if head > n:
            raise DataError(path, word_lines[i], f"HEAD {head} points outside the sentence "
                                                 f"({n} words)")
        if head == i + 1:
            raise DataError(path, word_lines[i], f"word {i + 1} is its own head")
    meta = {str(k): str(v) for k, v in token_list.metadata.items()}
    return Sentence(words=tuple(words), upos=tuple(upos), heads=tuple(heads),
                    deprels=tuple(deprels), sent_id=meta.get("sent_id"), text=meta.get("text"),
                    multiword=tuple(multiword), path=str(path), line=start,
                    word_lines=tuple(word_lines), metadata=meta)


def tree_problem(heads: tuple[int, ...] | list[int]) -> tuple[int, str] | None:
    """Why ``heads`` (1-based, 0 = root, -1 = ``_``) are not a UD basic tree, or None.

    Returns ``(0-based word index, problem)`` for the first problem found: a missing (``_``) or
    out-of-range head, no word or several words attached to the root (UD requires exactly one),
    or a cycle.
    """
    n = len(heads)
    for i, h in enumerate(heads):
        if h < 0:
            return i, f"word {i + 1} has no HEAD ('_')"
        if h > n:
            return i, f"HEAD {h} of word {i + 1} points outside the sentence ({n} words)"
    roots = [i for i, h in enumerate(heads) if h == 0]
    if not roots:
        return 0, "no word is attached to the root (HEAD 0): the heads form no tree"
    if len(roots) > 1:
        return roots[1], (f"{len(roots)} words attached to the root (words "
                          f"{', '.join(str(r + 1) for r in roots)}); UD allows one")
    reaches_root = {0}
    for start in range(1, n + 1):
        path: list[int] = []
        on_path: set[int] = set()
        node = start
        while node not in reaches_root and node not in on_path:
            path.append(node)
            on_path.add(node)
            node = heads[node - 1]
        if node in on_path:
            cycle = path[path.index(node):]
            return cycle[0] - 1, ("HEAD cycle " + " -> ".join(str(w) for w in [*cycle, node])
                                  + ": the heads form no tree")
        reaches_root.update(path)
    return None


def iter_conllu(path: str | Path) -> Iterator[Sentence]:
    """Stream the sentences of a CoNLL-U file; raise `DataError` at the first bad row."""
    p = Path(path)
    if not p.is_file():
        raise DataError(p, None, "no such CoNLL-U file")
    empty = True
    for start, lines in _blocks(p):
        empty = False
        yield _sentence(p, start, lines)
    if empty:
        raise DataError(p, None, "no sentences in this CoNLL-U file (empty file?)")


def read_conllu(path: str | Path, limit: int | None = None) -> list[Sentence]:
    """Read (at most ``limit``) sentences of a CoNLL-U file."""
    out: list[Sentence] = []
    for sent in iter_conllu(path):
        if limit is not None and len(out) >= limit:
            break
        out.append(sent)
    return out
