"""Checks of settings every command and API function shares: seeds and counts.

Each raises a one-line :class:`~crossling.errors.SettingError` naming the setting, before any
data or model is read: a seed numpy cannot take (``-1``, ``2**40``) used to end in a traceback
once the model had loaded, and a count given as ``10.5`` or ``True`` through the Python API in
one deep inside the resampling code. Counts are integers (``numbers.Integral``: Python and
numpy integers), never floats or booleans.
"""

from __future__ import annotations

from numbers import Integral
from typing import Any

from crossling.errors import SettingError

SEED_MAX = 2**32 - 1
"""The largest seed every generator a run seeds accepts (``numpy.random.seed``)."""


def check_seed(value: Any, name: str = "seed") -> int:
    """``value`` as a seed in [0, :data:`SEED_MAX`], or a SettingError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, Integral) \
            or not 0 <= int(value) <= SEED_MAX:
        raise SettingError(name, f"must be an integer in [0, {SEED_MAX}], got {value!r}")
    return int(value)


def check_count(value: Any, name: str, low: int | None = 0,
                allow_none: bool = False) -> int | None:
    """``value`` as an integer >= ``low`` (any integer when ``low`` is None; None too when
    ``allow_none``), or a SettingError naming ``name``."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, Integral) or \
            (low is not None and int(value) < low):
        bound = "" if low is None else f" >= {low}"
        none = " (or None)" if allow_none else ""
        raise SettingError(name, f"must be an integer{bound}{none}, got {value!r}")
    return int(value)


_POSITIVE = ("batch_tokens", "k")
"""Counts that must be at least 1 (the others, resample counts, may be 0: none)."""


def check_api_settings(seed: Any, n: Any, n_option: str = "n", n_low: int | None = None,
                       **counts: Any) -> None:
    """The seed, the sentence count ``n`` (None: all; named ``n_option``; an integer, at least
    ``n_low`` when given, else its bound is the caller's own check) and every count of
    ``counts`` (resamples >= 0, ``batch_tokens`` and ``k`` >= 1) of a similarity or retrieval
    call, checked before its data or model is read."""
    check_seed(seed)
    check_count(n, n_option, n_low, allow_none=True)
    for name, value in counts.items():
        check_count(value, name, 1 if name in _POSITIVE else 0)
