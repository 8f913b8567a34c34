"""The one place crossling chooses and validates a compute device.

Everything that puts a tensor or a model somewhere (loading an encoder, the training loop, the
similarity measures, provenance's device description) calls :func:`pick_device`, so ``--device``
means the same everywhere and a bad value fails once, early, in one line. It sits at the bottom
of the package (it needs only torch and :mod:`crossling.core.errors`) so that every layer may
use it.
"""

from __future__ import annotations

import torch

from crossling.core.errors import ConfigError


def pick_device(device: str | None = None) -> torch.device:
    """``device`` if given, else the first CUDA GPU when there is one, else the CPU.

    A given device is validated here, before any model is loaded: a string torch cannot parse,
    a device type crossling does not run on, or a GPU this machine does not have is a one-line
    ConfigError naming ``--device`` (torch would otherwise fail deep inside ``model.to``).
    """
    if not device:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ConfigError(f"--device {device!r}: not a torch device (use cpu, cuda, cuda:N or "
                          "mps)") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"--device {device!r}: CUDA is not available on this machine "
                              f"(torch {torch.__version__}); use --device cpu")
        count = torch.cuda.device_count()
        if dev.index is not None and dev.index >= count:
            raise ConfigError(f"--device {device!r}: this machine has {count} CUDA device(s) "
                              f"(cuda:0..cuda:{count - 1})")
    elif dev.type == "mps":
        if not torch.backends.mps.is_available():
            raise ConfigError(f"--device {device!r}: MPS is not available on this machine")
    elif dev.type != "cpu":
        raise ConfigError(f"--device {device!r}: unsupported device type {dev.type!r} (use cpu, "
                          "cuda, cuda:N or mps)")
    return dev
