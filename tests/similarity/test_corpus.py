from __future__ import annotations

from pathlib import Path

import pytest

from crossling.core.errors import SettingError
from crossling.similarity.corpus import parallel_corpus


def test_default_targets_are_every_other_pud_language(ud_dir: Path) -> None:
    corpus, langs = parallel_corpus(ud_dir, "en", None, 5)
    assert "en" not in langs and "fr" in langs and len(corpus) == 5


def test_too_few_sentences_names_n(ud_dir: Path) -> None:
    """A SettingError naming ``n``: the CLI renames it ``--n``, a study ``similarity.n``."""
    with pytest.raises(SettingError, match=r"^n 100000: only 1000 parallel") as info:
        parallel_corpus(ud_dir, "en", ["fr"], 100000)
    assert info.value.name == "n"
