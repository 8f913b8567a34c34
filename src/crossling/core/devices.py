"""The one place crossling chooses and validates a compute device.

Everything that puts a tensor or a model somewhere (loading an encoder, the training loop, the
similarity measures, provenance) calls `pick_device`, so a device name means the same everywhere
and a bad one fails once, early, in one line. It needs only torch, so every layer may use it.
"""

from __future__ import annotations

import torch

from crossling.core.errors import SettingError


def pick_device(device: str | None = None) -> torch.device:
    """``device`` if given, else the first CUDA GPU when there is one, else the CPU.

    A given device is validated here, before any model is loaded: a string torch cannot parse,
    a device type crossling does not run on, or a GPU this machine does not have is a
    SettingError naming ``device`` (the CLI renames it to its flag).
    """
    if not device:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise _bad(device, "not a torch device (use cpu, cuda, cuda:N or mps)") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise _bad(device, f"CUDA is not available on this machine (torch "
                               f"{torch.__version__}); use cpu")
        count = torch.cuda.device_count()
        if dev.index is not None and dev.index >= count:
            raise _bad(device, f"this machine has {count} CUDA device(s) "
                               f"(cuda:0..cuda:{count - 1})")
    elif dev.type == "mps":
        if not torch.backends.mps.is_available():
            raise _bad(device, "MPS is not available on this machine")
    elif dev.type != "cpu":
        raise _bad(device, f"unsupported device type {dev.type!r} (use cpu, cuda, cuda:N or mps)")
    return dev


def _bad(device: str, problem: str) -> SettingError:
    """``device 'bogus': <problem>``."""
    return SettingError("device", f"{device!r}: {problem}")
