"""A study's unit of work: a cell, its typed parameters, and the hash that identifies it.

A cell's key hashes everything that determines its result: its kind, the identity part of its
parameters, its data files by role, the model's identity and the crossling version. Each kind
(`crossling.experiments.kinds`) defines its parameters as a frozen dataclass whose
``identity()`` and ``to_dict()`` give exactly the dicts that are hashed and stored.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from crossling.core import version
from crossling.core.provenance import model_identity, sha256_file
from crossling.data.resolve import resolve_ud
from crossling.results import ScoreRow, SimilarityRow

Rows = list[SimilarityRow] | list[ScoreRow] | list[SimilarityRow | ScoreRow]
Outcome = tuple[Rows, dict[str, Any]]
"""What a cell returns: its rows and its provenance."""

DataRoles = Mapping[str, Path | list[Path] | Mapping[str, Path]]
"""A cell's data files by role (``train``, ``dev``, ``test``, ``eval``, ``languages``, ...):
a file, a list of files in their order, or files by language."""

P = TypeVar("P", bound="CellParams")


class CellParams:
    """Base of a kind's typed parameters (a frozen dataclass)."""

    def to_dict(self) -> dict[str, Any]:
        """Everything the cell's runner needs, as stored in the results store."""
        return asdict(self)  # type: ignore[call-overload]

    def identity(self) -> dict[str, Any]:
        """The part of `to_dict` that determines the result (hashed into the key)."""
        return self.to_dict()

    def label(self) -> str:
        """One line naming the cell in listings and errors."""
        return type(self).__name__

    def cost(self) -> float:
        """Rough cost in sentence passes (forward-pass equivalents)."""
        return 0.0

    def output_read(self: P) -> P:
        """These parameters when a later cell reads this cell's output (its folder)."""
        return self


@dataclass(frozen=True)
class Cell:
    """One unit of work, identified by the hash of what determines its result. ``depends_on``:
    cells that must finish first; ``reads``: those of them whose output folder it reads."""

    key: str
    kind: str
    params: CellParams
    depends_on: tuple[str, ...] = ()
    reads: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return self.params.label()


class CellKind(Protocol):
    """One kind of cell: a module of `crossling.experiments.kinds` (or a test's fake)."""

    KIND: str

    def expand(self, study: Any, grid: Grid) -> list[Cell]:
        """The kind's cells of ``study``; ``grid.cells`` holds those of the kinds before it."""
        ...

    def run(self, params: Any, workdir: Path) -> Outcome:
        """Compute one cell in ``workdir`` (its own folder; siblings are other cells')."""
        ...


@dataclass
class Grid:
    """What every kind's expansion shares: the data folders, the model's identity and the
    cells expanded so far (a kind finds the cells it depends on there)."""

    ud: Path
    ner: Path | None
    model_id: str
    cells: list[Cell]

    def key(self, kind: str, params: CellParams, files: DataRoles) -> str:
        return cell_key(kind, params.identity(), files, self.model_id)

    def of_kind(self, kind: str) -> list[Cell]:
        return [c for c in self.cells if c.kind == kind]


def model_key(model: str) -> str:
    """Hub name, or for a local folder every file's checksum (config, tokenizer and weights:
    what ``crossling finetune``'s manifest uses)."""
    files = model_identity(model)
    if files is None:
        return model
    return json.dumps({"local": Path(model).name, "files": files}, sort_keys=True)


def _checksums(files: DataRoles) -> dict[str, Any]:
    """The SHA-256 of each file, keeping its role, its position and its language: moving a
    file from ``train`` to ``dev`` or swapping two languages' files changes the result."""
    out: dict[str, Any] = {}
    for role, value in files.items():
        if isinstance(value, Path):
            out[role] = sha256_file(value)
        elif isinstance(value, Mapping):
            out[role] = {lang: sha256_file(f) for lang, f in value.items()}
        else:
            out[role] = [sha256_file(f) for f in value]
    return out


def cell_key(kind: str, identity: Mapping[str, Any], files: DataRoles, model_id: str) -> str:
    """The content hash of a cell: its kind and settings, its data files by role, the model's
    identity and the crossling version (another version's result is never silently reused)."""
    blob = json.dumps({"kind": kind, "params": identity, "model": model_id,
                       "crossling": version.__version__, "data": _checksums(files)},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def pud_roles(ud: Path, source: str, languages: list[str]) -> DataRoles:
    """The PUD files of a similarity or retrieval cell, the source's and each target's."""
    return {"source": resolve_ud(ud, source),
            "languages": {lang: resolve_ud(ud, lang) for lang in languages}}


def vector_cache(workdir: Path) -> Path:
    """The sentence-vector cache shared by a study's cells: ``vectors`` beside the cells'
    folders. Entries are keyed by content and written atomically, so the ``similarity`` and
    ``retrieval`` cells of one model encode each language once between them."""
    return workdir.parent / "vectors"
