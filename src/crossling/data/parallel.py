"""Parallel sentences for cross-lingual similarity: PUD aligned by ``sent_id``, or plain text
files aligned by line.

Alignment is checked, not assumed: the authors' script took "the first N sentences of each file",
which silently compares unrelated sentences if one file is reordered or filtered. Here every
sentence of one side must have exactly one counterpart on the other side, or the error names the
file and line of the first one that does not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from crossling.core.errors import ConfigError, DataError
from crossling.core.provenance import FileVersion, file_version
from crossling.data.conllu import Sentence, read_conllu
from crossling.data.resolve import pud_languages, resolve_ud
from crossling.data.specs import check_distinct
from crossling.data.text import iter_lines


@dataclass(frozen=True)
class ParallelCorpus:
    """Texts of the same sentences in several languages: ``texts[lang][i]`` are translations."""

    ids: tuple[str, ...]
    texts: Mapping[str, tuple[str, ...]]
    files: Mapping[str, str]

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def languages(self) -> list[str]:
        return list(self.texts)

    def head(self, n: int | None) -> ParallelCorpus:
        """The first ``n`` aligned sentences (all when ``n`` is None), in source-file order."""
        if n is None or n >= len(self.ids):
            return self
        return ParallelCorpus(self.ids[:n], {k: v[:n] for k, v in self.texts.items()}, self.files)


def _text_of(sent: Sentence) -> str:
    # PUD files carry `# text =` and, for non-English, `# text_en =`: only the former is ours.
    return sent.text if sent.text is not None else " ".join(sent.surface_tokens())


def _index(sents: Sequence[Sentence], path: str | Path) -> dict[str, Sentence]:
    index: dict[str, Sentence] = {}
    for sent in sents:
        if sent.sent_id is None:
            raise DataError(path, sent.line, "sentence has no '# sent_id' comment; cannot align "
                                             "by sent_id")
        if sent.sent_id in index:
            raise DataError(path, sent.line, f"duplicate sent_id {sent.sent_id!r} (first at line "
                                             f"{index[sent.sent_id].line})")
        index[sent.sent_id] = sent
    return index


def align_by_sent_id(files: Mapping[str, str | Path], limit: int | None = None) -> ParallelCorpus:
    """Align CoNLL-U files (language -> path) by ``sent_id``; order follows the first file.

    Raises `DataError` naming ``file:line`` of the first sentence whose ``sent_id`` is
    missing on another side, or of a duplicate ``sent_id``.
    """
    if not files:
        raise ValueError("align_by_sent_id needs at least one file")
    check_distinct("languages", list(files.items()))
    langs = list(files)
    indexed = {lang: _index(read_conllu(files[lang]), files[lang]) for lang in langs}
    first = langs[0]
    for lang in langs[1:]:
        for sid, sent in indexed[lang].items():
            if sid not in indexed[first]:
                raise DataError(files[lang], sent.line, f"sent_id {sid!r} has no counterpart in "
                                                        f"{files[first]}")
        for sid, sent in indexed[first].items():
            if sid not in indexed[lang]:
                raise DataError(files[first], sent.line, f"sent_id {sid!r} has no counterpart in "
                                                         f"{files[lang]}")
    ids = tuple(indexed[first])[:limit] if limit is not None else tuple(indexed[first])
    texts = {lang: tuple(_text_of(indexed[lang][sid]) for sid in ids) for lang in langs}
    return ParallelCorpus(ids, texts, {lang: str(files[lang]) for lang in langs})


def align_pud(ud: str | Path, languages: Sequence[str] | None = None, *,
              n: int | None = None) -> ParallelCorpus:
    """The first ``n`` PUD sentences (all when None) of ``languages`` (default: every language
    with a PUD test file under ``ud``, searched recursively), aligned by ``sent_id``.

    The one-call form of `resolve_ud` + `align_by_sent_id`
    for the public API. Language specs are resolved as everywhere else (``en`` is English PUD,
    ``fr_gsd`` a named treebank). Fewer aligned sentences than ``n`` is a ConfigError: an
    analysis on fewer sentences than asked for would change every interval without saying so.
    """
    langs = list(languages) if languages else pud_languages(ud)
    if not langs:
        raise ConfigError(f"{ud}: no PUD test files found (and no languages named)")
    corpus = align_by_sent_id({lang: resolve_ud(ud, lang) for lang in langs}, limit=n)
    if n is not None and len(corpus) < n:
        raise ConfigError(f"n {n}: only {len(corpus)} parallel sentences are available for "
                          f"{', '.join(langs)}")
    return corpus


def read_line_aligned(files: Mapping[str, str | Path], limit: int | None = None) -> ParallelCorpus:
    """Align plain-text files (language -> path) line by line: line i of each is a translation.

    Raises `DataError` if the files have different numbers of lines (naming the first line
    where one file ends) or if a line is empty on one side only.
    """
    if not files:
        raise ValueError("read_line_aligned needs at least one file")
    check_distinct("languages", list(files.items()))
    lines: dict[str, list[str]] = {}
    for lang, path in files.items():
        p = Path(path)
        if not p.is_file():
            raise DataError(p, None, "no such text file")
        lines[lang] = [ln for _, ln in iter_lines(p)]
        while lines[lang] and not lines[lang][-1].strip():
            lines[lang].pop()  # a trailing newline or blank lines at the end are not sentences
    langs = list(files)
    first = langs[0]
    for lang in langs[1:]:
        a, b = lines[first], lines[lang]
        if len(a) != len(b):
            short, long_ = (lang, first) if len(b) < len(a) else (first, lang)
            n = min(len(a), len(b))
            raise DataError(files[short], n + 1, f"file ends after {n} lines but "
                                                 f"{files[long_]} has {max(len(a), len(b))}")
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if bool(x.strip()) != bool(y.strip()):
                empty = lang if not y.strip() else first
                raise DataError(files[empty], i + 1, "empty line where the parallel file has a "
                                                     "sentence")
    n = len(lines[first]) if limit is None else min(limit, len(lines[first]))
    keep = [i for i in range(n) if lines[first][i].strip()]
    return ParallelCorpus(tuple(str(i + 1) for i in keep),
                          {lang: tuple(lines[lang][i] for i in keep) for lang in langs},
                          {lang: str(files[lang]) for lang in langs})


def _sent_ids(path: str | Path) -> frozenset[str]:
    """The ``# sent_id`` values of a CoNLL-U file, from its comment lines alone (cached per
    `file_version`)."""
    version = file_version(path)
    return _read_sent_ids(str(path)) if version is None else _sent_ids_cached(version)


@cache
def _sent_ids_cached(version: FileVersion) -> frozenset[str]:
    return _read_sent_ids(version[0])


def _read_sent_ids(path: str) -> frozenset[str]:
    out = set()
    with open(path, "rb") as fh:
        for raw in fh:
            if raw.startswith((b"#", b"\xef\xbb\xbf#")):  # a comment (the first after a BOM)
                key, eq, value = raw.decode("utf-8", "replace").lstrip("\ufeff#").partition("=")
                if eq and key.strip() == "sent_id":
                    out.add(value.strip())
    return frozenset(out)


def count_aligned(files: Mapping[str, str | Path]) -> int:
    """How many sentences `align_by_sent_id` can align across ``files``: the first
    file's ``sent_id``\\ s found in every other file. Reads comment lines only (milliseconds per
    PUD file, where parsing takes a second), so a study can check its sentence counts at load."""
    paths = list(files.values())
    if not paths:
        return 0
    common = _sent_ids(paths[0])
    for path in paths[1:]:
        common &= _sent_ids(path)
    return len(common)
