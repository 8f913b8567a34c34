"""crossling: find where cross-lingual transfer happens inside multilingual encoders.

The package follows one data flow: ``data`` <- ``models`` <- ``training`` / ``similarity`` <-
``analysis`` <- ``experiments`` <- ``report`` <- ``cli``. Lower layers never import higher ones.

The public API is the names in `__all__` (documented with a complete session in
``docs/api.md``)::

    import crossling
    enc = crossling.load_encoder("intfloat/multilingual-e5-small")
    corpus = crossling.align_pud("data/ud", ["en", "fr", "de"], n=1000)
    rows = crossling.cross_lingual_similarity(enc, corpus, "en", ["fr", "de"])

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
    from crossling.experiments.config import Study, load_study
    from crossling.experiments.workflows import StudyOutcome, run_study, study_report
    from crossling.models.encoder import Encoder, load_encoder
    from crossling.models.reinit import ReinitReport, ReinitSettings, reinit
    from crossling.probing.settings import ProbeSettings
    from crossling.report.data import ReportData, compute_report
    from crossling.report.settings import ReportSettings
    from crossling.report.write import build_report
    from crossling.results.io import read_rows_csv, read_rows_json, write_rows_csv
    from crossling.results.rows import (
        CrossLingualRow,
        LayerDifferenceRow,
        ModelModelRow,
        ProbeRow,
        RetrievalRow,
        ScoreRow,
        SeedSeedRow,
        SimilarityRow,
        WeightChangeRow,
    )
    from crossling.retrieval.rows import cross_lingual_retrieval
    from crossling.retrieval.settings import RetrievalSettings
    from crossling.similarity.measures.registry import REGISTRY as MEASURES
    from crossling.similarity.measures.registry import Measure, get_measure
    from crossling.similarity.pipeline import cross_lingual_similarity, model_similarity
    from crossling.similarity.settings import SimilaritySettings
    from crossling.training.loop import TrainConfig
    from crossling.workflows.finetune import FinetuneSettings, finetune
    from crossling.workflows.probe import probe
    from crossling.workflows.retrieval import run_retrieval
    from crossling.workflows.similarity import run_similarity

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
    "run_similarity": ("crossling.workflows.similarity", "run_similarity"),
    "SimilaritySettings": ("crossling.similarity.settings", "SimilaritySettings"),
    # retrieval
    "cross_lingual_retrieval": ("crossling.retrieval.rows", "cross_lingual_retrieval"),
    "run_retrieval": ("crossling.workflows.retrieval", "run_retrieval"),
    "RetrievalSettings": ("crossling.retrieval.settings", "RetrievalSettings"),
    "MEASURES": ("crossling.similarity.measures.registry", "REGISTRY"),
    "Measure": ("crossling.similarity.measures.registry", "Measure"),
    "get_measure": ("crossling.similarity.measures.registry", "get_measure"),
    # layer-wise probing (frozen encoder, linear UPOS probe per layer, zero-shot transfer)
    "probe": ("crossling.workflows.probe", "probe"),
    "ProbeSettings": ("crossling.probing.settings", "ProbeSettings"),
    # fine-tuning
    "finetune": ("crossling.workflows.finetune", "finetune"),
    "FinetuneSettings": ("crossling.workflows.finetune", "FinetuneSettings"),
    "TrainConfig": ("crossling.training.loop", "TrainConfig"),
    # studies
    "load_study": ("crossling.experiments.config", "load_study"),
    "Study": ("crossling.experiments.config", "Study"),
    "run_study": ("crossling.experiments.workflows", "run_study"),
    "StudyOutcome": ("crossling.experiments.workflows", "StudyOutcome"),
    "study_report": ("crossling.experiments.workflows", "study_report"),
    # results and reports
    "ScoreRow": ("crossling.results.rows", "ScoreRow"),
    "ProbeRow": ("crossling.results.rows", "ProbeRow"),
    "SimilarityRow": ("crossling.results.rows", "SimilarityRow"),
    "CrossLingualRow": ("crossling.results.rows", "CrossLingualRow"),
    "ModelModelRow": ("crossling.results.rows", "ModelModelRow"),
    "SeedSeedRow": ("crossling.results.rows", "SeedSeedRow"),
    "LayerDifferenceRow": ("crossling.results.rows", "LayerDifferenceRow"),
    "RetrievalRow": ("crossling.results.rows", "RetrievalRow"),
    "WeightChangeRow": ("crossling.results.rows", "WeightChangeRow"),
    "read_rows_csv": ("crossling.results.io", "read_rows_csv"),
    "read_rows_json": ("crossling.results.io", "read_rows_json"),
    "write_rows_csv": ("crossling.results.io", "write_rows_csv"),
    "compute_report": ("crossling.report.data", "compute_report"),
    "ReportData": ("crossling.report.data", "ReportData"),
    "ReportSettings": ("crossling.report.settings", "ReportSettings"),
    "build_report": ("crossling.report.write", "build_report"),
    # errors: bad input raises one of these, with a one-line message naming file and line
    "CrosslingError": ("crossling.core.errors", "CrosslingError"),
    "ConfigError": ("crossling.core.errors", "ConfigError"),
    "DataError": ("crossling.core.errors", "DataError"),
    "ModelError": ("crossling.core.errors", "ModelError"),
}

__all__ = [
    "MEASURES",
    "ConfigError",
    "CrossLingualRow",
    "CrosslingError",
    "DataError",
    "Encoder",
    "FinetuneSettings",
    "LayerDifferenceRow",
    "Measure",
    "ModelError",
    "ModelModelRow",
    "ParallelCorpus",
    "ProbeRow",
    "ProbeSettings",
    "ReinitReport",
    "ReinitSettings",
    "ReportData",
    "ReportSettings",
    "RetrievalRow",
    "RetrievalSettings",
    "ScoreRow",
    "SeedSeedRow",
    "SimilarityRow",
    "SimilaritySettings",
    "Study",
    "StudyOutcome",
    "TrainConfig",
    "WeightChangeRow",
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
    "read_rows_json",
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
