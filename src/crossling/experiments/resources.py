"""What a cell of each kind asks the cluster for: CPUs, GPUs, memory, custom Ray resources.

A study sets them per kind (``resources.<kind>.cpus`` ...); a field it leaves out takes the
kind's default from `DEFAULTS`, shrunk to fit the largest node, and a GPU only where the
cluster has one. A value the study sets is never shrunk: one no node can give is a one-line
error naming the field. Resources are execution settings, not part of a cell's key.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from numbers import Real
from typing import Any

from crossling.core.errors import ConfigError, SettingError
from crossling.core.settings import Settings, setting

GIB = 1024**3


def _optional(low: float, above: bool) -> Any:
    def rule(name: str, value: Any) -> float | None:
        if value is None:
            return None
        if not isinstance(value, Real) or isinstance(value, bool) or not math.isfinite(value):
            raise SettingError(name, f"must be a finite number, got {value!r}")
        if value < low or (above and value == low):
            raise SettingError(name, f"must be {'>' if above else '>='} {low:g}, got {value!r}")
        return float(value)
    return rule


def _custom(name: str, value: Any) -> dict[str, float]:
    if not isinstance(value, Mapping):
        raise SettingError(name, f"expected a mapping of resource names to amounts, got "
                                 f"{type(value).__name__}")
    out = {}
    for key, amount in value.items():
        if key in ("CPU", "GPU", "memory"):
            raise SettingError(f"{name}.{key}", "set cpus, gpus or memory_gb instead")
        got = _optional(0.0, above=True)(f"{name}.{key}", amount)
        if got is None:
            raise SettingError(f"{name}.{key}", "missing amount")
        out[str(key)] = got
    return out


@dataclass(frozen=True)
class Resources(Settings):
    """One kind's request per cell; None: the kind's default."""

    cpus: float | None = setting(None, rule=_optional(0.0, above=True))
    gpus: float | None = setting(None, rule=_optional(0.0, above=False))
    memory_gb: float | None = setting(None, rule=_optional(0.0, above=True))
    custom: dict[str, float] = setting(factory=dict, rule=_custom)  # noqa: RUF009 (a field)
    """Custom Ray resources (a node label such as ``{node_a: 0.01}`` pins cells to nodes)."""


DEFAULTS: dict[str, Resources] = {
    # a GPU each where the cluster has them; CPUs for tokenising, data loading and (without a
    # GPU) the forward passes; memory for the model, its optimiser and the pooled vectors
    "finetune": Resources(cpus=4, gpus=1, memory_gb=12),
    "similarity": Resources(cpus=4, gpus=1, memory_gb=16),  # 19 languages x 13 layers x n
    "similarity_ft": Resources(cpus=4, gpus=1, memory_gb=8),
    "similarity_seeds": Resources(cpus=4, gpus=1, memory_gb=8),
    "retrieval": Resources(cpus=2, gpus=1, memory_gb=8),
    "probe": Resources(cpus=4, gpus=1, memory_gb=12),
}
OTHER = Resources(cpus=1, gpus=1)
"""A kind without an entry above (e.g. one a test registers)."""


@dataclass(frozen=True)
class ClusterShape:
    """The cluster's total resources and the largest amount of each on one node."""

    total: dict[str, float]
    largest: dict[str, float] = field(default_factory=dict)


def _fits(kind: str, what: str, asked: float, have: float, unit: str = "") -> None:
    if asked > have + 1e-9:
        raise ConfigError(f"resources.{kind}.{what}: {asked:g}{unit} per cell, but no node of "
                          f"the cluster has more than {have:g}{unit}")


def ray_request(kind: str, spec: Resources | None, cluster: ClusterShape) -> dict[str, Any]:
    """Ray task options (``num_cpus``, ``num_gpus``, ``memory``, ``resources``) for a cell of
    ``kind``: the study's values (checked against the largest node), else the defaults."""
    spec = spec or Resources()
    base = DEFAULTS.get(kind, OTHER)
    big = cluster.largest
    if spec.gpus is not None:
        _fits(kind, "gpus", spec.gpus, big.get("GPU", 0.0))
        gpus = spec.gpus
    else:
        gpus = min(base.gpus or 0.0, 1.0) if big.get("GPU", 0.0) >= 1 else 0.0
    if spec.cpus is not None:
        _fits(kind, "cpus", spec.cpus, big.get("CPU", 0.0))
        cpus = spec.cpus
    else:
        cpus = min(base.cpus or 1.0, max(big.get("CPU", 1.0), 0.0))
    out: dict[str, Any] = {"num_cpus": cpus, "num_gpus": gpus}
    memory = spec.memory_gb
    if memory is not None:
        _fits(kind, "memory_gb", memory, big.get("memory", 0.0) / GIB, " GiB")
    elif base.memory_gb is not None and big.get("memory"):
        memory = min(base.memory_gb, big["memory"] / GIB / 2)  # leave room for a second cell
    if memory:
        out["memory"] = int(memory * GIB)
    for name, amount in spec.custom.items():
        _fits(kind, f"custom.{name}", amount, big.get(name, 0.0))
    if spec.custom:
        out["resources"] = dict(spec.custom)
    return out


def threads_of(request: Mapping[str, Any]) -> int:
    """The torch threads of a cell given ``request``'s CPUs (at least one)."""
    return max(1, math.floor(float(request.get("num_cpus", 1)) + 1e-9))
