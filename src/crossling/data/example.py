"""The unit of supervised data: one sentence's words with its task labels and origin."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from crossling.core.errors import DataError
from crossling.data.conllu import Sentence, tree_problem


@dataclass(frozen=True)
class Example:
    """One training/evaluation sentence: words plus task labels, with where it came from.

    ``labels`` is task-specific: UPOS tags for ``pos``; IOB2 tags for ``ner``; for ``parsing``
    the relations, with the heads (1-based, 0 = root) in ``heads``.
    """

    words: tuple[str, ...]
    labels: tuple[str, ...]
    heads: tuple[int, ...] = ()
    sent_id: str | None = None
    path: str = ""
    line: int = 0


def examples_from_ud(sentences: Sequence[Sentence], task: str) -> list[Example]:
    """UD sentences as examples: UPOS for ``pos``, heads + relations for ``parsing``.

    Parsing examples (training and evaluation alike) must have heads that form a UD tree: a
    sentence with a HEAD ``_``, a cycle, no root or several roots raises `DataError` at
    the offending word's line. Training on such a sentence would feed the loss targets that are
    not arcs of a tree (a ``_`` head would index the wrong word), and scoring against it
    measures nothing a parser can produce. POS examples keep sentences with HEAD ``_`` (or any
    heads): tagging does not read them.
    """
    if task == "pos":
        return [Example(s.words, s.upos, (), s.sent_id, s.path, s.line) for s in sentences]
    if task == "parsing":
        for s in sentences:
            problem = tree_problem(s.heads)
            if problem is not None:
                word, why = problem
                line = s.word_lines[word] if word < len(s.word_lines) else s.line
                sid = f" (sentence {s.sent_id})" if s.sent_id else ""
                raise DataError(s.path or "<sentences>", line, f"{why}{sid}; parsing needs "
                                                               "a tree")
        return [Example(s.words, s.deprels, s.heads, s.sent_id, s.path, s.line)
                for s in sentences]
    raise ValueError(f"UD treebanks provide pos and parsing examples, not {task!r}")
