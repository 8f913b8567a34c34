"""Run-folder manifests: a folder's results are only ever reused by the run that made them.

A resumable run reuses what it finds in its output folder (finished scores, checkpoints). Without
a record of what produced those files, a rerun with another task, model, seed or recipe in the
same folder silently returns or resumes the *old* run. So every run folder carries
``manifest.json``, written atomically before anything else::

    {"crossling_manifest": 1, "kind": "finetune", "key": "<sha256>", "settings": {...}}

``settings`` is everything that determines the result (JSON values only) and ``key`` the SHA-256
of its canonical JSON. `claim_folder` compares a folder's manifest with the settings of the
run about to start: the same settings resume (or return) it, different ones are a one-line
`ConfigError` naming the folder and the settings that differ, unless ``overwrite``.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import shutil
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from crossling.core.atomic import TEMP_MARK, remove_stale_temps, write_json
from crossling.core.errors import ConfigError, SettingError
from crossling.core.provenance import sha256_file

MANIFEST = "manifest.json"
FORMAT = 1


def canonical(settings: Mapping[str, Any]) -> str:
    """``settings`` as canonical JSON (sorted keys, no spaces), what `settings_key` hashes."""
    return json.dumps(settings, sort_keys=True, separators=(",", ":"), default=str)


def settings_key(settings: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of ``settings``."""
    return hashlib.sha256(canonical(settings).encode("utf-8")).hexdigest()


def make_manifest(kind: str, settings: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest record of a run of ``kind`` with ``settings`` (JSON round-tripped)."""
    plain = json.loads(canonical(settings))
    return {"crossling_manifest": FORMAT, "kind": kind, "key": settings_key(plain),
            "settings": plain}


def read_manifest(folder: str | Path) -> dict[str, Any] | None:
    """The manifest of ``folder``, or None if it has none; a damaged one is a ConfigError."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: unreadable manifest ({exc}); use --overwrite to start the "
                          "run afresh") from None
    if not isinstance(record, dict) or "key" not in record:
        raise ConfigError(f"{path}: not a crossling manifest; use --overwrite to start afresh")
    return record


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: value}


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """``setting (old -> new)`` for each (dotted) setting that differs, sorted by name."""
    a, b = _flatten(dict(old)), _flatten(dict(new))
    return [f"{k} ({_short(a.get(k))} -> {_short(b.get(k))})"
            for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


def _wipe(folder: Path, known: Iterable[str]) -> None:
    """Remove a previous run's outputs from ``folder`` for a fresh run: the manifest, the names
    in ``known`` and crossling temporaries. Anything else (a user's ``notes.txt``, an
    ``analysis/`` folder) stays; a folder holding such files and no manifest is refused."""
    entries = list(folder.iterdir())
    names = {p.name for p in entries}
    ours = {MANIFEST, *known}
    # ".<known>.*": temporaries of crossling versions before pid-named ones
    foreign = [n for n in names - ours if not n.startswith(TEMP_MARK)
               and not any(n.startswith(f".{k}.") for k in ours)]
    if MANIFEST not in names and foreign:
        raise ConfigError(f"{folder}: not a crossling run folder (holds {sorted(foreign)[0]!r}, "
                          "no manifest.json); refusing to delete it, choose another output "
                          "folder")
    for p in entries:
        if p.name in foreign:
            continue
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        else:
            p.unlink()


def check_folder(folder: str | Path, manifest: Mapping[str, Any],
                 overwrite: bool = False) -> bool:
    """True if ``folder`` holds the run of ``manifest`` (resume it); False if it is new/empty.

    A folder holding anything else is a ConfigError naming it and the settings that differ
    (or saying it has no manifest), unless ``overwrite``. Changes nothing: call it before any
    expensive work, and `claim_folder` when the run is about to write.
    """
    out = Path(folder)
    if not out.is_dir() or overwrite:
        return False
    old = read_manifest(out)
    if old is not None and old.get("key") == manifest["key"] \
            and old.get("kind") == manifest["kind"]:
        return True
    names = [p.name for p in out.iterdir() if not p.name.startswith(TEMP_MARK)]
    if not names:
        return False
    if old is None:
        what = "holds files but no manifest.json (an older crossling or another program " \
               "wrote them)"
    else:
        diff = differences({"kind": old.get("kind"), **old.get("settings", {})},
                           {"kind": manifest["kind"], **manifest["settings"]})
        what = "holds a different run: " + ("; ".join(diff) or "unknown settings")
    raise ConfigError(f"{out}: {what}; use --overwrite (overwrite=True) to replace it, or "
                      "another output folder")


def claim_folder(folder: str | Path, manifest: Mapping[str, Any], overwrite: bool = False,
                 known: Iterable[str] = ()) -> bool:
    """Make ``folder`` the home of the run described by ``manifest``; True if it resumes.

    - the same manifest: stale temporaries of killed writers are removed, True (the caller
      returns finished results or resumes from its checkpoints);
    - no folder, or an empty one: created, the manifest written (atomically, before anything
      else of the run), False;
    - a different manifest, or files without one: the ConfigError of `check_folder`.
      With ``overwrite`` the previous run's files are removed and the folder claimed afresh
      (False). ``known`` lists the names a run of this kind writes: only those (and the
      manifest) are removed, other files stay, and a folder without a manifest is refused if
      it holds anything else, so a mistyped output path cannot delete unrelated files.
    """
    out = Path(folder)
    if out.is_dir():
        remove_stale_temps(out)
        if check_folder(out, manifest, overwrite):
            return True
        if any(out.iterdir()):
            _wipe(out, known)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / MANIFEST, dict(manifest))
    return False


