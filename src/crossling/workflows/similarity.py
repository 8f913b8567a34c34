"""The similarity workflow: data folder, model names and settings in, tidy rows out.

``crossling similarity``, ``crossling demo`` and a study's similarity cells all run the same
steps: validate, resolve and align the PUD files, load the encoder(s), compute the cross-lingual
curve of one model and, optionally, the model-vs-model curve of two. Writing the results stays
with the callers. Errors name settings by field; the CLI renames them to flags, a study to
field paths.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from crossling.core.errors import ConfigError
from crossling.models.encoder import Encoder, load_encoder
from crossling.models.names import check_model_name
from crossling.results import SimilarityRow
from crossling.similarity.corpus import parallel_corpus
from crossling.similarity.pipeline import cross_lingual_similarity, model_similarity
from crossling.similarity.settings import SimilaritySettings, names
from crossling.similarity.uncertainty import check_resample_memory


@dataclass(frozen=True)
class Models:
    """The model(s) of a run: names or folders (loaded on the settings' device) or loaded
    encoders (e.g. a fine-tuned one renamed after its fine-tuning).

    ``compare``: a second model, whose model-vs-model rows follow the cross-lingual ones;
    ``compare_side``: ``"b"`` (``model`` vs ``compare``) or ``"a"`` (``compare`` vs ``model``:
    pretrained vs fine-tuned); ``cross_lingual=False`` (with ``compare``): model-vs-model only.
    """

    model: str | Encoder
    compare: str | Encoder | None = None
    compare_side: Literal["a", "b"] = "b"
    cross_lingual: bool = True

    def __post_init__(self) -> None:
        if self.compare_side not in ("a", "b"):
            raise ConfigError(f"compare_side = {self.compare_side!r}: must be 'a' or 'b'")
        if not self.cross_lingual and self.compare is None:
            raise ConfigError("cross_lingual=False needs a compare model: nothing to compute")


def _encoder(model: str | Encoder, device: str | None) -> Encoder:
    return model if isinstance(model, Encoder) else load_encoder(model, device=device)


def run_similarity(models: str | Encoder | Models, ud: str | Path, source: str, *,
                   targets: Sequence[str] | str | None = None,
                   settings: SimilaritySettings | None = None,
                   cache_dir: str | Path | None = None) -> list[SimilarityRow]:
    """Cross-lingual rows of the model (source vs each target: every other PUD language of
    ``ud`` when ``targets`` is None), then, with a compared model, model-vs-model rows on the
    sentences of every language.

    ``settings`` (default: ``SimilaritySettings()``) is valid by construction; the targets,
    model folders and data files are checked before any model is loaded, and so are the
    available sentences (``settings.n``) and the memory the resamples need.
    """
    chosen = models if isinstance(models, Models) else Models(models)
    settings = SimilaritySettings() if settings is None else settings
    names("targets", targets)
    for name in (chosen.model, chosen.compare):
        if isinstance(name, str):
            check_model_name(name, hub=False)  # a missing folder, before the data is read
    corpus, langs = parallel_corpus(ud, source, targets, settings.n)
    check_resample_memory(len(corpus), settings.n_boot, settings.n_null)  # before a model
    encoder = _encoder(chosen.model, settings.device)
    rows = cross_lingual_similarity(encoder, corpus, source, targets=langs, settings=settings,
                                    cache_dir=cache_dir) if chosen.cross_lingual else []
    if chosen.compare is not None:
        other = _encoder(chosen.compare, settings.device)
        a, b = (encoder, other) if chosen.compare_side == "b" else (other, encoder)
        rows += model_similarity(a, b, corpus, languages=[source, *langs], settings=settings,
                                 cache_dir=cache_dir)
    return rows
