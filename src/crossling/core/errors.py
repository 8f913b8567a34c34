"""Error types whose message is one line a user can act on.

Every error caused by bad input names the file, the line (when there is one) and the problem,
so that ``crossling`` can print ``error: <message>`` and exit without a traceback.
"""

from __future__ import annotations

from pathlib import Path


class CrosslingError(Exception):
    """Base class: an expected failure caused by input or configuration, not a bug."""


class DataError(CrosslingError):
    """Malformed or inconsistent input data, located at ``path:line``."""

    def __init__(self, path: str | Path, line: int | None, problem: str) -> None:
        self.path = str(path)
        self.line = line
        self.problem = problem
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {problem}")


class ModelError(CrosslingError):
    """A model that cannot be used for the requested analysis (e.g. no ``encoder.layer``)."""


class ConfigError(CrosslingError):
    """An invalid option: unknown language, layer, metric, pooling, task or study field."""


class DivergenceError(CrosslingError):
    """Training or evaluation met a non-finite number (a NaN or infinite loss, gradient norm,
    weight or model output): the run failed, and nothing of it is kept as finished."""


class SettingError(ConfigError):
    """A setting outside its valid range or of the wrong type: ``name`` is the setting and
    ``problem`` what is wrong, so that a caller knowing where the setting came from (a study
    file's field path) can say so in its own one-line message."""

    def __init__(self, name: str, problem: str, message: str | None = None) -> None:
        self.name = name
        self.problem = problem
        super().__init__(message or f"{name} {problem}")
