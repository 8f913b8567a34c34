"""The results store: one SQLite database (WAL) holding a study's cells, rows and provenance.

A cell's rows and its ``done`` status are committed in one transaction; claims are single
conditional updates, so two workers never run one cell, and a dead worker's cell (its process
gone, or its heartbeat older than ``stale_after``) is claimed again. Row tables have one JSON
TEXT column per row field; a store lacking a newer field's column gets it on open (unless
read-only). A path that is not a results store is refused with one line before anything is
written; an empty file is a new store (SQLite's convention). Guarantees: docs/studies.md.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from crossling.core.atomic import disk_full
from crossling.core.errors import ConfigError
from crossling.results import (
    SCORE_RECORD,
    SIMILARITY_RECORD,
    ScoreRow,
    SentenceCounts,
    SimilarityRow,
    pack_values,
    unpack_values,
)

_SCORE_COLS = list(SCORE_RECORD)
_SIM_COLS = list(SIMILARITY_RECORD)

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS cells (
    key TEXT PRIMARY KEY, study TEXT NOT NULL, kind TEXT NOT NULL, label TEXT NOT NULL,
    params TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'pending', error TEXT,
    worker TEXT, heartbeat REAL, started REAL, finished REAL, attempts INTEGER DEFAULT 0,
    provenance TEXT
);
CREATE TABLE IF NOT EXISTS scores (cell TEXT NOT NULL REFERENCES cells(key),
    {", ".join(c + " TEXT" for c in _SCORE_COLS)});
CREATE TABLE IF NOT EXISTS similarity (cell TEXT NOT NULL REFERENCES cells(key),
    {", ".join(c + " TEXT" for c in _SIM_COLS)});
CREATE TABLE IF NOT EXISTS sentences (cell TEXT NOT NULL REFERENCES cells(key),
    language TEXT NOT NULL, metric TEXT NOT NULL, scale REAL NOT NULL, num TEXT NOT NULL,
    den TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS scores_cell ON scores(cell);
CREATE INDEX IF NOT EXISTS sentences_cell ON sentences(cell);
CREATE INDEX IF NOT EXISTS similarity_cell ON similarity(cell);
"""

STATUSES = ("pending", "running", "done", "failed")

_SQLITE_MAGIC = b"SQLite format 3\x00"  # the first 16 bytes of every SQLite 3 database file


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(worker: str | None) -> bool:
    """False only when ``worker`` ran on this host and its process is gone."""
    if not worker:
        return False
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _encode(row: SimilarityRow | ScoreRow) -> list[Any]:
    d = row.record()
    d["provenance"] = json.dumps(d["provenance"], sort_keys=True, default=str)
    return [json.dumps(d[k]) if k != "provenance" else d[k] for k in d]


def _decode(cls: type[ScoreRow] | type[SimilarityRow], cols: Sequence[str],
            values: Sequence[Any]) -> Any:
    """A row from its columns; NULL (a column added after the row was stored) -> the default."""
    return cls.from_record({k: json.loads(v) for k, v in zip(cols, values, strict=True)
                            if v is not None})


_ROW_TABLES = {"scores": _SCORE_COLS, "similarity": _SIM_COLS}


def _columns(con: sqlite3.Connection, table: str) -> list[str]:
    return [str(r[1]) for r in con.execute(f"PRAGMA table_info({table})")]


