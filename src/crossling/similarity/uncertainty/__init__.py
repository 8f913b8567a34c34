"""Uncertainty of every similarity value: a bootstrap interval, a shuffled-pairs null, and the
paired bootstrap of a layer difference.

Split by concern: the shared resamples and their cost (``resampling``), the estimate of each
measure (``estimate``), the fast kernel forms it uses (``kernels``), and layer differences
(``layers``). The permuted stacks the nulls and the geometry measures share are
`crossling.similarity.permuted`.
"""

from crossling.similarity.uncertainty.estimate import (
    DEFAULT_MEASURES,
    Estimate,
    estimate,
    estimate_targets,
    sharing_groups,
)
from crossling.similarity.uncertainty.layers import PAIRED, LayerDifference, layer_difference
from crossling.similarity.uncertainty.resampling import (
    Resampling,
    bootstrap_multiplicities,
    check_resample_memory,
    check_resampling,
)

__all__ = ["DEFAULT_MEASURES", "PAIRED", "Estimate", "LayerDifference", "Resampling",
           "bootstrap_multiplicities", "check_resample_memory", "check_resampling", "estimate",
           "estimate_targets", "layer_difference", "sharing_groups"]
