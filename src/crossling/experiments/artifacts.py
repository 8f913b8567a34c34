"""An artifact store every node reaches, so cells need no shared disk.

A cell's outputs that later cells read (a fine-tuning cell's ``encoder`` folder) are uploaded
after the cell finishes, to ``<url>/<cell key>/<name>/``, followed by a manifest
``<url>/<cell key>/<name>.json`` listing every file and its size: an upload cut short (the
worker killed) has no manifest and counts as absent. A dependent cell downloads them into its
own node's work folder, beside its own folder (where the cell's runner looks), into a temporary
folder renamed when complete. ``url`` is any fsspec URL (``s3://``, ``gs://``, ``file://``; the
protocol's package, e.g. ``s3fs``, installed on every node) or a local path.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from crossling.core.errors import ConfigError


def check_url(url: str) -> None:
    """Refuse, in one line, a URL whose protocol fsspec does not know or cannot load."""
    import fsspec

    protocol = fsspec.core.split_protocol(url)[0] or "file"
    try:
        fsspec.get_filesystem_class(protocol)
    except ValueError:
        raise ConfigError(f"artifacts: {url}: unknown protocol {protocol!r}") from None
    except ImportError as exc:
        raise ConfigError(f"artifacts: {url}: the {protocol}:// file system needs a package "
                          f"that is not installed ({exc})") from None


class ArtifactStore:
    """Folders of finished cells, by cell key and name, under an fsspec URL."""

    def __init__(self, url: str) -> None:
        import fsspec

        check_url(url)
        self.url = url
        self.fs: Any
        self.fs, root = fsspec.core.url_to_fs(url)
        self.root = str(root).rstrip("/")

    def _path(self, *parts: str) -> str:
        return "/".join([self.root, *parts])

    def has(self, key: str, name: str) -> bool:
        """The artifact was uploaded completely."""
        return bool(self.fs.exists(self._path(key, f"{name}.json")))

    def put(self, key: str, name: str, folder: Path) -> None:
        """Upload ``folder`` as ``key``'s artifact ``name`` (replacing an earlier upload)."""
        manifest = self._path(key, f"{name}.json")
        if self.fs.exists(manifest):
            self.fs.rm(manifest)
        dest = self._path(key, name)
        files = {str(f.relative_to(folder)): f.stat().st_size
                 for f in sorted(folder.rglob("*")) if f.is_file()}
        for rel in files:
            target = f"{dest}/{rel}"
            self.fs.makedirs(target.rpartition("/")[0], exist_ok=True)
            self.fs.put_file(str(folder / rel), target)
        self.fs.makedirs(manifest.rpartition("/")[0], exist_ok=True)
        self.fs.pipe_file(manifest, json.dumps(files, sort_keys=True).encode())

    def get(self, key: str, name: str, folder: Path) -> bool:
        """Download ``key``'s artifact ``name`` into ``folder`` unless a complete copy is there
        already (the node ran the cell itself, or an earlier cell fetched it); False if the
        store has no complete upload."""
        manifest = self._path(key, f"{name}.json")
        if not self.fs.exists(manifest):
            return False
        files: dict[str, int] = json.loads(self.fs.cat_file(manifest))
        if all((folder / rel).is_file() and (folder / rel).stat().st_size == size
               for rel, size in files.items()):
            return True
        tmp = folder.parent / f".{folder.name}.download-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        for rel in files:
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            self.fs.get_file(self._path(key, name, rel), str(tmp / rel))
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(tmp, folder)
        return True