def _add_missing_columns(con: sqlite3.Connection) -> None:
    """Give the row tables of a store made by an older version the columns of fields added
    since (in one transaction: two processes opening the same old store add each once)."""
    con.execute("BEGIN IMMEDIATE")
    try:
        for table, cols in _ROW_TABLES.items():
            have = set(_columns(con, table))
            for c in cols:
                if c not in have:
                    con.execute(f"ALTER TABLE {table} ADD COLUMN {c} TEXT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def check_store_file(path: Path, readonly: bool = False) -> bool:
    """Refuse, before SQLite touches it, a path that cannot be a results store (one-line
    ConfigError naming it). Cheap, so the CLI calls it before any work. Returns whether a
    read-only store must be opened as immutable: a WAL database can be opened read-only only if
    its ``-shm`` file can be created, which a read-only folder forbids; such a store is read as
    an immutable snapshot (a reader without write access cannot take part in WAL locking)."""
    if path.is_dir():
        raise ConfigError(f"{path}: a folder, not a results store file")
    if not path.exists():
        if readonly:
            raise ConfigError(f"{path}: no results store")
        return False
    try:
        with path.open("rb") as fh:
            head = fh.read(len(_SQLITE_MAGIC))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the results store ({exc.strerror})") from None
    if not head:
        if readonly:
            raise ConfigError(f"{path}: empty file (0 bytes), not a results store")
        return False  # SQLite's own convention: an empty file is a new database
    if head != _SQLITE_MAGIC:
        raise ConfigError(f"{path}: not an SQLite database, so not a results store"
                          + ("" if readonly else "; refusing to overwrite it"))
    return readonly and not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK))


