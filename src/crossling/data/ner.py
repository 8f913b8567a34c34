"""Named-entity data: WikiANN (Rahimi et al. splits) and Universal NER, as IOB2 examples.

Tab-separated columns, blank lines between sentences (WikiANN ``index token tag``, Universal NER
``id token tag ...`` with ``# sent_id``); every tag is ``O``, ``B-X`` or ``I-X``, else a
``file:line`` error. An ``I-X`` after ``O`` is kept as written (seqeval's default chunking
opens an entity there). Specs (`resolve_ner`): ``xx`` is WikiANN language ``xx`` (dev -> val),
``xx_tb`` the Universal NER file ``uner/xx_tb-ud-{split}.iob2``.
"""

from __future__ import annotations

import re
from pathlib import Path

from crossling.core.errors import ConfigError, DataError
from crossling.data.example import Example
from crossling.data.text import iter_lines

_TAG = re.compile(r"^(O|[BI]-\S+)$")
_WIKIANN_SPLITS = {"train": "train", "dev": "val", "val": "val", "test": "test"}


def read_iob2(path: str | Path) -> list[Example]:
    """Read a WikiANN or Universal NER file into examples (labels = IOB2 tags)."""
    p = Path(path)
    if not p.is_file():
        raise DataError(p, None, "no such NER file")
    out: list[Example] = []
    words: list[str] = []
    tags: list[str] = []
    sent_id: str | None = None
    start = 0
    for number, line in iter_lines(p):
        if not line.strip():
            if words:
                out.append(Example(tuple(words), tuple(tags), (), sent_id, str(p), start))
            words, tags, sent_id, start = [], [], None, 0
            continue
        start = start or number  # first line (comment or token) of this sentence
        if line.startswith("#"):
            if line.startswith("# sent_id ="):
                if sent_id is not None:
                    raise DataError(p, number, f"second '# sent_id' comment in one sentence "
                                               f"(first: {sent_id!r})")
                sent_id = line.split("=", 1)[1].strip()
            continue
        cols = line.split("\t")
        if len(cols) < 3:
            raise DataError(p, number, f"expected at least 3 tab-separated columns (index, "
                                       f"token, tag), found {len(cols)}")
        if not cols[0].strip().isdigit():
            raise DataError(p, number, f"malformed token index {cols[0]!r}")
        if not _TAG.match(cols[2]):
            raise DataError(p, number, f"tag {cols[2]!r} is not IOB2 (O, B-TYPE or I-TYPE)")
        words.append(cols[1])
        tags.append(cols[2])
    if words:
        out.append(Example(tuple(words), tuple(tags), (), sent_id, str(p), start))
    if not out:
        raise DataError(p, None, "no sentences in this NER file (empty file?)")
    return out


def resolve_ner(root: str | Path, spec: str, split: str = "test") -> Path:
    """Resolve a NER language spec (see module docstring) to a file under ``root``."""
    base = Path(root)
    name, _, explicit = spec.partition(":")
    want = explicit or split
    if "_" in name:
        path = base / "uner" / f"{name}-ud-{want}.iob2"
        if not path.is_file():
            have = sorted(f.name.replace("-ud-", ":").replace(".iob2", "")
                          for f in (base / "uner").glob("*.iob2"))
            raise ConfigError(f"no Universal NER file for {name!r} split {want!r} in "
                              f"{base / 'uner'} (available: {', '.join(have) or 'none'})")
        return path
    if want not in _WIKIANN_SPLITS:
        raise ConfigError(f"unknown split {want!r} (train, dev, test)")
    path = base / "wikiann" / name / f"{_WIKIANN_SPLITS[want]}.conllu"
    if not path.is_file():
        langs = sorted(d.name for d in (base / "wikiann").glob("*") if d.is_dir())
        raise ConfigError(f"unknown WikiANN language {name!r} in {base / 'wikiann'} "
                          f"(available: {', '.join(langs) or 'none'})")
    return path
