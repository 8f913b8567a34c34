"""Typed reading of a study file's mappings: every error names ``file: field.path``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from crossling.core.errors import ConfigError, SettingError
from crossling.core.settings import Settings

S = TypeVar("S", bound=Settings)


class Fields:
    """Reads a mapping with typed lookups; every error names ``file: path``."""

    def __init__(self, file: str, data: Any, where: str) -> None:
        if not isinstance(data, Mapping):
            raise ConfigError(f"{file}: {where or 'study'}: expected a mapping")
        self.file, self.data, self.where = file, dict(data), where
        self.used: set[str] = set()

    def path(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.file}: {self.path(key)}: {problem}")

    def failed(self, exc: SettingError) -> ConfigError:
        """A settings object's error (``exc.name`` a field of this mapping) at its path."""
        return self.fail(exc.name, exc.problem)

    def values(self, *keys: str) -> dict[str, Any]:
        """The values of ``keys`` this mapping sets, for a settings object (whose rules check
        them) to take; the others keep the object's defaults."""
        self.used.update(keys)
        return {k: self.data[k] for k in keys if k in self.data}

    def settings(self, cls: type[S], **values: Any) -> S:
        """``cls(**values)``; a broken rule is an error at the field's path."""
        try:
            return cls(**values)
        except SettingError as exc:
            raise self.failed(exc) from None

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
        self.used.add(key)
        if key not in self.data:
            if default is ...:
                raise self.fail(key, "missing")
            return default
        value = self.data[key]
        if value is None and default is None:
            return None
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (isinstance(value, bool) and kind in (int, float)):
            names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
            raise self.fail(key, f"expected {names}, got {type(value).__name__}")
        return value

    def unique(self, key: str, values: list[Any], ids: list[Any] | None = None) -> None:
        """Refuse a repeated entry (``ids``: what makes two entries the same, e.g. the file a
        language resolves to); a duplicate would silently repeat or collapse cells."""
        seen: dict[Any, int] = {}
        for i, ident in enumerate(values if ids is None else ids):
            if ident in seen:
                j = seen[ident]
                same = f"({values[i]!r})" if values[i] == values[j] else \
                    f"({values[i]!r} and {values[j]!r} are the same" + \
                    (f" file, {ident})" if isinstance(ident, Path) else ")")
                raise self.fail(f"{key}[{i}]", f"duplicate of {self.path(key)}[{j}] {same}")
            seen[ident] = i

    def strings(self, key: str, default: Any = ...) -> list[str]:
        value = self.get(key, (list, str), default)
        value = [value] if isinstance(value, str) else value
        if not all(isinstance(v, (str, int)) for v in value):
            raise self.fail(key, "expected a list of strings")
        return [str(v) for v in value]

    def sub(self, key: str) -> Fields:
        self.used.add(key)
        return Fields(self.file, self.data.get(key, {}), self.path(key))

    def finish(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise self.fail(unknown[0], f"unknown field (known: {', '.join(sorted(self.used))})")
