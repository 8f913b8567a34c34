"""The parallel sentences of an analysis: PUD files of the languages, aligned by ``sent_id``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from crossling.core.checks import check_count
from crossling.core.errors import SettingError
from crossling.data.parallel import ParallelCorpus, align_by_sent_id
from crossling.data.resolve import pud_languages, resolve_ud
from crossling.similarity.checks import as_names


def parallel_corpus(ud: str | Path, source: str, targets: Sequence[str] | str | None,
                    n: int | None) -> tuple[ParallelCorpus, list[str]]:
    """The first ``n`` (all when None) sentences of ``source`` and ``targets`` aligned by
    ``sent_id``, and the target list (every other PUD language of ``ud`` when ``targets`` is
    empty or None; a bare string is one language).

    Fewer aligned sentences than ``n`` is a SettingError naming ``n`` (the caller renames it to
    its flag or field): silently analysing fewer sentences would change every interval.
    """
    if n is not None:
        n = check_count("n", n, 1)
    chosen = as_names(targets, "targets")
    langs = chosen if chosen else [x for x in pud_languages(ud) if x != source]
    corpus = align_by_sent_id({lang: resolve_ud(ud, lang) for lang in [source, *langs]},
                              limit=n)
    if n is not None and len(corpus) < n:
        raise SettingError("n", f"{n}: only {len(corpus)} parallel sentences are available "
                                f"for {', '.join([source, *langs])}")
    return corpus, langs