# --- owned outputs: a command overwrites only files crossling wrote --------------------------

OUTPUTS = ".crossling-outputs.json"
"""The record, in an output folder, of the files crossling wrote there: for each name, the
size and SHA-256 it had when written, so that a file the user edited or replaced since then is
not taken for crossling's own. Content, not modification times: a committed report folder stays
crossling's after a fresh clone, and a report redrawn from the same rows writes the same record."""


def _record(folder: Path) -> dict[str, list[Any] | None]:
    path = folder / OUTPUTS
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: unreadable record of crossling's outputs ({exc}); delete "
                          "it and the outputs it listed, or choose another output folder") \
            from None
    if not isinstance(record, dict):
        raise ConfigError(f"{path}: not a record of crossling's outputs; delete it and the "
                          "outputs it listed, or choose another output folder")
    return {str(k): v if isinstance(v, list) else None for k, v in record.items()}


def _stamp(path: Path) -> list[Any] | None:
    """Size and SHA-256 of a file (None for a folder: owned as a whole)."""
    if path.is_dir():
        return None
    return [path.lstat().st_size, sha256_file(path)]


def owned_outputs(folder: str | Path) -> set[str]:
    """Names of the files in ``folder`` that crossling wrote and nobody changed since."""
    out = Path(folder)
    return _owned(out, _record(out))


def _owned(out: Path, record: Mapping[str, list[Any] | None]) -> set[str]:
    return {name for name, stamp in record.items()
            if (out / name).exists() and (stamp is None or _stamp(out / name) == stamp)}


def check_outputs(folder: str | Path, patterns: Iterable[str], option: str = "out") -> None:
    """Raise a one-line ConfigError if ``folder`` holds a file that a command writing
    ``patterns`` (names or ``fnmatch`` patterns) would replace and that crossling did not write
    (or that was changed since it did).

    Call it before any work: a user's own ``README.md`` or ``notes.csv`` in an output folder is
    never overwritten. Files listed, unchanged, in the folder's record (`OUTPUTS`) are
    crossling's.
    """
    out = Path(folder)
    if not out.is_dir():
        return
    pats = list(patterns)
    record = _record(out)
    owned = _owned(out, record)
    for p in sorted(out.iterdir()):
        if p.name in owned or p.name.startswith(TEMP_MARK) or p.name == OUTPUTS:
            continue
        if any(fnmatch.fnmatchcase(p.name, pat) for pat in pats):
            why = "was changed since crossling wrote it" if p.name in record else \
                "exists and was not written by crossling"
            raise SettingError(option, f"{out}: {p} {why}; refusing to overwrite it (move "
                              "it, or choose another output folder)")


def _listing(folder: Path) -> dict[str, tuple[int, int, int]]:
    if not folder.is_dir():
        return {}
    out = {}
    for p in folder.iterdir():
        try:
            st = p.lstat()
        except OSError:
            continue
        out[p.name] = (st.st_ino, st.st_size, st.st_mtime_ns)
    return out


@contextmanager
def writing_outputs(folder: str | Path, patterns: Iterable[str],
                    option: str = "out") -> Iterator[Path]:
    """Check ``folder`` (`check_outputs`), let the caller write, then add every file the
    block created or replaced to the folder's record, even when the block fails part-way."""
    out = Path(folder)
    check_outputs(out, patterns, option)
    before = _listing(out)
    try:
        yield out
    finally:
        after = _listing(out)
        new = {n for n, st in after.items() if before.get(n) != st and n != OUTPUTS
               and not n.startswith(TEMP_MARK)}
        if new:
            record = {n: v for n, v in _record(out).items() if (out / n).exists()}
            record.update({n: _stamp(out / n) for n in new})
            write_json(out / OUTPUTS, record)
