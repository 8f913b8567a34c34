"""The unit of supervised data: one sentence's words with its task labels and origin."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from crossling.data.conllu import Sentence


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
    """UD sentences as examples: UPOS for ``pos``, heads + relations for ``parsing``."""
    if task == "pos":
        return [Example(s.words, s.upos, (), s.sent_id, s.path, s.line) for s in sentences]
    if task == "parsing":
        return [Example(s.words, s.deprels, s.heads, s.sent_id, s.path, s.line)
                for s in sentences]
    raise ValueError(f"UD treebanks provide pos and parsing examples, not {task!r}")
