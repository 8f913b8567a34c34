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
