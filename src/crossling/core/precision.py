"""The numeric precision of forward passes: one setting, resolved once per device.

``fp32``, ``bf16``, ``fp16`` or ``auto`` (``float32``, ``bfloat16``, ``float16`` are the same
values spelled as torch dtypes); the default is fp32 (`DEFAULT_PRECISION`). ``auto`` is bf16
where the hardware computes it natively (a CUDA GPU with bf16 support; a CPU with
``avx512_bf16`` or ``amx_bf16`` units) and fp32 elsewhere: emulated bf16 is slower than fp32.
A resolved precision is what results record and what cell keys hash (docs/precision.md). It
needs only torch, so every layer may use it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from crossling.core.errors import SettingError

log = logging.getLogger(__name__)

DEFAULT_PRECISION = "fp32"
"""The default of every precision setting: ``auto`` is asked for, not assumed, until the
equality checks of docs/precision.md have been run on hardware with native bf16 (with ``auto``
as the default, the same study would give other numbers and keys on such a machine)."""

PRECISIONS = ("fp32", "bf16", "fp16", "auto")
"""The accepted values, in the order help texts list them."""

ALIASES = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16"}
"""The torch-dtype spellings (``--dtype``) of the same values."""

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
"""The torch dtype of each resolved precision."""

NAMES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}
"""What provenance calls each resolved precision (``extraction_precision``)."""

BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
"""CPU flags (``/proc/cpuinfo``) of native bf16 arithmetic."""


def precision(name: str, value: Any) -> str:
    """The rule of a precision field: one of `PRECISIONS` or an alias, as its short name."""
    if isinstance(value, str):
        short = ALIASES.get(value.lower(), value.lower())
        if short in PRECISIONS:
            return short
    raise SettingError(name, f"must be one of {', '.join(PRECISIONS)} (or "
                             f"{', '.join(ALIASES)}), got {value!r}")


def cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> set[str] | None:
    """The CPU's feature flags from ``cpuinfo``; None where the file is absent or says none."""
    try:
        text = Path(cpuinfo).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return set(value.split())
    return None


def cpu_has_bf16(flags: set[str] | None = None) -> bool:
    """Whether the CPU has bf16 units: `BF16_CPU_FLAGS` in ``flags`` (default: `cpu_flags`),
    else what torch's own CPU probe says (where there is no ``/proc/cpuinfo``)."""
    flags = cpu_flags() if flags is None else flags
    if flags is not None:
        return any(f in flags for f in BF16_CPU_FLAGS)
    probe = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
    amx = getattr(torch.cpu, "_is_amx_tile_supported", None)
    return bool((probe is not None and probe()) or (amx is not None and amx()))


def cuda_has_bf16(device: torch.device) -> bool:
    """Whether the CUDA device computes bf16 natively (Ampere or later)."""
    if not torch.cuda.is_available():
        return False
    return bool(torch.cuda.get_device_capability(device)[0] >= 8)


def resolve_precision(value: str, device: torch.device | str,
                      flags: set[str] | None = None) -> str:
    """``fp32``, ``bf16`` or ``fp16`` for ``value`` on ``device``: itself unless ``auto``
    (`cuda_has_bf16` / `cpu_has_bf16`, ``flags`` standing for the CPU's); the choice made
    for ``auto`` is logged once per device."""
    value = precision("precision", value)
    if value != "auto":
        return value
    dev = torch.device(device)
    if dev.type == "cuda":
        chosen, why = ("bf16", "the GPU has bf16") if cuda_has_bf16(dev) else \
            ("fp32", "the GPU has no native bf16")
    elif dev.type == "cpu":
        chosen, why = ("bf16", "the CPU has bf16 units") if cpu_has_bf16(flags) else \
            ("fp32", f"the CPU has none of {', '.join(BF16_CPU_FLAGS)}")
    else:
        chosen, why = "fp32", f"no bf16 choice on {dev.type}"
    _announce(dev, chosen, why)
    return chosen


_ANNOUNCED: set[tuple[str, str]] = set()


def _announce(device: torch.device, chosen: str, why: str) -> None:
    key = (str(device), chosen)
    if key not in _ANNOUNCED:
        _ANNOUNCED.add(key)
        log.info("precision auto: %s on %s (%s)", chosen, device, why)


def torch_dtype(resolved: str) -> torch.dtype:
    """The torch dtype of a resolved precision (``auto`` must be resolved first)."""
    if resolved not in DTYPES:
        raise ValueError(f"precision {resolved!r} is not resolved (fp32, bf16 or fp16)")
    return DTYPES[resolved]
