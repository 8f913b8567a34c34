"""Similarity measures: the registry and one module per family, each registering its measures.

Importing this package imports every family, so `REGISTRY` is full in display order
(headline first). Adding a measure is one module (or function) and one `register` call.
"""

# the families, in display order (cca imports cka, whose headline measure registers first)
from crossling.similarity.measures import cca, cka, geometry
from crossling.similarity.measures.registry import (
    CI_BAND,
    CI_KIND,
    HEADLINE_MEASURE,
    INVARIANCES,
    NO_BAND,
    NO_INTERVAL,
    REGISTRY,
    SPREAD_BAND,
    SPREAD_KIND,
    GramForm,
    Measure,
    MeasureFn,
    PermutedForm,
    get_measure,
    get_measures,
    interval_kind,
    measure_ids,
    min_sentences,
    neediest,
    no_interval,
    register,
    resample_counts,
)

__all__ = ["CI_BAND", "CI_KIND", "HEADLINE_MEASURE", "INVARIANCES", "NO_BAND", "NO_INTERVAL",
           "REGISTRY", "SPREAD_BAND", "SPREAD_KIND", "GramForm", "Measure", "MeasureFn",
           "PermutedForm", "cca", "cka", "geometry", "get_measure", "get_measures",
           "interval_kind", "measure_ids", "min_sentences", "neediest", "no_interval",
           "register", "resample_counts"]
