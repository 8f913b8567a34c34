"""Cache files that carry their own SHA-256, checked on every read.

A cache is only worth its speed if a damaged entry cannot pass for a good one: one flipped bit
in a vector cache changes a CKA without a word. Every crossling cache is written here with a
SHA-256 of its
content *inside* the file (one atomic write, so the file and its checksum cannot disagree after
a crash), and read back only when the checksum matches. Anything else -- a mismatch, no
checksum, a truncated or unparsable file -- reads as "not cached": the caller recomputes and
rewrites the entry, and a warning names the file and the reason.

Two formats, one rule:

- tensors (safetensors): the digest covers every tensor's name, dtype, shape and raw bytes in
  name order (`tensors_digest`) and is stored in the file's metadata under ``sha256``;
- text (JSON and the like): the first line is ``sha256:<hex>``, the digest of the rest.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from pathlib import Path

import torch

from crossling.core.atomic import atomic_path, write_text

log = logging.getLogger(__name__)

DIGEST_KEY = "sha256"
"""Metadata entry of a tensor cache file that holds its content digest."""

_TEXT_HEAD = "sha256:"


class CacheDamaged(Exception):
    """A cache entry that cannot be trusted (its reason is the message)."""


def _update(digest: hashlib._Hash, name: str, tensor: torch.Tensor) -> None:
    flat = tensor.detach().reshape(-1).to("cpu").contiguous()
    digest.update(f"{name}:{flat.dtype}:{tuple(tensor.shape)}\0".encode())
    digest.update(flat.view(torch.uint8).numpy().data)


def tensors_digest(tensors: Mapping[str, torch.Tensor]) -> str:
    """SHA-256 (hex) of every tensor's name, dtype, shape and bytes, in name order."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        _update(digest, name, tensors[name])
    return digest.hexdigest()


def save_tensors(path: str | Path, tensors: Mapping[str, torch.Tensor],
                 metadata: Mapping[str, str] | None = None) -> Path:
    """Write ``tensors`` atomically as safetensors, their digest in the metadata."""
    from safetensors.torch import save_file

    plain = {k: v.contiguous() for k, v in tensors.items()}
    meta = {**(metadata or {}), DIGEST_KEY: tensors_digest(plain)}
    with atomic_path(path) as tmp:
        save_file(plain, str(tmp), metadata=meta)
    return Path(path)


def _read_errors() -> tuple[type[BaseException], ...]:
    from safetensors import SafetensorError

    return (OSError, ValueError, RuntimeError, SafetensorError)


def _unreadable(exc: BaseException) -> CacheDamaged:
    return CacheDamaged(f"unreadable: {str(exc).splitlines()[0] if str(exc) else exc!r}")


def _compare(stored: str | None, digest: str) -> None:
    if stored is None:
        raise CacheDamaged("no checksum")
    if digest != stored:
        raise CacheDamaged("checksum mismatch")


def verify_tensors(path: str | Path) -> list[str]:
    """The tensor names of the safetensors file ``path`` after checking its digest.

    Reads one tensor at a time (a word-vector file can be larger than memory should hold).
    Raises `CacheDamaged` when the file has no digest, another one, or cannot be read.
    """
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as fh:
            stored = (fh.metadata() or {}).get(DIGEST_KEY)
            if stored is None:  # before reading the tensors: nothing to compare them with
                raise CacheDamaged("no checksum")
            names = sorted(fh.keys())
            digest = hashlib.sha256()
            for name in names:
                _update(digest, name, fh.get_tensor(name))
    except _read_errors() as exc:
        raise _unreadable(exc) from None
    _compare(stored, digest.hexdigest())
    return names


def load_tensors(path: str | Path) -> dict[str, torch.Tensor]:
    """All tensors of ``path`` after checking their digest (`CacheDamaged` if not)."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as fh:
            stored = (fh.metadata() or {}).get(DIGEST_KEY)
            tensors = {name: fh.get_tensor(name) for name in fh.keys()}  # noqa: SIM118
    except _read_errors() as exc:
        raise _unreadable(exc) from None
    _compare(stored, tensors_digest(tensors))
    return tensors


def save_text(path: str | Path, text: str) -> Path:
    """Write ``text`` atomically after a ``sha256:<hex>`` first line covering it."""
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return write_text(path, f"{_TEXT_HEAD}{digest}\n{text}")


def load_text(path: str | Path) -> str:
    """The text saved by `save_text` at ``path``, after checking its digest."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise CacheDamaged(f"unreadable: {exc.strerror or exc}") from None
    head, sep, body = raw.partition(b"\n")
    stored = head[len(_TEXT_HEAD):].decode("ascii", "replace") \
        if sep and head.startswith(_TEXT_HEAD.encode()) else None
    _compare(stored, hashlib.sha256(body).hexdigest())
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CacheDamaged(f"unreadable: {exc}") from None


def warn_recompute(path: str | Path, reason: object) -> None:
    """The one warning line every cache logs when it drops a damaged entry."""
    log.warning("%s: damaged cache entry (%s); recomputing it", path, reason)
