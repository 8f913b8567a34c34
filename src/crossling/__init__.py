"""crossling: find where cross-lingual transfer happens inside multilingual encoders.

The package follows one data flow: ``data`` <- ``models`` <- ``training`` / ``similarity`` <-
``analysis`` <- ``experiments`` <- ``report`` <- ``cli``. Lower layers never import higher ones.

The public API is the names in :data:`__all__` (documented with a complete session in
``docs/api.md``)::

    import crossling
    enc = crossling.load_encoder("intfloat/multilingual-e5-small")
    corpus = crossling.align_pud("data/ud", ["en", "fr", "de"], n=1000)
    rows = crossling.cross_lingual_similarity(enc, corpus, "en", targets=["fr", "de"])

Names are imported lazily (PEP 562): ``import crossling`` loads no torch, transformers or
matplotlib, so a script or the CLI's ``--help`` pays for a model only when it uses one. Every
public function with more than three parameters takes the ones after the first few
keyword-only, so calls read the same everywhere and a new parameter can never shift old ones.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from crossling.core.version import __version__

if TYPE_CHECKING:  # what the lazy names are, for type checkers and IDEs
    from crossling.core.errors import ConfigError, CrosslingError, DataError, ModelError
    from crossling.data.parallel import ParallelCorpus, align_by_sent_id, align_pud
    from crossling.experiments.study import Study, load_study
    from crossling.experiments.workflows import StudyOutcome, finetune, run_study, study_report
    from crossling.models.encoder import Encoder, load_encoder
    from crossling.models.reinit import ReinitReport, ReinitSettings, reinit
    from crossling.report.analyses import ReportData, compute_report
    from crossling.report.render import build_report
    from crossling.results import ScoreRow, SimilarityRow, read_rows_csv, write_rows_csv
    from crossling.similarity.measures import REGISTRY as MEASURES
    from crossling.similarity.measures import Measure, get_measure
    from crossling.similarity.pipeline import cross_lingual_similarity, model_similarity
    from crossling.similarity.retrieval import cross_lingual_retrieval, run_retrieval
    from crossling.similarity.service import run_similarity
    from crossling.training.loop import TrainConfig
    from crossling.training.probing import probe

# public name -> (module, attribute in that module)
_EXPORTS: dict[str, tuple[str, str]] = {
    # models
    "load_encoder": ("crossling.models.encoder", "load_encoder"),
    "Encoder": ("crossling.models.encoder", "Encoder"),
    "reinit": ("crossling.models.reinit", "reinit"),
    "ReinitReport": ("crossling.models.reinit", "ReinitReport"),
    "ReinitSettings": ("crossling.models.reinit", "ReinitSettings"),
    # data
    "ParallelCorpus": ("crossling.data.parallel", "ParallelCorpus"),
    "align_by_sent_id": ("crossling.data.parallel", "align_by_sent_id"),
    "align_pud": ("crossling.data.parallel", "align_pud"),
    # similarity
    "cross_lingual_similarity": ("crossling.similarity.pipeline", "cross_lingual_similarity"),
    "model_similarity": ("crossling.similarity.pipeline", "model_similarity"),
    "run_similarity": ("crossling.similarity.service", "run_similarity"),
    "cross_lingual_retrieval": ("crossling.similarity.retrieval", "cross_lingual_retrieval"),
    "run_retrieval": ("crossling.similarity.retrieval", "run_retrieval"),
    "MEASURES": ("crossling.similarity.measures", "REGISTRY"),
    "Measure": ("crossling.similarity.measures", "Measure"),
    "get_measure": ("crossling.similarity.measures", "get_measure"),
    # layer-wise probing (frozen encoder, linear UPOS probe per layer, zero-shot transfer)
    "probe": ("crossling.training.probing", "probe"),
    # fine-tuning
    "finetune": ("crossling.experiments.workflows", "finetune"),
    "TrainConfig": ("crossling.training.loop", "TrainConfig"),
    # studies
    "load_study": ("crossling.experiments.study", "load_study"),
    "Study": ("crossling.experiments.study", "Study"),
    "run_study": ("crossling.experiments.workflows", "run_study"),
    "StudyOutcome": ("crossling.experiments.workflows", "StudyOutcome"),
    "study_report": ("crossling.experiments.workflows", "study_report"),
    # results and reports
    "ScoreRow": ("crossling.results", "ScoreRow"),
    "SimilarityRow": ("crossling.results", "SimilarityRow"),
    "read_rows_csv": ("crossling.results", "read_rows_csv"),
    "write_rows_csv": ("crossling.results", "write_rows_csv"),
    "compute_report": ("crossling.report.analyses", "compute_report"),
    "ReportData": ("crossling.report.analyses", "ReportData"),
    "build_report": ("crossling.report.render", "build_report"),
    # errors: bad input raises one of these, with a one-line message naming file and line
    "CrosslingError": ("crossling.core.errors", "CrosslingError"),
    "ConfigError": ("crossling.core.errors", "ConfigError"),
    "DataError": ("crossling.core.errors", "DataError"),
    "ModelError": ("crossling.core.errors", "ModelError"),
}

__all__ = [
    "MEASURES",
    "ConfigError",
    "CrosslingError",
    "DataError",
    "Encoder",
    "Measure",
    "ModelError",
    "ParallelCorpus",
    "ReinitReport",
    "ReinitSettings",
    "ReportData",
    "ScoreRow",
    "SimilarityRow",
    "Study",
    "StudyOutcome",
    "TrainConfig",
    "__version__",
    "align_by_sent_id",
    "align_pud",
    "build_report",
    "compute_report",
    "cross_lingual_retrieval",
    "cross_lingual_similarity",
    "finetune",
    "get_measure",
    "load_encoder",
    "load_study",
    "model_similarity",
    "probe",
    "read_rows_csv",
    "reinit",
    "run_retrieval",
    "run_similarity",
    "run_study",
    "study_report",
    "write_rows_csv",
]


def __getattr__(name: str) -> Any:
    """Import a public name on first use and keep it in the module (PEP 562)."""
    target = _EXPORTS.get(name)
    if target is None:
        raise AttributeError(f"module 'crossling' has no attribute {name!r}")
    value = getattr(importlib.import_module(target[0]), target[1])
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    """The module's own names and every public name, imported or not (tab completion)."""
    return sorted({*globals(), *__all__})
