"""The retrieval workflow as one call: a model and a UD folder in, retrieval rows out.

`crossling retrieval` and a study's ``retrieval`` cell both run these steps: check the settings
and the languages, align the PUD files of the source and the targets by ``sent_id``, load the
model, score. Everything that can be checked without the model is checked before it loads.
Writing and printing stay with the callers.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from crossling.models.encoder import Encoder, load_encoder
from crossling.models.names import check_model_name
from crossling.results import SimilarityRow
from crossling.retrieval.rows import check_corpus, cross_lingual_retrieval
from crossling.retrieval.settings import RetrievalSettings, check_targets
from crossling.similarity.service import parallel_corpus


def run_retrieval(model: str | Encoder, ud: str | Path, source: str, *,
                  targets: Sequence[str] | None = None,
                  settings: RetrievalSettings | None = None,
                  cache_dir: str | Path | None = None) -> list[SimilarityRow]:
    """Retrieval rows of ``model`` (a name or folder, loaded on the settings' device, or an
    `Encoder`), ``source`` vs each of ``targets`` (every other PUD language of ``ud`` when
    None; a bare string is one), on their PUD sentences aligned by ``sent_id``
    (`cross_lingual_retrieval`). ``cache_dir`` holds the sentence vectors."""
    s = settings if settings is not None else RetrievalSettings()
    chosen = check_targets(source, targets)
    if isinstance(model, str):
        check_model_name(model, hub=False)  # a missing folder, before the data is read
    corpus, langs = parallel_corpus(ud, source, chosen, None)
    corpus = check_corpus(corpus, source, langs, s)  # before the model is loaded
    encoder = model if isinstance(model, Encoder) else load_encoder(model, device=s.device)
    return cross_lingual_retrieval(encoder, corpus, source, targets=langs, settings=s,
                                   cache_dir=cache_dir)