class ResultStore:
    """A study's cells, score rows and similarity rows in SQLite."""

    def __init__(self, path: str | Path, stale_after: float = 3600.0,
                 readonly: bool = False) -> None:
        self.path = Path(path)
        self.stale_after = stale_after
        self.readonly = readonly
        self._immutable = check_store_file(self.path, readonly)
        if not readonly:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with self._connect() as con:
                tables = {r[0] for r in con.execute(
                    "SELECT name FROM sqlite_master WHERE type='table'")}
                if "cells" not in tables and (tables or readonly):
                    raise ConfigError(f"{self.path}: an SQLite database but not a crossling "
                                      "results store (no cells table)")
                if not readonly:
                    con.execute("PRAGMA journal_mode=WAL")
                    con.executescript(_SCHEMA)
                    _add_missing_columns(con)
        except sqlite3.DatabaseError as exc:
            raise ConfigError(f"{self.path}: not a usable results store ({exc})") from None

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        if self.readonly:  # never creates, never writes: a report cannot damage the store
            uri = self.path.resolve().as_uri() + ("?immutable=1" if self._immutable
                                                   else "?mode=ro")
            con = sqlite3.connect(uri, uri=True, timeout=60.0, isolation_level=None)
        else:
            con = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
        try:
            con.execute("PRAGMA busy_timeout=60000")
            con.execute("PRAGMA synchronous=NORMAL")
            yield con
        except sqlite3.OperationalError as exc:  # the transaction rolled back: store intact
            if "disk is full" in str(exc):
                raise disk_full(self.path) from exc
            raise
        finally:
            con.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                if con.in_transaction:  # SQLite already rolled back after "disk is full"
                    con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    # -- cells ---------------------------------------------------------------------------------
    def add_cells(self, study: str, cells: Sequence[Any]) -> None:
        """Register cells (``Cell`` objects, their parameters as JSON); existing keys keep their
        status and rows."""
        with self._transaction() as con:
            con.executemany(
                "INSERT OR IGNORE INTO cells(key, study, kind, label, params) VALUES (?,?,?,?,?)",
                [(c.key, study, c.kind, c.label,
                  json.dumps(c.params.to_dict(), sort_keys=True, default=str)) for c in cells])

    def status(self, key: str) -> str | None:
        with self._connect() as con:
            row = con.execute("SELECT status FROM cells WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def statuses(self, keys: Collection[str]) -> dict[str, str]:
        """The status of each of ``keys`` the store knows, in one read per 500 keys."""
        wanted = sorted(set(keys))
        out: dict[str, str] = {}
        with self._connect() as con:
            for i in range(0, len(wanted), 500):
                part = wanted[i:i + 500]
                out.update((str(k), str(s)) for k, s in con.execute(
                    f"SELECT key, status FROM cells WHERE key IN ({','.join('?' * len(part))})",
                    part))
        return out

    def claim(self, key: str, retry_failed: bool = False) -> bool:
        """Atomically mark ``key`` running for this worker; False if it is done or taken."""
        now = time.time()
        me = worker_id()
        with self._transaction() as con:
            row = con.execute("SELECT status, worker, heartbeat FROM cells WHERE key=?",
                              (key,)).fetchone()
            if row is None:
                raise KeyError(key)
            status, worker, beat = row
            claimable = status == "pending" or (status == "failed" and retry_failed) or (
                status == "running" and not self._live_claim(worker, beat, now))
            if not claimable:
                return False
            con.execute("UPDATE cells SET status='running', worker=?, heartbeat=?, started=?, "
                        "attempts=attempts+1, error=NULL WHERE key=?", (me, now, now, key))
            return True

    def held_elsewhere(self, key: str) -> bool:
        """True while another live worker runs ``key`` (its claim is neither stale nor dead), so a
        second ``crossling run`` on the same store waits for it instead of giving up."""
        with self._connect() as con:
            row = con.execute("SELECT status, worker, heartbeat FROM cells WHERE key=?",
                              (key,)).fetchone()
        if row is None or row[0] != "running" or row[1] == worker_id():
            return False
        return self._live_claim(row[1], row[2], time.time())

    def _live_claim(self, worker: str | None, beat: float | None, now: float) -> bool:
        """A running cell's claim still holds: its worker is alive and beat within
        ``stale_after`` (otherwise `claim` may take the cell over)."""
        return _alive(worker) and (beat or 0) >= now - self.stale_after

    def heartbeat(self, key: str) -> bool:
        """Renew this worker's claim of a running cell; False if the cell is not (or no longer)
        claimed by this worker. Executors call it while a cell runs (``executors.Heartbeat``)."""
        with self._transaction() as con:
            cur = con.execute("UPDATE cells SET heartbeat=? WHERE key=? AND worker=? AND "
                              "status='running'", (time.time(), key, worker_id()))
            return cur.rowcount > 0

    def finish(self, key: str, rows: Sequence[SimilarityRow | ScoreRow],
               provenance: dict[str, Any]) -> None:
        """Store a cell's rows (and the per-sentence counts its score rows carry) and mark it
        done, in one transaction (all or nothing)."""
        with self._transaction() as con:
            for table in ("scores", "similarity", "sentences"):
                con.execute(f"DELETE FROM {table} WHERE cell=?", (key,))
            con.executemany(
                "INSERT INTO sentences (cell, language, metric, scale, num, den) VALUES "
                "(?,?,?,?,?,?)",
                [(key, r.language, r.metric, r.sentences.scale, pack_values(r.sentences.num),
                  pack_values(r.sentences.den)) for r in rows
                 if isinstance(r, ScoreRow) and r.sentences is not None])
            scores = [[key, *_encode(r)] for r in rows if isinstance(r, ScoreRow)]
            sims = [[key, *_encode(r)] for r in rows if isinstance(r, SimilarityRow)]
            for table, data in (("scores", scores), ("similarity", sims)):
                if data:
                    cols = ["cell", *_ROW_TABLES[table]]  # by name: old stores differ in order
                    con.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES "
                                    f"({','.join('?' * len(cols))})", data)
            con.execute("UPDATE cells SET status='done', finished=?, provenance=? WHERE key=?",
                        (time.time(), json.dumps(provenance, sort_keys=True, default=str), key))

    def reopen(self, key: str) -> bool:
        """Make a finished cell pending again (its rows stay until it finishes anew, when
        `finish` replaces them); False if it was not done."""
        with self._transaction() as con:
            cur = con.execute("UPDATE cells SET status='pending', finished=NULL WHERE key=? AND "
                              "status='done'", (key,))
            return cur.rowcount > 0

    def fail(self, key: str, error: str) -> None:
        with self._transaction() as con:
            con.execute("UPDATE cells SET status='failed', error=?, finished=? WHERE key=?",
                        (error, time.time(), key))

    def cells(self, study: str | None = None) -> list[dict[str, Any]]:
        """Every cell as a dict (key, kind, label, params, status, error, attempts, times)."""
        q = "SELECT key, study, kind, label, params, status, error, attempts, started, " \
            "finished, provenance FROM cells"
        args: tuple[Any, ...] = ()
        if study is not None:
            q += " WHERE study=?"
            args = (study,)
        with self._connect() as con:
            out = []
            for r in con.execute(q + " ORDER BY rowid", args):
                out.append({"key": r[0], "study": r[1], "kind": r[2], "label": r[3],
                            "params": json.loads(r[4]), "status": r[5], "error": r[6],
                            "attempts": r[7], "started": r[8], "finished": r[9],
                            "provenance": json.loads(r[10]) if r[10] else None})
        return out

    def provenance(self, key: str) -> dict[str, Any] | None:
        with self._connect() as con:
            row = con.execute("SELECT provenance FROM cells WHERE key=?", (key,)).fetchone()
        return json.loads(row[0]) if row and row[0] else None

    # -- rows ----------------------------------------------------------------------------------
    def _rows(self, table: str, cls: type[ScoreRow] | type[SimilarityRow], cols: list[str],
              study: str | None, keys: Collection[str] | None) -> list[tuple[str, Any]]:
        """(cell, row) of every row of finished cells."""
        args: tuple[Any, ...] = ()
        with self._connect() as con:
            have = set(_columns(con, table))  # a read-only old store lacks newer fields
            cols = [c for c in cols if c in have]
            q = f"SELECT t.cell, {', '.join('t.' + c for c in cols)} FROM {table} t JOIN " \
                "cells c ON c.key = t.cell WHERE c.status='done'"
            if study is not None:
                q += " AND c.study=?"
                args = (study,)
            return [(str(r[0]), _decode(cls, cols, r[1:]))
                    for r in con.execute(q + " ORDER BY t.rowid", args)
                    if keys is None or r[0] in keys]

    def score_rows(self, study: str | None = None, keys: Collection[str] | None = None,
                   sentences: bool = False) -> list[ScoreRow]:
        """Rows of finished cells (of ``study``; of the cells ``keys`` only, when given: a
        study edited since keeps its old cells in the store, and a report wants the current
        ones). With ``sentences``, each row carries its per-sentence counts where the store
        has them (none for cells stored before they were kept)."""
        rows = self._rows("scores", ScoreRow, _SCORE_COLS, study, keys)
        if not sentences:
            return [row for _, row in rows]
        counts = self._sentence_counts({cell for cell, _ in rows})
        return [replace(row, sentences=counts[(cell, row.language, row.metric)])
                if (cell, row.language, row.metric) in counts else row for cell, row in rows]

    def _sentence_counts(self, cells: Collection[str],
                         ) -> dict[tuple[str, str, str], SentenceCounts]:
        """The stored counts of ``cells`` by (cell, language, metric)."""
        with self._connect() as con:
            if "sentences" not in {r[0] for r in con.execute(
                    "SELECT name FROM sqlite_master WHERE type='table'")}:
                return {}  # a read-only store of an older version
            return {(cell, lang, metric): SentenceCounts(unpack_values(num),
                                                         unpack_values(den), float(scale))
                    for cell, lang, metric, scale, num, den in con.execute(
                        "SELECT cell, language, metric, scale, num, den FROM sentences "
                        "ORDER BY rowid") if cell in cells}

    def similarity_rows(self, study: str | None = None,
                        keys: Collection[str] | None = None) -> list[SimilarityRow]:
        return [row for _, row in self._rows("similarity", SimilarityRow, _SIM_COLS, study,
                                             keys)]
