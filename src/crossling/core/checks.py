"""Checks of the settings every command and API function shares: seeds and counts.

Each raises a one-line `SettingError` naming the setting, before any
data or model is read. Counts are integers (``numbers.Integral``: Python and NumPy integers),
never floats, booleans or strings: ``n_boot=10.5`` or a seed numpy cannot take (``-1``,
``2**40``) would otherwise end in a traceback deep inside the run.
"""

from __future__ import annotations

from numbers import Integral
from typing import Any

import numpy as np

from crossling.core.errors import SettingError

SEED_MAX = 2**32 - 1
"""The largest seed every generator a run seeds accepts (``numpy.random.seed``)."""


def _is_integer(value: Any) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool | np.bool_)


def check_integer(name: str, value: Any) -> int:
    """``value`` as an int, or a SettingError naming ``name``; the range is the caller's."""
    if not _is_integer(value):
        raise SettingError(name, f"must be an integer, got {value!r}")
    return int(value)


def check_count(name: str, value: Any, low: int = 0, high: int | None = None) -> int:
    """``value`` as an int in [low, high], or a SettingError naming ``name``."""
    if not _is_integer(value):
        raise SettingError(name, f"must be an integer >= {low}, got {value!r}")
    out = int(value)
    if out < low or (high is not None and out > high):
        bound = f"in [{low}, {high}]" if high is not None else "> 0" if low == 1 \
            else f">= {low}"
        raise SettingError(name, f"must be {bound}, got {out}", f"{name} = {out}: must be {bound}")
    return out


def check_seed(value: Any, name: str = "seed") -> int:
    """``value`` as a seed in [0, `SEED_MAX`], or a SettingError naming ``name``."""
    if not _is_integer(value) or not 0 <= int(value) <= SEED_MAX:
        raise SettingError(name, f"must be an integer in [0, {SEED_MAX}], got {value!r}")
    return int(value)
