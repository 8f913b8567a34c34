"""A model name that cannot be loaded, said at once instead of after a minute of Hub retries.

A mistyped folder that looks like a Hub id is looked up on the Hub (offline: ~50 s of retries,
then a message about the connection). `check_model_name` says before anything loads: a path that
is no folder (``<name>: no such model folder``), or a Hub id missing from the local cache when
offline mode is set or the Hub does not answer within `CONNECT_TIMEOUT_S` (a proxy decides
itself).
"""

from __future__ import annotations

import os
import re
import socket
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlparse

from crossling.core.errors import ModelError

CONNECT_TIMEOUT_S = 2.0
"""How long the Hub's host may take to accept a connection before it counts as unreachable."""

_TRUE = {"1", "on", "yes", "true"}
_PROXIES = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "HTTP_PROXY", "http_proxy")


def looks_like_path(name: str) -> bool:
    """True when ``name`` can only be meant as a local path: it starts with ``.``, ``/`` or
    ``~``, ends with a separator, has a drive letter, a backslash separator, more than the
    one ``/`` of a Hub id (``org/name``), or its parent is an existing local folder
    (``models/e5-smal`` beside a ``models`` folder)."""
    seps = ("/", os.sep, *((os.altsep,) if os.altsep else ()))
    return (name.startswith((".", "~", *seps)) or name.endswith(seps)
            or re.match(r"^[A-Za-z]:[\\/]", name) is not None
            or (os.sep != "/" and os.sep in name) or name.count("/") > 1
            or ("/" in name and Path(name).parent.is_dir()))


def _offline() -> bool:
    return any(os.environ.get(k, "").strip().lower() in _TRUE
               for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def _cached(name: str) -> bool | None:
    """Whether the Hub id ``name`` has a cached config; None when it is not a valid Hub id."""
    from huggingface_hub import try_to_load_from_cache
    from huggingface_hub.errors import HFValidationError

    try:
        found = try_to_load_from_cache(name, "config.json")
    except HFValidationError:
        return None
    return isinstance(found, str)


@lru_cache(maxsize=4)
def _reachable(endpoint: str) -> bool:
    """Whether ``endpoint``'s host accepts a TCP connection within `CONNECT_TIMEOUT_S`."""
    url = urlparse(endpoint)
    if not url.hostname:
        return True  # not a URL we can check: let the Hub client decide
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname, port), timeout=CONNECT_TIMEOUT_S):
            return True
    except OSError:
        return False


def check_model_name(name: str, hub: bool = True) -> None:
    """Raise a one-line `ModelError` when ``name`` can be known not to load (see the
    module docstring); ``hub=False`` checks local paths only (no cache or network look-up)."""
    local = Path(os.path.expanduser(name))
    if local.is_dir():
        return
    if local.exists():
        raise ModelError(f"{name}: a file, not a model folder")
    if looks_like_path(name):
        raise ModelError(f"{name}: no such model folder")
    if not hub:
        return
    cached = _cached(name)
    if cached is None:
        raise ModelError(f"{name}: no such model folder (nor a valid Hugging Face model id)")
    if cached:
        return
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    if _offline():
        raise ModelError(f"{name}: no such local model folder, and not in the Hugging Face "
                         "cache (offline mode: HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE is set)")
    if not any(os.environ.get(k) for k in _PROXIES) and not _reachable(endpoint):
        raise ModelError(f"{name}: no such local model folder, not in the Hugging Face cache, "
                         f"and {endpoint} cannot be reached")
