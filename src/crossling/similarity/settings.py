"""The settings of a similarity analysis, validated once for the CLI, a study and the API.

Each field carries its rule (`crossling.core.settings`); a bad value is a SettingError
naming the field, which the CLI renames to its flag and a study to its field path. What needs
the data (languages present, enough aligned sentences, memory for the resamples) is checked by
the pipeline once the corpus is known.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crossling.core.errors import ConfigError, SettingError
from crossling.core.precision import DEFAULT_PRECISION, precision
from crossling.core.settings import (
    Settings,
    count,
    device,
    distinct,
    flag,
    one_of,
    seed,
    setting,
)
from crossling.similarity.checks import as_layers, as_names
from crossling.similarity.extract import BATCH_TOKENS
from crossling.similarity.measures import get_measure, min_sentences, neediest
from crossling.similarity.pooling import POOLINGS
from crossling.similarity.uncertainty import DEFAULT_MEASURES, Resampling


def names(name: str, value: Any) -> tuple[str, ...]:
    """Names of languages (a bare string is one name; None: none), none twice."""
    return distinct(empty=True)(name, as_names(value, name) or [])


def _measures(name: str, value: Any) -> tuple[str, ...]:
    """Registered measure ids (a bare string is one), at least one, none twice."""
    ids: tuple[str, ...] = distinct()(name, as_names(value, name))
    for v in ids:
        try:
            get_measure(v)
        except ConfigError as exc:
            raise SettingError(name, f"holds an {exc}") from None
    return ids


def _layers(name: str, value: Any) -> tuple[int, ...] | None:
    """Layer numbers (a bare integer is one layer), or None for all; the range needs the model."""
    layers = as_layers(value, name)
    return None if layers is None else tuple(layers)


@dataclass(frozen=True)
class SimilaritySettings(Settings):
    """How to measure similarity: measures, pooling, sentences, resamples, layers, forward pass.

    ``n``: the first n aligned sentences (None: all), read by
    `run_similarity`; the pipeline functions take their
    corpus as given. ``layers`` None: every hidden state. ``max_length`` None: the model's
    positions, at most 512. ``device`` runs the model and the measures (None: the encoder's
    device, CUDA if available when a model is loaded). ``precision``: of the forward passes
    (`crossling.core.precision`; ``auto``: bf16 where the device computes it natively).
    ``layer_difference``: also a peak-minus-top row per target and measure.
    """

    measures: tuple[str, ...] = setting(DEFAULT_MEASURES, rule=_measures)
    pooling: str = setting("mean", rule=one_of(sorted(POOLINGS)))
    n: int | None = setting(None, rule=count(1, optional=True))
    n_boot: int = setting(200, rule=count(0))
    n_null: int = setting(100, rule=count(0))
    seed: int = setting(0, rule=seed)
    layers: tuple[int, ...] | None = setting(None, rule=_layers)
    max_length: int | None = setting(None, rule=count(3, optional=True))
    batch_tokens: int = setting(BATCH_TOKENS, rule=count(1))
    device: str | None = setting(None, rule=device)
    precision: str = setting(DEFAULT_PRECISION, rule=precision)
    layer_difference: bool = setting(False, rule=flag)
    progress: bool = setting(True, rule=flag)

    def check(self) -> None:
        need = min_sentences(self.measures)
        if self.n is not None and self.n < need:
            raise SettingError("n", f"{self.n}: {neediest(self.measures).id} needs at least "
                                    f"{need} parallel sentences")

    def resampling(self, device: Any = None, keep_resamples: bool = False) -> Resampling:
        """The bootstrap and null settings of `
        estimate`, the measures run on ``device``."""
        return Resampling(self.n_boot, self.n_null, self.seed, device, keep_resamples)
