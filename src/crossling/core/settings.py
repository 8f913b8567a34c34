"""Frozen, validated settings objects: one rule per field, one error that names its origin.

A workflow's settings are a frozen dataclass deriving from `Settings`; each field's rule
is declared beside it (``lr: float = setting(1e-4, rule=positive)``) and applied when the object
is built, so the CLI, the study loader and the Python API share one check. A failed rule raises
`SettingError` with the field's name; the caller that knows where
the value came from renames it: the CLI to its flag (`as_flag`), a study file to the
field path (`Settings.from_mapping`). No lower layer needs to know either.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import MISSING, field, fields, replace
from numbers import Real
from pathlib import PurePath
from typing import Any, TypeVar

from crossling.core.checks import check_count, check_seed
from crossling.core.errors import SettingError

Rule = Callable[[str, Any], Any]
"""``rule(name, value)`` returns the value (normalised) or raises SettingError naming ``name``."""

S = TypeVar("S", bound="Settings")


def setting(default: Any = MISSING, *, rule: Rule | None = None,
            factory: Callable[[], Any] | None = None) -> Any:
    """A settings field with its rule (applied to the default too)."""
    meta = {"rule": rule}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


class Settings:
    """Base of the settings dataclasses: rules run at construction, then `check`."""

    def __post_init__(self) -> None:
        for f in fields(self):  # type: ignore[arg-type]
            rule = f.metadata.get("rule")
            if rule is not None:
                object.__setattr__(self, f.name, rule(f.name, getattr(self, f.name)))
        self.check()

    def check(self) -> None:
        """Rules between fields; raise SettingError naming the field to blame."""

    def replace(self: S, **changes: Any) -> S:
        """A copy with ``changes``, validated again."""
        return replace(self, **changes)  # type: ignore[type-var]

    @classmethod
    def from_mapping(cls: type[S], data: Mapping[str, Any], where: str = "",
                     **fixed: Any) -> S:
        """Build from a YAML mapping; an unknown or bad field is a SettingError named
        ``where.field`` (``tasks.pos.training.lr``). ``fixed`` adds fields the mapping may not
        set."""
        known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        for key in data:
            if key not in known or key in fixed:
                raise SettingError(_join(where, str(key)), "unknown field (valid: "
                                   + ", ".join(sorted(known - set(fixed))) + ")")
        try:
            return cls(**{**data, **fixed})
        except SettingError as exc:
            raise renamed(exc, _join(where, exc.name)) from None


def _join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def renamed(exc: SettingError, name: str) -> SettingError:
    """The same problem, said of ``name`` (a flag, a field path)."""
    return SettingError(name, exc.problem)


def as_flag(exc: SettingError, flags: Mapping[str, str] | None = None) -> SettingError:
    """``exc`` named by its command-line flag: ``flags[name]``, else ``--name-with-dashes``
    (a name that is already a flag stays as it is)."""
    if exc.name.startswith("-"):
        return exc
    flag = (flags or {}).get(exc.name, "--" + exc.name.replace("_", "-"))
    return renamed(exc, flag)


# --- rules -------------------------------------------------------------------------------------

def count(low: int = 0, high: int | None = None, *, optional: bool = False) -> Rule:
    """An integer in [low, high]; with ``optional``, None passes (meaning "all")."""
    def rule(name: str, value: Any) -> Any:
        if optional and value is None:
            return None
        return check_count(name, value, low, high)
    return rule


def number(low: float = -math.inf, high: float = math.inf, *, above: bool = False) -> Rule:
    """A finite real number in [low, high] (``above``: strictly above ``low``)."""
    def rule(name: str, value: Any) -> float:
        if not isinstance(value, Real) or isinstance(value, bool) or not math.isfinite(value):
            raise SettingError(name, f"must be a finite number, got {value!r}")
        v = float(value)
        if (v <= low if above else v < low) or v > high:
            bound = f"> {low:g}" if above and high == math.inf else \
                f">= {low:g}" if high == math.inf else f"in [{low:g}, {high:g}]"
            raise SettingError(name, f"must be {bound}, got {value!r}")
        return v
    return rule


positive = number(0.0, above=True)
"""A finite number > 0 (learning rates, norms)."""


def seed(name: str, value: Any) -> int:
    """A seed every generator accepts."""
    return check_seed(value, name)


def flag(name: str, value: Any) -> bool:
    """A bool, not a truthy string (``"false"`` would be True)."""
    if not isinstance(value, bool):
        raise SettingError(name, f"must be true or false, got {value!r}")
    return value


def text(what: str = "a name or a path") -> Rule:
    """A non-empty string (a ``Path`` is taken as its string): a name, spec or file path."""
    def rule(name: str, value: Any) -> str:
        if isinstance(value, PurePath):
            value = str(value)
        if not isinstance(value, str) or not value.strip():
            raise SettingError(name, f"must be {what}, got {value!r}")
        return value
    return rule


def optional_flag(name: str, value: Any) -> bool | None:
    """None (decided later, e.g. by the device) or a bool."""
    return None if value is None else flag(name, value)


def device_name(name: str, value: Any) -> str | None:
    """None (the default device) or a device's name, checked against the machine at use."""
    if value is not None and not isinstance(value, str):
        raise SettingError(name, f"must be a device name, got {value!r}")
    return value


def device(name: str, value: Any) -> str | None:
    """None or a torch device this machine has (`core.devices.pick_device`), as text."""
    if value is None:
        return None
    if not isinstance(value, str) and type(value).__name__ != "device":
        raise SettingError(name, f"must be a torch device name, got {value!r}")
    from crossling.core.devices import pick_device  # torch: only when a device is named

    pick_device(str(value))
    return str(value)


def one_of(choices: Sequence[str]) -> Rule:
    """One of ``choices``."""
    def rule(name: str, value: Any) -> Any:
        if value not in choices:
            raise SettingError(name, f"must be one of {', '.join(map(str, choices))}, "
                                     f"got {value!r}")
        return value
    return rule


def distinct(item: Rule | None = None, *, empty: bool = False) -> Rule:
    """A list (stored as a tuple) with no value twice, each passing ``item``; empty only with
    ``empty`` (an empty list of languages or seeds would silently drop work)."""
    def rule(name: str, value: Any) -> tuple[Any, ...]:
        if isinstance(value, str | bytes) or not isinstance(value, Sequence):
            raise SettingError(name, f"must be a list, got {value!r}")
        if not value and not empty:
            raise SettingError(name, "must not be empty")
        seen: set[Any] = set()
        out = []
        for i, v in enumerate(value):
            v = item(f"{name}[{i}]", v) if item is not None else v
            if v in seen:
                raise SettingError(name, f"{v!r} is given twice")
            seen.add(v)
            out.append(v)
        return tuple(out)
    return rule
